"""Pyomo's internals are reached through one module, ``solvers/build/pyomo_door.py``, and nowhere else.

Every ``.py`` file of the packages and the tests is parsed (not imported) and fails when,
outside the door:

* it imports a Pyomo module other than the public ``pyomo.environ`` and ``pyomo.opt``
  (``import pyomo.core.base.var``, ``from pyomo.repn... import ...``, ``from pyomo.core import ...``);
* it reads, writes or deletes an attribute that Pyomo's own classes keep private
  (``v._lb``, ``family._data``, ``expr._args_``), or names one as a string to
  ``attrgetter``/``getattr``/``setattr``/``hasattr``/``delattr``. The private names are
  collected from the Pyomo classes the engine uses (their slots, class attributes and an
  instance's attributes), so a name Pyomo renames or adds is covered as it comes;
  ``self._name`` counts only in a class derived from a Pyomo class (through the door), since
  other classes may have private attributes of the same name.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pyomo.environ as pyo
import pytest

ROOT = Path(__file__).resolve().parents[2]
DOOR = ROOT / "solvers" / "build" / "pyomo_door.py"
SCANNED = ("solvers", "service", "models", "analyses", "bench", "tests")
PUBLIC = {"pyomo", "pyomo.environ", "pyomo.opt"}
BY_NAME = {"attrgetter", "getattr", "setattr", "hasattr", "delattr"}


def _pyomo_private_names() -> frozenset[str]:
    model = pyo.ConcreteModel()
    model.x = pyo.Var([0, 1], bounds=(0, 1))
    model.y = pyo.Var()
    model.e = pyo.Expression(expr=model.x[0] + 1)
    model.c = pyo.Constraint([0], rule=lambda m, i: m.x[0] + 2 * m.x[1] <= 1)
    model.d = pyo.Constraint(expr=model.y == 0)
    model.o = pyo.Objective(expr=model.x[0])
    model.s = pyo.SetOf([3, 4])
    samples = [model, model.x, model.x[0], model.y, model.e, model.c, model.c[0], model.d, model.o, model.s]
    samples += [model.c[0].expr, model.c[0].body, model.c[0].body.args[1], model.d.expr]
    classes = {cls for sample in samples for cls in type(sample).__mro__ if cls.__module__.startswith("pyomo")}
    names: set[str] = set()
    for cls in classes:
        slots = cls.__dict__.get("__slots__", ())
        names.update((slots,) if isinstance(slots, str) else slots)
        names.update(cls.__dict__)
    for sample in samples:
        names.update(getattr(sample, "__dict__", {}))
    return frozenset(n for n in names if n.startswith("_") and not n.startswith("__"))


PRIVATE = _pyomo_private_names()


def _files() -> list[Path]:
    files = [path for top in SCANNED for path in sorted((ROOT / top).rglob("*.py"))]
    return [path for path in files if path != DOOR and ".venv" not in path.parts]


def _non_public_imports(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # ``from pyomo import core`` reaches a private module as much as ``import pyomo.core``
            modules = [node.module] if node.module != "pyomo" else [f"pyomo.{a.name}" for a in node.names]
        else:
            continue
        found += [f"line {node.lineno}: {m}" for m in modules if m.split(".")[0] == "pyomo" and m not in PUBLIC]
    return found


def _pyomo_classes(tree: ast.AST) -> set[ast.ClassDef]:
    """Classes of the module derived from a Pyomo class: their bases come from the door or Pyomo."""
    names, modules = set(), set()  # names bound to Pyomo's or the door's classes; to their modules
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "solvers.build.pyomo_door" or node.module.split(".")[0] == "pyomo":
                names.update(a.asname or a.name for a in node.names)
            elif node.module == "solvers.build":
                modules.update(a.asname or a.name for a in node.names if a.name == "pyomo_door")
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "pyomo" or a.name == "solvers.build.pyomo_door":
                    modules.add(a.asname or a.name.split(".")[0])
    classes: dict[str, ast.ClassDef] = {n.name: n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)}
    derived: set[str] = set()
    changed = True
    while changed:  # a class derived from one derived from a Pyomo class is one too
        changed = False
        for name, node in classes.items():
            bases = [ast.unparse(base) for base in node.bases]
            from_module = any("." in base and base.split(".")[0] in modules for base in bases)
            if name not in derived and (from_module or {b for b in bases if "." not in b} & (names | derived)):
                derived.add(name)
                changed = True
    return {classes[name] for name in derived}


def _private_uses(tree: ast.AST) -> list[str]:
    found = []
    inside_pyomo_class = {id(n) for cls in _pyomo_classes(tree) for n in ast.walk(cls)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in PRIVATE:
            on_self = isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
            if not on_self or id(node) in inside_pyomo_class:
                found.append(f"line {node.lineno}: .{node.attr}")
        elif isinstance(node, ast.Call):
            callee = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            if callee in BY_NAME:
                for arg in node.args:
                    if isinstance(arg, ast.Constant) and arg.value in PRIVATE:
                        found.append(f"line {node.lineno}: {callee}({arg.value!r})")
    for cls in _pyomo_classes(tree):  # overriding a private method, property or class attribute of Pyomo's
        for stmt in cls.body:
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                names = [stmt.name]
            elif isinstance(stmt, ast.Assign | ast.AnnAssign):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                names = [t.id for t in targets if isinstance(t, ast.Name)]
            else:
                continue
            found += [f"line {stmt.lineno}: {cls.name}.{name} =" for name in names if name in PRIVATE]
    return found


def _offences() -> dict[str, list[str]]:
    offences = {}
    for path in _files():
        tree = ast.parse(path.read_text(), str(path))
        found = _non_public_imports(tree) + _private_uses(tree)
        if found:
            offences[str(path.relative_to(ROOT))] = found
    return offences


def test_the_private_names_are_pyomos_own() -> None:
    # the scan below is only as good as this list: it holds the attributes the engine relies on
    assert {"_lb", "_ub", "_domain", "_fixed", "_value", "_data", "_args_", "_component", "_index"} <= PRIVATE


def test_only_the_door_imports_pyomo_internals_or_touches_their_private_attributes() -> None:
    assert _offences() == {}


@pytest.mark.parametrize(
    "source",
    [
        "from pyomo.core.base.var import VarData",
        "import pyomo.repn.plugins.standard_form",
        "from pyomo.core import Var",
        "from pyomo import core",
        "from pyomo.common.numeric_types import native_numeric_types",
    ],
)
def test_the_scan_sees_an_import_of_an_internal(source: str) -> None:
    assert _non_public_imports(ast.parse(source))
    assert not _non_public_imports(ast.parse("import pyomo.environ as pyo\nfrom pyomo.opt import ProblemFormat"))


@pytest.mark.parametrize(
    "source",
    [
        "lb = var._lb",
        "var._ub = 3",
        "get = attrgetter('_domain')",
        "get = operator.attrgetter('_fixed')",
        "value = getattr(var, '_value')",
        "del family._data['b']",
        "from solvers.build.pyomo_door import VarData\nclass V(VarData):\n    def f(self):\n        return self._lb",
        (
            "from solvers.build.pyomo_door import IndexedVar\n"
            "class V(IndexedVar):\n    @property\n    def _data(self): ..."
        ),
        (
            "from solvers.build.pyomo_door import IndexedConstraint\n"
            "class C(IndexedConstraint):\n    _ComponentDataClass = int"
        ),
        "import pyomo.environ as pyo\nclass V(pyo.Var):\n    def f(self):\n        return self._data",
        (
            "from solvers.build import pyomo_door\nclass B(pyomo_door.LazyVar): ...\n"
            "class V(B):\n    def f(self):\n        self._dense = 1"
        ),
    ],
)
def test_the_scan_sees_a_private_attribute(source: str) -> None:
    assert _private_uses(ast.parse(source))


def test_the_scan_leaves_a_classs_own_private_attributes_alone() -> None:
    assert not _private_uses(ast.parse("class Reader:\n    def f(self):\n        return self._data, self._index"))
