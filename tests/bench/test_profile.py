"""bench.profile: one engine solve's phases, HiGHS runs and memory, through the public trace hook only."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import solvers
from bench import profile

ROOT = Path(__file__).resolve().parents[2]


def test_phases_are_timed_and_the_time_outside_highs_is_the_rest(capsys: pytest.CaptureFixture[str]) -> None:
    assert profile.main(["dla-2025", "2", "--glibc-defaults"]) == 0
    out = capsys.readouterr().out
    ms = {m[1]: float(m[2]) for m in re.finditer(r"^\s+(\S[^\n]*?)\s+([\d.]+) ms$", out, re.MULTILINE)}
    for name in ("prepare", "build", "compile", "stage", "highs_run", "extract", "report", "check", "release"):
        assert name in ms, out
    assert ms["outside HiGHS"] == pytest.approx(ms["total"] - ms["highs_run"], abs=0.05)
    assert ms["highs_run"] <= ms["stage"] <= ms["total"]


def test_runs_name_each_model_of_a_guided_solve(capsys: pytest.CaptureFixture[str]) -> None:
    assert profile.main(["5x20-min_cost", "--runs", "--engine", "guide_min_integers=0", "--glibc-defaults"]) == 0
    out = capsys.readouterr().out
    kinds = re.findall(r"^\s+stage (\d)\s+at\s+[\d.]+ s\s+(\S+)\s+(\d+) columns", out, re.MULTILINE)
    assert kinds[0][:2] == ("1", "LP")
    assert ("1", "restricted") in [k[:2] for k in kinds]
    assert "allocate:" in out and "optimal" in out


def test_memory_is_read_at_each_phase_and_the_peak_given(capsys: pytest.CaptureFixture[str]) -> None:
    assert profile.main(["dla-2025", "--memory", "--interval", "0.01"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"MB\s+\(most\s+\d+\)\s+build starts", out)
    assert re.search(r"peak resident memory \(VmHWM\): \d+ MB", out)


def test_a_field_the_engine_does_not_have_is_refused() -> None:
    with pytest.raises(SystemExit):
        profile.main(["dla-2025", "--engine", "no_such_field=1"])


def test_the_profiler_uses_only_public_names_of_solvers() -> None:
    tree = ast.parse((ROOT / "bench" / "profile.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "solvers":
            assert node.module == "solvers", f"imports from {node.module}"
            assert {alias.name for alias in node.names} <= set(solvers.__all__)
        if isinstance(node, ast.Import):
            assert not any(alias.name.startswith("solvers") for alias in node.names)
