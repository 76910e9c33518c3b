"""The README's "What if" commands work as printed, run by bash against a live server."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from tests.reliability.conftest import live_server

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def block(heading: str) -> str:
    """The first ``sh`` block under ``heading``."""
    section = README.split(f"\n## {heading}\n", 1)[1]
    return section.split("```sh\n", 1)[1].split("```", 1)[0]


def test_the_what_if_commands_answer_as_documented(tmp_path):
    try_it = "\n".join(
        line for line in block("Try it").splitlines() if "dla.json" in line and "examples/dla-2025" in line
    )
    what_if = block("What if")
    assert what_if.count("curl ") == 4
    script = (try_it + "\n" + re.sub(r"^(curl .*)$", r"\1 && echo", what_if, flags=re.MULTILINE)).strip()
    with live_server(workers=1, dask_workers=1) as server:
        server.wait_ready()
        script = script.replace("localhost:8000", server.url.removeprefix("http://"))
        run = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            check=False,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
        )
    assert run.returncode == 0, run.stderr
    applied, comparison, frontier, costs = (json.loads(line) for line in run.stdout.splitlines() if line.strip())
    assert "CN" in applied["policy"]["excluded_countries"]
    assert [s["name"] for s in comparison["scenarios"]] == ["base", "no-chinese-indium", "no-tariff", "plus-100m"]
    assert len(frontier["points"]) == 21 and frontier["knees"]
    assert {r["rule"] for r in costs["rules"]} >= {"tariffs.CN", "country_caps[0]"}
