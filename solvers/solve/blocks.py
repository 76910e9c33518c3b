"""Solve a model block by block: its columns fall into independent blocks but for a few coupling rows.

Every rule of a request but the budget lives inside one mineral (docs/formulation.md), so a
model's columns and rows split by mineral, and only the budget row joins them. Leaving the
coupling rows out relaxes the model; each block is then a small model of its own, solved
alone. When the blocks' answers, put together, keep every coupling row, they are an answer
of the whole model, and an optimal one when every block's is: no answer of the whole can do
better than the relaxation's best. Under ``min_cost`` the budget is seldom binding, and the
blocks solve in a fraction of the whole's time, whose search has to close every mineral's
gap at once (docs/performance.md, "Hard requests").

Each block's relative gap bounds the whole's when the blocks' objectives are not negative
(spend is not); the whole's gap is computed from the summed bounds all the same.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from solvers.budget import TimeBudget
from solvers.solve.highs import Compiled, SolveOutcome, SolveState, Watch, objective_at, relative_gap
from solvers.trace import event, phase
from solvers.tuning import EngineTuning

# One HiGHS run of a compiled model (``solvers.solve.highs.solve``'s signature).
Run = Callable[..., SolveOutcome]


@dataclass(frozen=True, slots=True)
class Blocks:
    """A split of a compiled model: each block's columns and rows, and the rows that join blocks."""

    columns: list[np.ndarray]
    rows: list[np.ndarray]
    coupling: np.ndarray  # rows with columns of more than one block
    coupling_rows: object  # the coupling rows of the model's matrix (scipy.sparse.csr_array)
    # the blocks' rows and columns, block by block (the coupling rows left out), column-wise: block k
    # is columns col_starts[k]:col_starts[k + 1] and rows row_starts[k]:row_starts[k + 1] of it
    parts: object  # scipy.sparse.csc_array
    col_starts: np.ndarray
    row_starts: np.ndarray


def split(compiled: Compiled, owner: np.ndarray) -> Blocks | None:
    """The blocks of ``compiled`` whose columns ``owner`` assigns to one owner each (a mineral).

    None when a column has no owner (-1), a row none of its columns' owners, or there are
    fewer than two blocks: nothing to split.
    """
    if len(owner) == 0 or owner.min() < 0:
        return None
    csr = compiled.matrix.tocsr()
    counts = np.diff(csr.indptr)
    if (counts == 0).any():
        return None
    labels = owner[csr.indices]
    starts = csr.indptr[:-1]
    low = np.minimum.reduceat(labels, starts)
    high = np.maximum.reduceat(labels, starts)
    inside = low == high
    owners = np.unique(owner)
    if len(owners) < 2:
        return None
    columns = [np.flatnonzero(owner == k) for k in owners]
    rows = [np.flatnonzero(inside & (low == k)) for k in owners]
    coupling = np.flatnonzero(~inside)
    parts = csr[np.concatenate(rows)][:, np.concatenate(columns)].tocsc()
    parts.sum_duplicates()  # canonical: highspy misbehaves on duplicate entries
    col_starts, row_starts = np.cumsum([0, *map(len, columns)]), np.cumsum([0, *map(len, rows)])
    return Blocks(columns, rows, coupling, csr[coupling], parts, col_starts, row_starts)


def block_model(compiled: Compiled, blocks: Blocks, k: int) -> Compiled:
    """Block ``k`` of ``compiled``, minimised (HiGHS's sense), without an offset.

    Its ``columns`` are the block's positions in the whole: a run needs only how many there are.
    """
    columns, rows = blocks.columns[k], blocks.rows[k]
    a, left, top = blocks.parts, blocks.col_starts[k], blocks.row_starts[k]
    first, last = a.indptr[left], a.indptr[blocks.col_starts[k + 1]]
    indptr = a.indptr[left : blocks.col_starts[k + 1] + 1] - first
    entries = (a.data[first:last], a.indices[first:last] - top, indptr)  # its columns' entries: its rows only
    matrix = sp.csc_array(entries, shape=(len(rows), len(columns)))
    return Compiled(
        columns=columns,
        sign=1.0,
        offset=0.0,
        cost=compiled.cost[columns],
        col_lower=compiled.col_lower[columns],
        col_upper=compiled.col_upper[columns],
        row_lower=compiled.row_lower[rows],
        row_upper=compiled.row_upper[rows],
        matrix=matrix,
        integrality=compiled.integrality[columns],
        unused=[],
    )


def keeps_coupling_rows(compiled: Compiled, blocks: Blocks, values: np.ndarray) -> bool:
    """Whether ``values`` keeps every coupling row, exactly (no tolerance: a row kept only within HiGHS's
    tolerance is left to a solve of the whole)."""
    if not len(blocks.coupling):
        return True
    rows = blocks.coupling
    activity = blocks.coupling_rows @ values
    return bool(np.all(activity >= compiled.row_lower[rows]) and np.all(activity <= compiled.row_upper[rows]))


def solve_blocks(
    compiled: Compiled,
    blocks: Blocks,
    opts: EngineTuning,
    budget: TimeBudget,
    run: Run,
    start: np.ndarray | None = None,
    watch: Watch | None = None,
    rescue: Callable[[], np.ndarray | None] | None = None,
) -> SolveOutcome | None:
    """Stage one of ``compiled`` block by block; None when the whole model must be solved instead.

    Each block gets an even share of the time left when it starts (blocks that finish early
    leave more to those after them); blocks stopped at their share then go on from their
    answers, with even shares of what is left. Infeasible when a block is (the relaxation is). None when
    a block stops at its share without an allocation, or the blocks' answers break a coupling
    row. ``start``: a full column vector, each block started from its part. ``watch``: a block
    run without a start that has no allocation at ``watch.at``, or ``watch.least_s`` after it
    began if that is later, is stopped, ``rescue()`` makes a
    full column vector (the construction heuristic's allocation; None: none), and the block and
    those after it start from it.
    """
    began = time.perf_counter()
    count = len(blocks.columns)
    answers: list[SolveOutcome] = []
    with phase("blocks", count=count, coupling=len(blocks.coupling)):
        for k, columns in enumerate(blocks.columns):
            part = block_model(compiled, blocks, k)
            # a part is stopped at the watch's time if it has had least_s of its own by then
            watched = None
            if watch is not None and start is None:
                watched = Watch(max(watch.at, time.perf_counter() + watch.least_s))
            outcome = run(part, opts, budget.remaining() / (count - k), start=_part(start, columns), watch=watched)
            if outcome.watched_out:
                watch = None
                made = rescue() if rescue is not None else None
                start = made if made is not None else start
                share = budget.remaining() / (count - k)
                outcome = run(part, opts, share, start=_part(start, columns), watch=None)
            if outcome.state is SolveState.ERROR or outcome.state is SolveState.INFEASIBLE:
                return _whole(outcome, time.perf_counter() - began)
            if outcome.values is None:
                return None
            answers.append(outcome)
        # Parts stopped at their share go on, each from its answer, with an even share of what is left.
        unproven = [k for k, a in enumerate(answers) if a.state is not SolveState.OPTIMAL]
        for i, k in enumerate(unproven):
            share = budget.remaining() / (len(unproven) - i)
            if share < AGAIN_MIN_S:
                break
            again = run(block_model(compiled, blocks, k), opts, share, start=answers[k].values)
            answers[k] = _better(answers[k], again)
    values = np.zeros(len(compiled.cost))
    for columns, answer in zip(blocks.columns, answers, strict=True):
        values[columns] = answer.values
    proven = all(a.state is SolveState.OPTIMAL for a in answers)
    seconds = time.perf_counter() - began
    kept = keeps_coupling_rows(compiled, blocks, values)
    objective = compiled.sign * objective_at(compiled, values)
    event("blocks_answer", count=count, kept=kept, proven=proven, objective=objective, seconds=seconds)
    if not kept:
        return None
    bounds = [a.bound for a in answers]
    whole_bound = None if None in bounds else compiled.sign * (sum(bounds) + compiled.offset)
    state = SolveState.OPTIMAL if proven else SolveState.LIMIT_WITH_SOLUTION
    message = "Optimal" if proven else next(a.message for a in answers if a.state is not SolveState.OPTIMAL)
    return SolveOutcome(state, objective, whole_bound, relative_gap(objective, whole_bound), seconds, values, message)


# A part stopped at its share goes on only with at least this long (s).
AGAIN_MIN_S = 0.05


def _better(old: SolveOutcome, new: SolveOutcome) -> SolveOutcome:
    """A part's answer after it went on from ``old``: ``new``'s where it has one as good, with the tighter
    bound of the two (both are minimised)."""
    bounds = [b for b in (old.bound, new.bound) if b is not None]
    bound = max(bounds) if bounds else None
    if new.values is None or new.objective is None or new.objective > old.objective:
        return replace(old, bound=bound, gap=relative_gap(old.objective, bound))
    return replace(new, bound=bound, gap=relative_gap(new.objective, bound))


def _part(start: np.ndarray | None, columns: np.ndarray) -> np.ndarray | None:
    return None if start is None else start[columns]


def _whole(outcome: SolveOutcome, seconds: float) -> SolveOutcome:
    """A block's outcome without an allocation as the whole's: its state and words, no values."""
    return SolveOutcome(outcome.state, None, None, None, seconds, None, outcome.message)
