"""What one row costs to build in Pyomo, made the ways this project has tried.

    python -m bench.pyomo_rows            # 3,000 rows x[k] - y[k] <= 0, median of 9 builds each

* ``dict rule``: the build before engine change 13: a dict rule over a plain list index,
  variables looked up through Pyomo's indexing, relations made by Pyomo's operators;
* ``expressions``: how ``solvers.build`` made rows from engine change 13 to 22 (up to
  02a711a): ``SetOf`` index, rows handed over by an initializer without embedded
  indices, variables from plain dicts, relations made directly;
* ``kernel``: ``pyomo.kernel``'s ``linear_constraint`` (variables and coefficients, no
  expression objects), Pyomo's lighter modelling layer;
* ``rows``: how ``solvers.build`` makes rows now (change 23): the family's entries as numpy
  arrays, held as one matrix by a ``solvers.rows.Rows`` constraint.

Each figure is per row including its two variables, interpreter warm, collector off.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time

import numpy as np
import pyomo.environ as pyo
import pyomo.kernel as pmo
from pyomo.common.errors import TemplateExpressionError
from pyomo.core.base.initializer import ItemInitializer
from pyomo.core.expr.numeric_expr import LinearExpression, MonomialTermExpression
from pyomo.core.expr.relational_expr import InequalityExpression

from solvers.build import _keys
from solvers.rows import Columns, Rows, entries_to_rows

N = 3_000


def dict_rule() -> object:
    m = pyo.ConcreteModel()
    m.x = pyo.Var(list(range(N)), bounds=(0, 1))
    m.y = pyo.Var(list(range(N)), domain=pyo.Binary)
    rows = {
        k: LinearExpression([MonomialTermExpression((1, m.x[k])), MonomialTermExpression((-1, m.y[k]))]) <= 0
        for k in range(N)
    }
    m.c = pyo.Constraint(list(range(N)), rule=rows)
    return m


class _Built(ItemInitializer):
    """A rule handing out rows already built, without embedded indices (solvers.build up to 02a711a)."""

    __slots__ = ()

    def contains_indices(self) -> bool:
        return False

    def __call__(self, parent: object, idx: object) -> object:
        try:
            return self._dict[idx]
        except TypeError:
            raise TemplateExpressionError(None) from None


def expressions() -> object:
    m = pyo.ConcreteModel()
    m.x = pyo.Var(_keys(list(range(N))), bounds=(0, 1))
    m.y = pyo.Var(_keys(list(range(N))), domain=pyo.Binary)
    x, y = dict(m.x.items()), dict(m.y.items())
    rows = {
        k: InequalityExpression(
            (LinearExpression([MonomialTermExpression((1, x[k])), MonomialTermExpression((-1, y[k]))]), 0), False
        )
        for k in range(N)
    }
    m.c = pyo.Constraint(_keys(list(range(N))), rule=_Built(rows))
    return m


def rows() -> object:
    m = pyo.ConcreteModel()
    m.x = pyo.Var(_keys(list(range(N))), bounds=(0, 1))
    m.y = pyo.Var(_keys(list(range(N))), domain=pyo.Binary)
    m.columns = Columns()
    x, y = m.columns.add(m.x), m.columns.add(m.y)
    k = np.arange(N)
    entries = [(k, x + k, 1.0), (k, y + k, -1.0)]
    m.c = Rows(list(range(N)), entries_to_rows(N, entries, -np.inf, 0.0), m.columns)
    return m


def kernel() -> object:
    b = pmo.block()
    b.x = pmo.variable_list(pmo.variable(lb=0, ub=1) for _ in range(N))
    b.y = pmo.variable_list(pmo.variable(domain=pmo.Binary) for _ in range(N))
    b.c = pmo.constraint_list(
        pmo.linear_constraint(variables=(b.x[k], b.y[k]), coefficients=(1, -1), ub=0) for k in range(N)
    )
    return b


def main() -> int:
    gc.disable()
    for build in (dict_rule, expressions, kernel, rows):
        build()  # warm-up
        times = []
        for _ in range(9):
            began = time.perf_counter()
            build()
            times.append(time.perf_counter() - began)
        print(f"{build.__name__:10s} {statistics.median(times) * 1e6 / N:6.2f} us a row (with its two variables)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
