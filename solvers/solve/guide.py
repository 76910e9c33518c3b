"""A guided solve for large models: the LP relaxation picks the offers, a small MIP buys from them.

Large requests list hundreds of offers per mineral, of which an optimal
allocation uses a handful. Given such a model whole, HiGHS spends its time
limit at the root (presolve, root LP, rounds of cuts) and often has no
incumbent when the limit comes. ``solve_guided`` instead:

1. solves the LP relaxation: a valid bound on the MIP, and the offers it uses;
2. solves the MIP restricted to those offers and to those of the start, if
   any (every column of every other offer fixed at 0, and so left out of the
   model HiGHS is given); if its answer is not within the gap of the LP bound,
   again with each mineral's cheapest offers per unit added. Restricted models
   are small and fast, and their answers are feasible for the full model (same
   rows, the other offers bought nothing);
3. if that answer is within the requested gap of the LP bound, it is proven
   and the full model is never solved;
4. otherwise solves the full model, warm-started from it, with the time left
   (unless less is left than twice what the restricted models took: then
   their answer stands); the bound reported is the tighter of HiGHS's and the
   LP's. A full run that overruns its time limit is left behind
   (``solvers.solve.overrun``) and the restricted answer stands.

Any step that yields nothing (restricted model infeasible, a limit before an
answer) falls back to the next; the full model always has the last word.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from solvers.budget import TimeBudget
from solvers.prepare.instance import Instance
from solvers.solve.highs import Compiled, SolveOutcome, SolveState, Watch, relative_gap, solve
from solvers.solve.overrun import watched
from solvers.tuning import EngineTuning

# Column values above this count as "the offer is used".
USED = 1e-9
# The second restricted model adds this many of each mineral's cheapest offers.
CHEAPEST = 10
# Each restricted MIP may use at most this share of the time left.
RESTRICTED_SHARE = 0.5
# The full model is started only with at least this many times what the restricted MIPs took.
FULL_MODEL_FACTOR = 2.0


def solve_guided(
    compiled: Compiled,
    owners: np.ndarray,
    opts: EngineTuning,
    budget: TimeBudget,
    start: np.ndarray | None = None,
    keep: Callable[[], frozenset[int]] = frozenset,  # (the default: no offers)
    on_answer: Callable[[SolveOutcome], None] | None = None,
    watch: Watch | None = None,
) -> SolveOutcome:
    """Solve ``compiled`` (a MIP); ``owners[c]`` is the offer of column c, or -1 for a column of no offer.

    The offers ``keep()`` returns join the second restricted model; it is called only when
    the first does not prove the gap (``cheapest_offers`` is a pass over every offer).
    ``on_answer`` is called with the restricted answer (its bound and gap the LP's) when
    the full model is about to try to improve on it: a caller that may be stopped during
    that run has an answer in hand. Every step gets a part of what ``budget`` has left.
    ``watch`` watches the MIP runs until one has an allocation better than the start: a run it
    stops ends the solve, its outcome ``watched_out`` (``solvers.solve.highs.Watch``); each run
    is watched from ``watch.least_s`` after its own start at the earliest, so that a slow
    LP relaxation does not leave a restricted model no time at all.
    """
    began = time.perf_counter()
    left = budget.remaining

    relaxed = solve(replace(compiled, integrality=np.zeros_like(compiled.integrality)), opts, left())
    if relaxed.state is SolveState.INFEASIBLE:  # no fractional allocation: no allocation at all
        return replace(relaxed, seconds=time.perf_counter() - began)
    if relaxed.values is None or relaxed.state is not SolveState.OPTIMAL or left() <= 0:
        return _full(compiled, opts, budget, start, None, began, watch=_from_now(watch))

    offers = used_offers(owners, relaxed.values)
    if start is not None:
        offers |= _offers_in(owners, start)
    best: SolveOutcome | None = None
    restricted_seconds = 0.0
    # First the offers the LP and the start use; then, if that is not yet within the gap,
    # with ``keep()`` added, from the first answer. Each gets at most a share of the time
    # left: the full model must keep time to improve on them.
    chosen = offers
    for attempt in (1, 2):
        if attempt == 2:
            added = keep() - offers
            if not added:
                break
            chosen = offers | added
        begin = best.values if best is not None else start
        eyes = _from_now(watch) if best is None else None
        restricted = restrict(compiled, owners, chosen).solve(opts, RESTRICTED_SHARE * left(), start=begin, watch=eyes)
        restricted_seconds += restricted.seconds
        if restricted.watched_out:
            return replace(restricted, seconds=time.perf_counter() - began)
        answered = restricted.state in (SolveState.OPTIMAL, SolveState.LIMIT_WITH_SOLUTION)
        if answered and (best is None or _better(compiled, restricted.objective, best.objective)):
            best = restricted
        gap = relative_gap(best.objective, relaxed.objective) if best is not None else None
        if gap is not None and gap <= opts.gap:
            return replace(
                best, state=SolveState.OPTIMAL, bound=relaxed.objective, gap=gap, seconds=time.perf_counter() - began
            )
    if best is None:
        return _full(compiled, opts, budget, start, relaxed.objective, began, watch=_from_now(watch))
    # The full model, many times the restricted ones, is not started with less than twice the
    # time they took: it would not improve on their answer, and on a model this large HiGHS's
    # root cut separation, which polls neither the time limit nor interrupt callbacks, can run
    # for minutes past a limit of 40 s (docs/performance.md, "The guided solve").
    full = left() >= FULL_MODEL_FACTOR * restricted_seconds
    if on_answer is not None and full:  # before the full run's time is set: reporting is paid from it
        on_answer(replace(best, bound=relaxed.objective, gap=relative_gap(best.objective, relaxed.objective)))
    return _full(compiled, opts, budget if full else None, best.values, relaxed.objective, began, fallback=best)


def _from_now(watch: Watch | None) -> Watch | None:
    """``watch``, coming no sooner than its ``least_s`` from now (a run's own start)."""
    if watch is None:
        return None
    return replace(watch, at=max(watch.at, time.perf_counter() + watch.least_s))


def cheapest_offers(instance: Instance, per_mineral: int = CHEAPEST) -> frozenset[int]:
    """Each mineral's ``per_mineral`` offers with the lowest cost per unit at their bound.

    Cost per unit: the cheapest tier's price with tariff, plus the fixed cost spread
    over the whole bound. The LP relaxation spreads fixed costs the same way and
    misses offers that are cheap only once bought in bulk; these are kept as well.
    """

    t = instance.offers.table  # the offers' data in columns (solvers.prepare.instance.OfferColumns)
    if not len(t.index):
        return frozenset()
    # min(tier prices) x (1 + tariff) + fixed cost / bound, offer by offer
    unit_cost = np.minimum.reduceat(t.price, t.first_tier[:-1]) * (1.0 + t.tariff) + t.fixed / t.bound
    kept: set[int] = set()
    for md in instance.minerals:
        offers = np.asarray(md.offers, dtype=np.int64)
        kept.update(offers[np.argsort(unit_cost[offers], kind="stable")[:per_mineral]].tolist())  # ties: in order
    return frozenset(kept)


def used_offers(owners: np.ndarray, values: np.ndarray) -> set[int]:
    """Offers with any column above USED in ``values``."""
    return set(np.unique(owners[(values > USED) & (owners >= 0)]).tolist())


def _offers_in(owners: np.ndarray, start: np.ndarray) -> set[int]:
    """Offers with any nonzero column in ``start``: every restricted model keeps them all.

    Not USED: a start with a hair (<= USED) bought from an offer left out would lie
    outside the restricted model's bounds, and where that offer's bound is many times
    its mineral's reference quantity, the hair is many units and breaks rows too.
    """
    return set(np.unique(owners[(start != 0) & (owners >= 0)]).tolist())


def restrict(compiled: Compiled, owners: np.ndarray, offers: set[int]) -> Restricted:
    """The same model with every column of every offer not in ``offers`` fixed at 0, those columns left out."""
    listed = np.fromiter(offers, dtype=owners.dtype, count=len(offers))
    kept = np.flatnonzero((owners < 0) | np.isin(owners, listed))
    columns_only = replace(  # every field indexed by column, cut to the kept ones; rows as they are
        compiled,
        columns=ColumnsAt(compiled.columns, kept),
        cost=compiled.cost[kept],
        col_lower=compiled.col_lower[kept],
        col_upper=compiled.col_upper[kept],
        matrix=compiled.matrix[:, kept],
        integrality=compiled.integrality[kept],
        following=[(sign, offset, cost[kept]) for sign, offset, cost in compiled.following],
        positions=None if compiled.positions is None else compiled.positions[kept],
    )
    return Restricted(columns_only, kept, len(compiled.columns))


@dataclass(frozen=True, slots=True)
class Restricted:
    """A model restricted to some offers, as HiGHS is given it: without the columns fixed at 0.

    A column fixed at 0 adds nothing to any row or to the objective, so leaving it out
    changes neither the feasible allocations nor their objective values. HiGHS would
    remove it in presolve, after being handed it and before anything else: at 10,000
    offers, the LP picks 140 and the restricted model has 1,300 of 43,000 columns, and
    its run takes 30-55% less time given only those (docs/performance.md, "The guided solve").
    Rows stay as they are, empty or not: an empty row whose bounds exclude 0 makes the
    restricted model infeasible, as it did with the columns in.
    """

    compiled: Compiled  # the kept columns only, in the full model's order
    kept: np.ndarray  # their positions in the full model
    size: int  # the full model's number of columns

    def solve(
        self, opts: EngineTuning, time_left: float, start: np.ndarray | None = None, watch: Watch | None = None
    ) -> SolveOutcome:
        """``solve`` on the restricted model; ``start`` and the answer's values are the full model's columns.

        ``watch``'s start objective is the full model's, which is the restricted one's: every offer
        of the start is kept (``_offers_in``), and the columns left out are 0."""
        outcome = solve(self.compiled, opts, time_left, start=None if start is None else start[self.kept], watch=watch)
        if outcome.values is None:
            return outcome
        values = np.zeros(self.size)
        values[self.kept] = outcome.values
        return replace(outcome, values=values)


def is_restricted(compiled: Compiled) -> bool:
    """Whether ``compiled`` is a restricted model (``restrict``'s): its columns a view of the full model's."""
    return isinstance(compiled.columns, ColumnsAt)


class ColumnsAt(Sequence):
    """``columns[at[0]], columns[at[1]], ...``: the variables of a restricted model's columns, as a view."""

    def __init__(self, columns: Sequence, at: np.ndarray) -> None:
        self.columns, self.at = columns, at

    def __len__(self) -> int:
        return len(self.at)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self.columns[int(c)] for c in self.at[i]]
        return self.columns[int(self.at[i])]


def _full(
    compiled: Compiled,
    opts: EngineTuning,
    budget: TimeBudget | None,
    start: np.ndarray | None,
    lp_bound: float | None,
    began: float,
    fallback: SolveOutcome | None = None,
    watch: Watch | None = None,
) -> SolveOutcome:
    """The full MIP from ``start`` with what ``budget`` has left (None: not run); its bound tightened
    by the LP's, ``fallback`` kept if it does better; watched by ``watch`` (see ``solve_guided``)."""
    if (budget is None or budget.expired()) and (start is None or fallback is not None):
        full = SolveOutcome(SolveState.LIMIT_NO_SOLUTION, None, None, None, 0.0, None, "Time limit reached")
    else:
        # Out of time with a start and no restricted answer, HiGHS still gets the start (for
        # its minimum time, as in the plain solve): that is how a start becomes an answer.
        # Watched: on the largest models HiGHS's root may run far past its limit (overrun.py).
        # From a restricted answer the run mostly proves what is in hand: see the options.
        run_opts = opts if fallback is None else opts.for_full_from_answer()
        try:
            full = watched(solve, compiled, run_opts, budget, start=start, watch=watch)
        except MemoryError:
            if fallback is None:
                raise
            # No memory for the full model's run (a worker at its memory cap, say): the
            # restricted answer in hand stands, as when HiGHS fails.
            full = SolveOutcome(SolveState.ERROR, None, None, None, 0.0, None, "out of memory for the full model")
    if full.watched_out:
        return replace(full, seconds=time.perf_counter() - began)
    failed = full.state in (SolveState.INFEASIBLE, SolveState.ERROR)
    if failed and fallback is None:
        return replace(full, seconds=time.perf_counter() - began)
    if fallback is not None and (
        failed or full.values is None or _better(compiled, fallback.objective, full.objective)
    ):
        # HiGHS stopped without improving on (or without accepting) the restricted answer,
        # or failed (its values and bound then vouched for by nothing; a feasible answer in
        # hand beats an exception). Keep the restricted allocation, not its bound: that
        # bound holds for the restricted model only. An answer at least as good as one HiGHS
        # proved optimal is optimal too (the two may differ by float noise, ~1e-17).
        bound = None if failed else full.bound
        state = SolveState.OPTIMAL if full.state is SolveState.OPTIMAL else SolveState.LIMIT_WITH_SOLUTION
        full = replace(fallback, state=state, bound=bound, message=full.message)
    bound = _tighter(compiled, full.bound, lp_bound)
    gap = relative_gap(full.objective, bound) if full.objective is not None else None
    state = full.state
    if state is SolveState.LIMIT_WITH_SOLUTION and gap is not None and gap <= opts.gap:
        state = SolveState.OPTIMAL
    return replace(full, state=state, bound=bound, gap=gap, seconds=time.perf_counter() - began)


def _better(compiled: Compiled, a: float, b: float) -> bool:
    """Whether objective value ``a`` is strictly better than ``b`` in the model's sense."""
    return a > b if compiled.sign < 0 else a < b


def _tighter(compiled: Compiled, a: float | None, b: float | None) -> float | None:
    """The tighter of two bounds (either may be missing) in the model's sense."""
    if a is None or b is None:
        return a if b is None else b
    return min(a, b) if compiled.sign < 0 else max(a, b)
