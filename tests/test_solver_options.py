"""Which HiGHS options each run of a solve gets: the choices measured in docs/performance.md."""

from __future__ import annotations

import solvers.highs as highs_module
from models import AllocationRequest, Status
from solvers import SolverOptions, allocate
from tests.builders import mineral, offer, request

JUMP = "mip_heuristic_run_feasibility_jump"


def options_of_each_run(monkeypatch, req: AllocationRequest, opts: SolverOptions | None = None) -> list[dict]:
    """The HiGHS options of every run ``allocate(req, opts)`` makes, in order."""
    seen: list[dict] = []
    real = highs_module.load

    def spy(h, compiled, options):
        seen.append(dict(options))
        return real(h, compiled, options)

    monkeypatch.setattr(highs_module, "load", spy)
    assert allocate(req, opts).status is Status.OPTIMAL
    return seen


def two_offers(objective: str, floor: float = 0.0) -> AllocationRequest:
    # Fixed costs and a minimum order: a MIP, so that warm starts and heuristics apply.
    return request(
        1_000,
        [mineral(target=50, min_quantity=floor)],
        [offer("a", 10, 40, fixed_cost=50), offer("b", 12, 40, min_order=10)],
        objective=objective,
    )


def test_max_coverage_stages_both_have_a_start_so_no_feasibility_jump(monkeypatch):
    # Stage one starts from buying nothing (no floors), stage two from stage one's answer.
    first, second = options_of_each_run(monkeypatch, two_offers("max_coverage"))
    assert first[JUMP] is False and second[JUMP] is False


def test_without_a_start_the_feasibility_jump_runs(monkeypatch):
    # With a floor, buying nothing is no start: HiGHS must find a first incumbent itself.
    (only,) = options_of_each_run(monkeypatch, two_offers("min_cost", floor=30))
    assert only[JUMP] is True


def test_jump_with_start_keeps_the_heuristic_on(monkeypatch):
    runs = options_of_each_run(monkeypatch, two_offers("max_coverage"), SolverOptions(jump_with_start=True))
    assert [r[JUMP] for r in runs] == [True, True]
