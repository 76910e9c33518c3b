"""The stockpile command line, run as a user runs it (a real subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from models import AllocationRequest, AllocationResult
from service import examples
from solvers import check_result

STOCKPILE = [sys.executable, "-m", "service.cli"]


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*STOCKPILE, *args], input=stdin, capture_output=True, text=True, timeout=120, check=False)


def test_solve_example_prints_a_readable_table():
    done = run("solve", "--example", "dla-2025")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("status: optimal")
    for header in ("offer", "supplier", "mineral", "coverage", "by country"):
        assert header in done.stdout
    assert "Rio Tinto" in done.stdout


def test_solve_json_from_stdin_is_pure_json_and_sound():
    body = json.dumps(examples.catalogue()["dla-2025"]["request"])
    done = run("solve", "-", "--json", stdin=body)
    assert done.returncode == 0, done.stderr
    result = AllocationResult.model_validate_json(done.stdout)  # nothing but JSON on stdout
    assert check_result(AllocationRequest.model_validate_json(body), result) == []


def test_invalid_request_lists_problems_and_exits_2(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"budget": -1, "minerals": [{"id": "co", "target": 1}], "suppliers": []}))
    done = run("solve", str(path))
    assert done.returncode == 2
    assert "budget: must be > 0" in done.stderr
    assert "suppliers: needs at least 1 item" in done.stderr


def test_infeasible_request_exits_3_with_the_reason(tmp_path):
    path = tmp_path / "short.json"
    path.write_text(
        json.dumps(
            {
                "budget": 1e9,
                "minerals": [{"id": "in", "name": "indium", "target": 222, "min_quantity": 222}],
                "suppliers": [{"id": "kr", "mineral": "in", "country": "KR", "capacity": 150, "unit_price": 380_000}],
            }
        )
    )
    done = run("solve", str(path))
    assert done.returncode == 3
    assert "status: infeasible" in done.stdout
    assert "indium's min_quantity 222 t cannot be met" in done.stdout


@pytest.mark.parametrize("args", [("solve",), ("solve", "/no/such/file.json")])
def test_missing_input_is_a_clear_error(args):
    done = run(*args)
    assert done.returncode == 2
    assert done.stderr.strip()


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (("template", "/no/such/dir/t.xlsx"), {}, "cannot write /no/such/dir/t.xlsx"),
        (("solve", "--example", "dla-2025", "-o", "/no/such/dir/r.xlsx"), {}, "cannot write /no/such/dir/r.xlsx"),
        (("solve", "--example", "dla-2025", "-o", "r.txt"), {}, "give a .xlsx"),
        (("serve", "--port", "70000"), {}, "port: must be <= 65535"),
        (("serve",), {"STOCKPILE_WORKERS": "abc"}, "STOCKPILE_WORKERS"),
        (("solve", "--example", "dla-2025"), {"STOCKPILE_MAX_TIME_LIMIT_S": "abc"}, "invalid settings"),
    ],
)
def test_bad_paths_and_settings_are_messages_not_tracebacks(args, env, says):
    done = subprocess.run(
        [*STOCKPILE, *args], capture_output=True, text=True, timeout=120, check=False, env={**os.environ, **env}
    )
    assert done.returncode == 2
    assert says in done.stderr
    assert "Traceback" not in done.stderr
    assert "request is invalid" not in done.stderr  # a setting is not the request's fault


def test_a_file_that_is_not_text_is_named_as_such(tmp_path):
    path = tmp_path / "book.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(range(256)))
    done = run("solve", str(path))
    assert done.returncode == 2
    assert "is not text: give a JSON request or an .xlsx workbook" in done.stderr


def test_examples_are_listed():
    done = run("examples")
    assert done.returncode == 0
    assert done.stdout.startswith("dla-2025:")


def test_output_cut_short_by_the_reader_is_not_an_error(tmp_path):
    # `stockpile solve ... -o out.xlsx | head -2`: the workbook is still written, no traceback.
    out = tmp_path / "result.xlsx"
    done = subprocess.run(
        f"{sys.executable} -m service.cli solve --example dla-2025 -o {out} | head -2",
        shell=True,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.stdout.startswith("status: optimal")
    assert "Traceback" not in done.stderr
    assert out.stat().st_size > 0


LEFT_BEHIND = """
import threading, sys
import service.cli as cli
from solvers import TimeBudget
from solvers.solve.overrun import watched

# A HiGHS run that polls no limit: it would keep the interpreter alive at exit (never, here).
def never_ends(compiled, options, time_left, start=None, watch=None):
    threading.Event().wait()

watched(never_ends, None, None, TimeBudget.start(0.1))
cli.main = lambda argv=None: (print("the answer"), 3)[1]
cli.run()
"""


def test_the_command_exits_at_once_with_its_code_when_a_run_was_left_behind():
    # A solve that left a HiGHS run going past its limit: the answer is printed and the
    # process ends with its exit code, not when (or if) that run ends.
    done = subprocess.run([sys.executable, "-c", LEFT_BEHIND], capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout) == (3, "the answer\n"), done.stderr


def test_a_model_too_large_for_memory_is_a_clear_error(monkeypatch, capsys):
    # allocate raises MemoryError when Python or HiGHS runs out before any allocation.
    from service import cli

    def out_of_memory(request):
        raise MemoryError

    monkeypatch.setattr(cli, "allocate", out_of_memory)
    assert cli.main(["solve", "--example", "dla-2025"]) == cli.EXIT_FAILED
    err = capsys.readouterr().err
    assert "needs more memory than there is" in err and "Traceback" not in err


def test_write_model_writes_pyomos_lp_file_beside_the_solve(tmp_path):
    model = tmp_path / "model.lp"
    done = run("solve", "--example", "dla-2025", "--write-model", str(model))
    assert done.returncode == 0, done.stderr
    text = model.read_text()
    assert text.startswith("\\* Source Pyomo model") and "max_score" in text
