"""The engine's trace hook: who wants to see where a solve's time goes sets a tracer.

    from solvers import allocate, set_tracer

    def tracer(event: str, name: str, info: dict) -> None:
        print(event, name, info)

    previous = set_tracer(tracer)
    try:
        allocate(request)
    finally:
        set_tracer(previous)

``allocate`` marks its phases with ``phase(name, **info)``, a context manager: the
tracer is called with ``("begin", name, info)`` when a phase starts and with
``("end", name, info)`` when it ends, ``info["seconds"]`` then holding its wall time
(an exception inside the phase ends it too). ``event(name, **info)`` is a point in
time, called as ``("event", name, info)``. The phases, nested as they run:

* ``prepare``: the request read into arrays (``solvers/prepare/instance.py``);
* ``build``: the Pyomo model made (``solvers/build/program.py``), once per try (a try is
  solved again with tighter tolerances when its answer fails the check);
* ``compile``: the model read into matrices, followed by the event ``compiled``
  (``columns``, ``rows``: the full model's size);
* ``stage``: one stage's solve (info ``stage``: 1, or 2 for ``max_coverage``'s least
  spend), a HiGHS run or a guided solve of several;
* ``highs_run``: inside HiGHS's ``run``; info ``columns``, ``rows``, ``mip`` (False:
  an LP, such as the guided solve's relaxation; a MIP with fewer columns than the
  compiled model is a guided solve's restricted model), ``time_limit`` (what HiGHS
  was given), ``start`` (warm-started or not). Each is
  followed by the event ``highs_answer``: ``state``, ``objective``, ``bound``, ``gap``
  (in the model's own units) and ``seconds`` (the run, passing the model and reading
  the answer included);
* ``blocks``: under ``min_cost``, stage one solved mineral by mineral (``solvers/solve/blocks.py``;
  info ``count``, ``coupling``: the rows left out), a HiGHS run each; followed by the event
  ``blocks_answer``: ``kept`` (the parts' answers keep the budget: the whole model's answer),
  ``proven``, ``objective`` (the whole model's, in its units) and ``seconds``;
* ``heuristic``: the construction heuristic (``solvers/solve/heuristic.py``), at most once a
  call: when stage one's HiGHS run has nothing better than its start half a second in, or
  when an answer needs it after HiGHS;
* ``extract``: the quantities read from the solver's values; ``report``: the
  result's figures and findings; ``check``: ``check_result`` on it;
* ``release``: the model freed.

Everything outside the ``highs_run`` phases is the engine's own time. A guided
solve's full run may run on a thread of its own (``solvers/solve/overrun.py``): its phase
is reported from that thread.

The tracer is process-wide, as a solver worker runs one solve at a time; without one
each phase costs a function call and a test. A tracer's exception propagates into
the solve: tracers are for measuring, and must not fail.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

Tracer = Callable[[str, str, dict[str, Any]], None]

_tracer: Tracer | None = None


def set_tracer(tracer: Tracer | None) -> Tracer | None:
    """Trace every solve in this process with ``tracer`` (None: none); the previous tracer."""
    global _tracer
    previous, _tracer = _tracer, tracer
    return previous


def tracing() -> bool:
    """Whether a tracer is set (to skip gathering what only a tracer reads)."""
    return _tracer is not None


class _Untraced:
    """The phase when no tracer is set: nothing happens."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_UNTRACED = _Untraced()


class _Phase:
    __slots__ = ("began", "info", "name", "tracer")

    def __init__(self, tracer: Tracer, name: str, info: dict[str, Any]) -> None:
        self.tracer, self.name, self.info = tracer, name, info
        self.began = 0.0

    def __enter__(self) -> None:
        self.tracer("begin", self.name, self.info)
        self.began = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        seconds = time.perf_counter() - self.began
        self.tracer("end", self.name, {**self.info, "seconds": seconds})


def phase(name: str, **info: Any) -> _Phase | _Untraced:
    """A context manager marking the phase ``name`` of a solve for the tracer, if one is set."""
    tracer = _tracer
    if tracer is None:
        return _UNTRACED
    return _Phase(tracer, name, info)


def event(name: str, **info: Any) -> None:
    """Tell the tracer, if one is set, that ``name`` happened."""
    tracer = _tracer
    if tracer is not None:
        tracer("event", name, info)
