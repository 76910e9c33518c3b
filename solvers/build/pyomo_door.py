"""The one module that reaches into Pyomo's internals: every name here is not Pyomo's public API.

The engine builds and reads its Pyomo model faster than Pyomo's public API allows
(``solvers.build.rows``: rows held as matrices and variables made on demand;
``solvers.build.linear_form``: the standard form read off those matrices; ``solvers.solve.highs``:
column bounds read in bulk). That relies on Pyomo's classes, their private slots and
their private protocols, which a Pyomo release may change without notice. Everything it
relies on is here, each with what it relies on and since which Pyomo release it has held
(the project allows ``pyomo>=6.9``); nothing else in the repository imports from
``pyomo.core``, ``pyomo.repn`` or ``pyomo.common`` or touches a private attribute of a
Pyomo object (``tests/solvers/test_pyomo_door.py`` scans for it). Public API
(``pyomo.environ``, ``pyomo.opt``) is imported where it is used.

When a Pyomo release breaks one of these, two things show it: ``make test-latest-pyomo``
(the engine's tests on the newest Pyomo) and ``STOCKPILE_PYOMO_FAST_PATH=0``
(``solvers.build.linear_form``: every model through Pyomo's own compiler, ``make
test-pyomo-compiler``), which shows whether the fast path or Pyomo itself changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from operator import attrgetter
from typing import Any

# The Python number types Pyomo treats as constants (int, float, numpy's, ...): a set that
# Pyomo's own walkers test ``x.__class__ in native_numeric_types`` against (there since 6.4 at least).
from pyomo.common.numeric_types import native_numeric_types

# The module whose ``TEMPLATIZE_CONSTRAINTS`` switch (a module global, since 6.9) makes
# ``Constraint.construct`` build rows from templates; tests turn it on.
from pyomo.core.base import constraint as constraint_module

# ``ConstraintData``: one constraint, its expression in the slot ``_expr``, its only slot
# since 6.8 (before: ``_GeneralConstraintData`` with ``_body``, ``_lower``, ``_upper`` too);
# ``_component`` and ``_index`` are ``ComponentData``'s slots, ``_active``
# ``ActiveComponentData``'s. ``IndexedConstraint``: its rows are the dict ``_data``.
from pyomo.core.base.constraint import ConstraintData, IndexedConstraint

# A named ``Expression``'s data, whose ``expr`` an objective may refer to (this name since 6.8).
from pyomo.core.base.expression import ExpressionData

# A ``SetOf`` over an ordered sequence; it keeps the sequence itself in ``_ref`` (since 6.4 at least).
from pyomo.core.base.set import OrderedSetOf

# ``VarData``: one variable, its state in the slots ``_value``, ``_lb``, ``_ub``, ``_domain``,
# ``_fixed``, ``_stale`` (named ``_GeneralVarData`` before 6.7.2, with the same slots), plus
# ``_component`` (a weak reference to the Var) and ``_index`` from ``ComponentData``.
# ``IndexedVar``: its variables are the dict ``_data``; ``_dense``, ``_rule_domain``,
# ``_rule_bounds``, ``_rule_init`` hold the declaration (all since 6.4 at least).
from pyomo.core.base.var import IndexedVar, VarData

# Expression node classes, matched by ``__class__ is`` as Pyomo's own walkers do. A
# ``LinearExpression``'s terms are ``MonomialTermExpression((coef, var))`` nodes (or bare
# variables and constants) in ``_args_[:_nargs]`` (LinearExpression a SumExpression since 6.6);
# a relation's two sides are its ``_args_`` (``relational_expr`` since 6.6). Their
# constructors take the children as one tuple or list.
from pyomo.core.expr.numeric_expr import LinearExpression, MonomialTermExpression
from pyomo.core.expr.relational_expr import EqualityExpression, InequalityExpression, RangedExpression

# Pyomo's own compiler to the linear standard form (``write(model, mixed_form=True,
# set_sense=None)``, ``mixed_form`` since 6.8): the reference the fast reader is checked against, and
# the path taken for any model the fast reader declines.
from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

__all__ = [
    "EXPR_ARGS",
    "VAR_DOMAIN",
    "VAR_FIXED",
    "VAR_INDEX",
    "VAR_LB",
    "VAR_UB",
    "VAR_VALUE",
    "ConstraintData",
    "EqualityExpression",
    "ExpressionData",
    "IndexedConstraint",
    "IndexedVar",
    "InequalityExpression",
    "LazyConstraintData",
    "LazyConstraintFamily",
    "LazyLinearExpression",
    "LazyVar",
    "LinearExpression",
    "LinearStandardFormCompiler",
    "MonomialTermExpression",
    "OrderedSetOf",
    "RangedExpression",
    "VarData",
    "component_data",
    "constraint_module",
    "copy_variables",
    "holds_var_data",
    "mark_dense",
    "native_numeric_types",
    "setof_sequence",
    "var_declaration",
]

# A VarData's own slots, read in bulk in hot loops (a call of an attrgetter costs less than
# a property): ``_lb``/``_ub`` hold the bounds as given (a number, None or an expression:
# ``v.bounds`` resolves them against the domain on every call); ``_domain`` the domain set;
# ``_fixed`` what ``v.fixed`` returns; ``_value`` what ``v.value`` returns; ``_index`` what
# ``v.index()`` returns. Slots of VarData since 6.7.2 (of ``_GeneralVarData`` before).
# ``_args_``: see the expression classes above.
VAR_LB, VAR_UB, VAR_DOMAIN = attrgetter("_lb"), attrgetter("_ub"), attrgetter("_domain")
VAR_FIXED, VAR_VALUE, VAR_INDEX = attrgetter("_fixed"), attrgetter("_value"), attrgetter("_index")

# The children of an expression node, without the copy that ``.args`` slices: a monomial's
# (coefficient, variable), a relation's (left, right). Read per term in the fast reader.
EXPR_ARGS = attrgetter("_args_")


def component_data(component: Any) -> dict:
    """An indexed component's dict of its data objects by index (``IndexedComponent._data``).

    Asking for it makes the data of a ``LazyVar`` or ``LazyConstraintFamily`` if not made yet.
    """
    return component._data


def holds_var_data(component: Any) -> bool:
    """Whether a component's data objects are Pyomo's own ``VarData`` (its ``_ComponentDataClass``).

    Then ``VAR_FIXED`` reads what ``fixed`` returns; a subclass may override ``fixed``.
    """
    return component._ComponentDataClass is VarData


def setof_sequence(index: Any) -> Any:
    """The sequence an ``OrderedSetOf`` was made over (its ``_ref``), or None for any other set."""
    return index._ref if isinstance(index, OrderedSetOf) else None


def var_declaration(component: IndexedVar) -> tuple[bool, bool, bool]:
    """(declared dense, has data objects, every rule constant) of an indexed Var as declared.

    ``_dense`` is the ``dense=`` argument; ``_rule_domain``, ``_rule_bounds``, ``_rule_init``
    the initializers of ``within``, ``bounds`` and ``initialize`` (None when not given),
    whose ``constant()`` says whether they give one value for all indices.
    """
    rules = (component._rule_domain, component._rule_bounds, component._rule_init)
    return component._dense, bool(component._data), all(rule is None or rule.constant() for rule in rules)


def mark_dense(component: IndexedVar) -> None:
    """Mark an indexed Var as holding a variable for every index (as ``dense=True`` builds it)."""
    component._dense = True


def copy_variables(first: VarData, keys: Iterable, upper: Iterable) -> list[VarData]:
    """Copies of ``first``, one per key, each with its own index and upper bound.

    ``VarData.copy(first)`` inlined, with the index and the upper bound set: every slot of
    VarData and ComponentData is written, as ``VarData.__init__`` would (the slots listed at
    ``VarData`` above); ``__new__`` then slot writes is about half the cost of Pyomo's copy.
    """
    family, value, fixed, stale = first._component, first._value, first._fixed, first._stale
    lb, domain = first._lb, first._domain
    new = VarData.__new__
    made = []
    for key, bound in zip(keys, upper):
        var = new(VarData)
        var._component, var._index, var._value, var._fixed, var._stale = family, key, value, fixed, stale
        var._lb, var._ub, var._domain = lb, bound, domain
        made.append(var)
    return made


class LazyVar(IndexedVar):
    """An indexed Var whose variables its subclass makes (``make_pending``) when anything first asks for one.

    Relies on Pyomo reaching an indexed component's data objects only through ``_data``
    (indexing, ``len``, ``values()``, ``clear()``, pickling: so since 6.4 at least), which is a
    property here: while ``pending`` is not None, reading or replacing ``_data`` first calls
    ``make_pending`` (which fills ``made_data`` and sets ``pending`` to None). ``made_data``
    is the dict Pyomo's ``_data`` would be (Pyomo's ``__init__`` sets it through ``_data``).
    """

    pending: Any = None
    made_data: dict

    def make_pending(self) -> None:
        raise NotImplementedError

    @property
    def _data(self) -> dict:
        if self.pending is not None:
            self.make_pending()
        return self.made_data

    @_data.setter
    def _data(self, value: dict) -> None:
        if self.pending is not None:
            self.make_pending()  # the variables as numbered exist before they are replaced (Pyomo's clear())
        self.made_data = value

    def __getstate__(self) -> dict:
        if self.pending is not None:
            self.make_pending()  # pickled with its variables: a sum pickled with it refers to them
        return super().__getstate__()


class LazyConstraintData(ConstraintData):
    """A constraint whose expression its subclass makes (``make_expr``) when first asked for.

    Relies on ``ConstraintData`` keeping its expression in the slot ``_expr`` and reading it
    only through ``expr`` and ``to_bounded_expression`` (``body``, ``lb``, ``ub``, ... call
    the latter; since 6.8). ``__init__`` is ``ConstraintData.__init__`` inlined as Pyomo
    inlines it, with no expression yet: it sets every slot of ConstraintData and its bases.
    ``_row`` is the subclass's own handle on what to make.
    """

    __slots__ = ("_row",)

    def __init__(self, component: Any, index: Any, row: Any) -> None:
        self._component = component  # a weak reference to the constraint family
        self._active = True
        self._index = index
        self._expr = None
        self._row = row

    def make_expr(self) -> Any:
        raise NotImplementedError

    def to_bounded_expression(self, evaluate_bounds: bool = False):
        if self._expr is None:
            self._expr = self.make_expr()
        return super().to_bounded_expression(evaluate_bounds)

    @property
    def expr(self):
        if self._expr is None:
            self._expr = self.make_expr()
        return self._expr


class LazyConstraintFamily(IndexedConstraint):
    """An indexed Constraint whose rows its subclass makes (``make_rows``) when anything first asks for one.

    ``class F(LazyConstraintFamily, data_class=D)`` makes ``D`` the class of its rows (Pyomo's
    ``_ComponentDataClass``). Relies on Pyomo reaching the rows only through ``_data`` (a
    property here, as ``LazyVar``) and on ``construct`` being what builds them:
    it is Pyomo's ``Constraint.construct`` without the rule (``_constructed`` and
    ``_anonymous_sets`` as Pyomo sets and reads them, since 6.4 at least).
    """

    made_rows: dict | None

    def __init_subclass__(cls, data_class: type | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if data_class is not None:
            cls._ComponentDataClass = data_class

    def make_rows(self) -> dict:
        raise NotImplementedError

    @property
    def _data(self) -> dict:
        made = self.made_rows
        if made is None:
            made = self.made_rows = self.make_rows()
        return made

    @_data.setter
    def _data(self, value: dict) -> None:
        self.made_rows = value

    @property
    def rows_made(self) -> bool:
        """Whether the rows exist as objects, and so may have been removed (``clear``)."""
        return self.made_rows is not None

    def construct(self, data: Any = None) -> None:
        if self._constructed:
            return
        self._constructed = True
        if self._anonymous_sets is not None:
            for anonymous in self._anonymous_sets:
                anonymous.construct()
        self.made_rows = None  # made when first asked for (``_data``)


class LazyLinearExpression(LinearExpression):
    """A ``LinearExpression`` whose terms its subclass makes (``make_terms``) when anything first asks for them.

    Relies on Pyomo reaching a LinearExpression's terms only through the slots ``_args_``
    and ``_nargs`` (since 6.6): while they are empty, Python asks ``__getattr__``, which
    fills both. Pyomo's expression walkers dispatch on ``node.__class__``, registered for
    LinearExpression itself, so ``__class__`` says LinearExpression; copies Pyomo makes
    (``create_node_with_local_data``) are ordinary ones, with their terms.
    """

    __slots__ = ()

    def make_terms(self) -> list:
        raise NotImplementedError

    def __reduce_ex__(self, protocol: int):
        # pickled as the LinearExpression it stands for
        return LinearExpression, (list(self.args),)

    @property
    def __class__(self) -> type:
        return LinearExpression

    def __getattr__(self, name: str) -> Any:
        if name in ("_args_", "_nargs"):
            self._args_ = self.make_terms()
            self._nargs = len(self._args_)
            return getattr(self, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
