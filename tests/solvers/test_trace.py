"""The engine's trace hook: each phase of a solve reported, in order, nested, and nothing when no tracer is set."""

from __future__ import annotations

from typing import Any

import pytest

from solvers import EngineTuning, allocate, set_tracer
from solvers import trace as trace_module
from tests.builders import every_kind_of_offer


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict[str, Any]]] = []

    def __call__(self, kind: str, name: str, info: dict[str, Any]) -> None:
        self.events.append((kind, name, info))

    def names(self, kind: str) -> list[str]:
        return [name for k, name, _ in self.events if k == kind]


def _traced(req, options: EngineTuning | None = None) -> Recorder:
    recorder = Recorder()
    previous = set_tracer(recorder)
    try:
        result = allocate(req, options)
    finally:
        assert set_tracer(previous) is recorder
    assert result.status.value == "optimal"
    return recorder


def test_every_phase_of_a_two_stage_solve_is_reported_in_order_and_nested() -> None:
    recorder = _traced(every_kind_of_offer())
    begun = [name for name in recorder.names("begin") if name != "highs_run"]
    assert begun[:4] == ["prepare", "build", "compile", "stage"]
    assert begun.index("extract") < begun.index("report") < begun.index("check") < begun.index("release")
    stages = [info["stage"] for kind, name, info in recorder.events if kind == "begin" and name == "stage"]
    assert stages == [1, 2]
    open_: list[str] = []  # every phase ends, innermost first
    for kind, name, info in recorder.events:
        if kind == "begin":
            open_.append(name)
        elif kind == "end":
            assert open_.pop() == name and info["seconds"] >= 0
    assert open_ == []
    runs = [info for kind, name, info in recorder.events if kind == "end" and name == "highs_run"]
    answers = [info for kind, name, info in recorder.events if kind == "event" and name == "highs_answer"]
    assert len(runs) == len(answers) == 2  # one HiGHS run per stage, each with its answer
    assert [a["state"] for a in answers] == ["optimal", "optimal"]
    (compiled,) = [info for kind, name, info in recorder.events if kind == "event" and name == "compiled"]
    assert [r["columns"] for r in runs] == [compiled["columns"]] * 2
    assert [r["rows"] for r in runs] == [compiled["rows"], compiled["rows"] + 1]  # stage two: the score row
    assert all(r["mip"] for r in runs) and runs[1]["start"]  # stage two starts from stage one


def test_a_guided_solve_reports_its_relaxation_and_restricted_runs() -> None:
    recorder = _traced(every_kind_of_offer("min_cost", dear=True), EngineTuning(guide_min_integers=0))
    (compiled,) = [info for kind, name, info in recorder.events if kind == "event" and name == "compiled"]
    runs = [info for kind, name, info in recorder.events if kind == "begin" and name == "highs_run"]
    assert not runs[0]["mip"]  # the LP relaxation
    assert runs[1]["mip"] and runs[1]["columns"] < compiled["columns"]  # a restricted model


def test_no_tracer_no_calls_and_a_solve_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    assert set_tracer(None) is None
    assert not trace_module.tracing()
    calls = []
    with monkeypatch.context() as patched:
        patched.setattr(trace_module, "_Phase", lambda *a: calls.append(a))
        untraced = allocate(every_kind_of_offer())
    assert calls == []
    recorder = _traced(every_kind_of_offer())
    assert recorder.events
    assert untraced.allocations == allocate(every_kind_of_offer()).allocations


def test_a_phase_ended_by_an_exception_is_reported_ended() -> None:
    recorder = Recorder()
    previous = set_tracer(recorder)
    try:
        with pytest.raises(ValueError), trace_module.phase("build", size=3):
            raise ValueError("out")
    finally:
        set_tracer(previous)
    assert [(k, n) for k, n, _ in recorder.events] == [("begin", "build"), ("end", "build")]
    assert recorder.events[1][2]["size"] == 3


def test_highs_extra_options_come_after_the_engines_own() -> None:
    options = EngineTuning(highs_extra=(("output_flag", True), ("mip_rel_gap", 0.25)))
    highs = options.highs(10.0)
    assert highs["output_flag"] is True and highs["mip_rel_gap"] == 0.25
    assert highs["threads"] == 1
    assert EngineTuning().highs(10.0)["output_flag"] is False
