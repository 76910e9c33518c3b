"""The engine's tuning, in one place: what the engine may set and what HiGHS gets.

``EngineTuning`` is the caller's (a server's, a benchmark's) hold on the engine: limits,
tolerances and HiGHS switches. It is not the request's ``models.SolveOptions``, which a
client sends with its request; ``for_request`` reads the time limit and gap from those.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from models import AllocationRequest, Objective


@dataclass(frozen=True, slots=True)
class EngineTuning:
    """Limits and tolerances for one ``allocate`` call.

    ``time_limit_s`` and ``mip_gap`` default to the request's own options; a
    server passes ``max_time_limit_s`` to clamp what a client may ask for.
    """

    time_limit_s: float | None = None
    mip_gap: float | None = None
    max_time_limit_s: float | None = None
    feasibility_tolerance: float = 1e-7
    integrality_tolerance: float = 1e-7
    random_seed: int = 0
    verify: bool = True
    diagnose: bool = True
    # Models with at least this many integer columns (about 1,800 offers) get the guided
    # solve (solvers/solve/guide.py); None: never. Below it the guided solve is no faster
    # (docs/performance.md, "The guided solve").
    guide_min_integers: int | None = 4_000
    # HiGHS's feasibility jump heuristic looks for a first incumbent; a run handed a
    # feasible start has one. It costs about 3 ms even on a 60-column model, half of a
    # small run (docs/performance.md, "Tuned HiGHS options"): off when there is a start,
    # unless this is set.
    jump_with_start: bool = False
    # In a run without a start (min_cost, max_coverage with floors). None: off below the
    # guided size, where the other heuristics find the first incumbent soon enough and
    # the solve is faster without it (docs/performance.md, "Tuned HiGHS options"); on for guided models,
    # whose first incumbent a time limit may otherwise cut off.
    feasibility_jump: bool | None = None
    # HiGHS's sub-MIP heuristics (RINS, RENS). None: off for max_coverage below the guided
    # size, where they take most of the time of runs they seldom improve; on otherwise
    # (min_cost is slower without them; a large model stopped by its limit needs their incumbents),
    # but for the full runs ``sub_mip_from_answer`` covers.
    sub_mip_heuristics: bool | None = None
    # The same heuristics in a guided solve's full run that starts from a restricted answer.
    # That answer is most often within the gap of the optimum already, or nearly, and the
    # run's work is to prove it: with them off, 2,000- and 10,000-offer max_coverage solves
    # reached the gap up to 2x sooner, none slower by more than noise, the same answers
    # but one (2,000 offers seed 7: a score 0.03% lower, within the gap) (docs/performance.md,
    # "The guided solve"). None: off, unless ``sub_mip_heuristics`` is set, which then holds here too.
    sub_mip_from_answer: bool | None = None
    # Whether HiGHS presolves each run; the least-spend stage of max_coverage uses
    # ``stage_two_presolve`` instead (see ``for_stage_two``).
    presolve: bool = True
    stage_two_presolve: bool = False
    # ``allocate``'s provisional answers are reported only by calls that have run this long:
    # a shorter solve is about to end anyway, and reporting one costs a read, a report and
    # a check (about 30 ms at 10,000 offers).
    provisional_after_s: float = 1.0
    # HiGHS options set on every run after the engine's own, as (name, value) pairs: for
    # profiling (("output_flag", True) prints HiGHS's log: ``bench.profile --highs-log``),
    # not for production, where the engine's choices above are what is measured.
    highs_extra: tuple[tuple[str, object], ...] = ()
    # The construction heuristic (solvers/solve/heuristic.py), on requests of at least
    # ``construct_min_offers`` offers (smaller ones are solved in milliseconds): it runs when
    # HiGHS has nothing better than its start half a second into the call (HiGHS then starts
    # again from its allocation: solvers.engine.FIRST_ANSWER_S), or after HiGHS, in time kept
    # back for it, when HiGHS stopped at the limit with nothing or with less, or called the
    # request infeasible; its checked allocation is then the answer. Off: a time limit may
    # leave no allocation at all.
    construct: bool = True
    construct_min_offers: int = 40
    # Hand the heuristic's allocation to HiGHS as its start from the beginning. Off: on the
    # benchmark set a different start moved proven answers within their gap (docs/performance.md,
    # "Hard requests"); runs that find an allocation within half a second are left alone.
    start_from_heuristic: bool = False
    # Under min_cost, solve each mineral's part of the model alone, the budget row left out, and
    # keep the parts' answers when together they keep the budget (solvers/solve/blocks.py): the
    # least spend is then proven, in a fraction of the time the whole model takes on requests
    # with minimum orders and lots (docs/performance.md, "Hard requests"). Off, or when a
    # mineral's part alone would get the guided solve: the whole model, as under max_coverage.
    split_by_mineral: bool = True

    def for_request(self, request: AllocationRequest) -> EngineTuning:
        """Resolve defaults from the request and clamp the time limit."""
        limit = request.options.time_limit_s if self.time_limit_s is None else self.time_limit_s
        if self.max_time_limit_s is not None:
            limit = min(limit, self.max_time_limit_s)
        gap = request.options.mip_gap if self.mip_gap is None else self.mip_gap
        return replace(self, time_limit_s=limit, mip_gap=gap)

    def for_model(self, objective: Objective, guided: bool) -> EngineTuning:
        """Resolve what depends on the model: the heuristics left to the engine (None)."""
        resolved = self
        if self.sub_mip_heuristics is None:
            resolved = replace(resolved, sub_mip_heuristics=guided or objective is Objective.MIN_COST)
        if self.feasibility_jump is None:
            resolved = replace(resolved, feasibility_jump=guided)
        if self.sub_mip_from_answer is None:  # set, sub_mip_heuristics holds for every run
            resolved = replace(resolved, sub_mip_from_answer=self.sub_mip_heuristics is True)
        return resolved

    def tighter(self) -> EngineTuning:
        """The same solve, asked to respect every row a hundred times more closely."""
        return replace(
            self,
            feasibility_tolerance=self.feasibility_tolerance / 100,
            integrality_tolerance=self.integrality_tolerance / 100,
        )

    def for_stage_two(self, guided: bool) -> EngineTuning:
        """Options for the least-spend stage: HiGHS's presolve as ``stage_two_presolve`` says.

        That stage starts from stage one's allocation with one more row (the score held);
        presolving it cost more than it saved on the benchmark set below the guided solve's
        size (docs/performance.md, "Tuned HiGHS options"). A guided stage keeps presolve
        (going without it is not measured on restricted models, which leave the other
        offers' columns out).
        """
        return self if guided else replace(self, presolve=self.stage_two_presolve)

    def for_full_from_answer(self) -> EngineTuning:
        """Options for a guided solve's full run that starts from a restricted answer."""
        return replace(self, sub_mip_heuristics=self.sub_mip_from_answer is True)

    @property
    def gap(self) -> float:
        """The relative gap a solve must prove."""
        return self.mip_gap if self.mip_gap is not None else 1e-4

    def highs(self, time_left: float, with_start: bool = False) -> dict[str, object]:
        """HiGHS option values for one solve with ``time_left`` seconds, given a start or not."""
        engine = {
            "output_flag": False,
            "threads": 1,  # HiGHS fixes its thread pool per OS thread at first use
            "time_limit": max(time_left, 0.01),
            "mip_rel_gap": self.gap,
            "mip_abs_gap": 1e-12,
            "primal_feasibility_tolerance": self.feasibility_tolerance,
            "mip_feasibility_tolerance": self.integrality_tolerance,
            "random_seed": self.random_seed,
            # HiGHS drops matrix entries below 1e-9 by default; an offer whose whole bound costs
            # less than 1e-9 of a cap is still a real term of that cap's row.
            "small_matrix_value": 1e-12,
            # feasibility_jump None (not resolved by for_model): HiGHS's default, on
            "mip_heuristic_run_feasibility_jump": (
                self.jump_with_start if with_start else self.feasibility_jump is not False
            ),
            "presolve": "on" if self.presolve else "off",
            "mip_heuristic_run_rins": self.sub_mip_heuristics is not False,  # None: HiGHS's default
            "mip_heuristic_run_rens": self.sub_mip_heuristics is not False,
        }
        return {**engine, **dict(self.highs_extra)}
