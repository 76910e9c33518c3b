"""The engine's folders follow a request's way, and only its public API is used from outside.

Every ``.py`` file is parsed (not imported):

* inside ``solvers/``, a step imports only the steps before it (prepare, build, solve, answer,
  report), and ``tuning``, ``budget``, ``errors`` and ``trace``, which every step reads, import no step at
  run time (a type-only import under ``if TYPE_CHECKING`` is not one);
* outside ``solvers/`` (the tests of the engine itself aside), ``solvers`` is imported only as
  the package, by names it lists in ``solvers.__all__``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import solvers

ROOT = Path(__file__).resolve().parents[2]
STEPS = {"prepare": 1, "build": 2, "solve": 3, "answer": 4, "report": 5}
READ_BY_EVERY_STEP = {"solvers.tuning", "solvers.budget", "solvers.errors", "solvers.trace"}
# A mineral's own MIP is solved as a request of its own, by ``allocate`` (called, not imported, at load).
CALLS_BACK = {("solvers.solve.heuristic", "solvers.engine")}
OUTSIDE = ("service", "analyses", "bench", "models", "tests")


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _level(module: str) -> int:
    """0: read by every step; 1 to 5: a step; 6: what runs the steps (the package's top)."""
    parts = module.split(".")
    if module in READ_BY_EVERY_STEP:
        return 0
    if len(parts) > 1 and parts[1] in STEPS:
        return STEPS[parts[1]]
    return 6


def _type_only(tree: ast.AST) -> set[ast.AST]:
    found: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            found.update(ast.walk(node))
    return found


def _solvers_imports(tree: ast.AST) -> list[tuple[int, str, list[str]]]:
    """(line, module, names) of every import of ``solvers`` or below, type-only ones left out."""
    skip = _type_only(tree)
    out = []
    for node in ast.walk(tree):
        if node in skip:
            continue
        if (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and node.module
            and node.module.split(".")[0] == "solvers"
        ):
            out.append((node.lineno, node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name, []) for a in node.names if a.name.split(".")[0] == "solvers"]
    return out


def _engine_files() -> list[Path]:
    return sorted((ROOT / "solvers").rglob("*.py"))


@pytest.mark.parametrize("path", _engine_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_step_imports_only_the_steps_before_it(path: Path) -> None:
    here = _module(path)
    if here == "solvers":
        return  # the public API gathers every step
    wrong = []
    for line, module, names in _solvers_imports(ast.parse(path.read_text())):
        targets = [f"{module}.{n}" for n in names if (ROOT / module.replace(".", "/") / f"{n}.py").exists()] or [module]
        for target in targets:
            if (here, target) in CALLS_BACK or target == "solvers":
                continue
            if _level(target) > _level(here) or (_level(here) == 0 and _level(target) > 0):
                wrong.append(f"line {line}: {target}")
    assert not wrong, f"{here} imports a later step: {wrong}"


def _outside_files() -> list[Path]:
    files = [path for top in OUTSIDE for path in sorted((ROOT / top).rglob("*.py"))]
    own = ROOT / "tests" / "solvers"
    # the engine's test fakes, and tests that take the engine's price rule as their oracle
    shared = {ROOT / "tests" / name for name in ("fakes.py", "brute_force.py", "bench/test_contract.py")}
    return [p for p in files if own not in p.parents and p not in shared and ".venv" not in p.parts]


@pytest.mark.parametrize("path", _outside_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_outside_the_engine_only_its_public_names_are_imported(path: Path) -> None:
    public = set(solvers.__all__)
    wrong = [
        f"line {line}: {module} {names}"
        for line, module, names in _solvers_imports(ast.parse(path.read_text()))
        if module != "solvers" or not set(names) <= public
    ]
    assert not wrong, f"{path.relative_to(ROOT)} reaches inside the engine: {wrong}"


@pytest.mark.parametrize(
    ("source", "where", "bad"),
    [
        ("from solvers.engine import _Seed", "bench/x.py", True),
        ("from solvers.build.program import create_model", "service/x.py", True),
        ("import solvers.report.result", "analyses/x.py", True),
        ("from solvers import allocate, EngineTuning", "service/x.py", False),
        ("from solvers import _hidden", "bench/x.py", True),
    ],
)
def test_the_outside_scan_sees_a_reach_inside(source: str, where: str, bad: bool) -> None:
    public = set(solvers.__all__)
    found = [m for _, m, names in _solvers_imports(ast.parse(source)) if m != "solvers" or not set(names) <= public]
    assert bool(found) is bad


def test_the_step_levels_order_the_pipeline() -> None:
    order = ["solvers.tuning", "solvers.prepare.instance", "solvers.build.program", "solvers.solve.highs"]
    order += ["solvers.answer.extract", "solvers.report.check", "solvers.engine"]
    assert [_level(m) for m in order] == sorted(_level(m) for m in order) == [0, 1, 2, 3, 4, 5, 6]
