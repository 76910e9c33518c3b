"""Where one engine solve spends its time, through the engine's trace hook (``solvers.set_tracer``).

    python -m bench.profile 40x250-min_cost 9 --seed 3     # each phase: medians of 9 warm solves
    python -m bench.profile 200x250-max_coverage --runs    # each HiGHS run: model, time given and taken
    python -m bench.profile 200x250-max_coverage --memory  # resident memory at each phase's start and end
    python -m bench.profile 40x250-max_coverage --highs-log --highs presolve=off   # HiGHS's own log
    python -m bench.profile dla-2025 41 --http             # the HTTP path's time outside the engine

CASE is a name from ``bench.instances`` (dla-2025, 5x20-min_cost, ..., 200x250-max_coverage),
generated from ``--seed`` (default 1); ``--limit`` replaces its time limit.
``--engine FIELD=VALUE`` sets a field of ``solvers.EngineTuning``
(``--engine guide_min_integers=none``: no guided solve), ``--highs OPTION=VALUE`` a HiGHS
option on every run; values ``true``, ``false``, ``none``, numbers, or text.

Phases (the default): one warm-up solve, then REPS solves (default 7); the median of each
phase's time per solve (a phase that runs more than once in a solve is summed), HiGHS's
``run`` (``highs_run``), and ``outside HiGHS``: the whole call less that, the engine's
overhead. The process is set up as a solver worker is: it keeps the memory a solve frees
(``service.malloc.keep_freed_memory``; ``--glibc-defaults`` does not), and collects
garbage between solves, untimed, with the collector off during them
(``service.worker.collect_between_jobs``). To compare two versions of the engine, run it
from each one's worktree, alternately, a few rounds each.

``--runs``, ``--memory`` and ``--highs-log`` (together or alone) make one solve, with no
warm-up (the interpreter's first solve, as a fresh worker's):

* ``--runs``: one line per HiGHS run as it ends: when it started, the model (``LP``
  relaxation, ``restricted`` MIP over some offers, ``full`` MIP), its columns, the time
  HiGHS was given and took, how it ended, its objective, bound and gap (the model's own
  units; a restricted run's are its own model's). A full run the engine stopped waiting
  for at its limit (``solvers/solve/overrun.py``) prints when it ends, after the result;
* ``--memory``: the resident memory (VmRSS) at each phase's start and end and the most
  sampled in between (every ``--interval`` seconds), then the peak (VmHWM), with glibc's
  own memory settings (a fresh process's);
* ``--highs-log``: HiGHS's own log of every run (``output_flag``).

``--http``: ``stockpile serve`` on a free loopback port with its access log on, REPS POSTs
of the case's body after three warm-ups, and four medians: the client's wall time, the
request as the outermost middleware saw it (``duration_ms``), the gateway's round trip to
the worker process (``solve_ms``) and the engine's own ``solve_seconds``.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from typing import Any

WORDS = {"true": True, "false": False, "none": None}


def option_value(text: str) -> object:
    """``true``/``false``/``none`` (any case) as themselves, a number as int or float, anything else as given."""
    if text.lower() in WORDS:
        return WORDS[text.lower()]
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _pairs(items: list[str], parser: argparse.ArgumentParser, flag: str) -> dict[str, object]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            parser.error(f"{flag} takes NAME=VALUE, not {item!r}")
        out[name] = option_value(value)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("case")
    parser.add_argument("reps", type=int, nargs="?", default=7, help="timed solves (or POSTs with --http)")
    parser.add_argument("--seed", type=int, default=1, help="the generated instance's seed (default 1)")
    parser.add_argument("--limit", type=float, default=None, help="time limit, s (default: the case's)")
    parser.add_argument("--engine", action="append", default=[], metavar="FIELD=VALUE", help="a EngineTuning field")
    parser.add_argument("--highs", action="append", default=[], metavar="OPTION=VALUE", help="a HiGHS option")
    parser.add_argument("--runs", action="store_true", help="each HiGHS run of one solve")
    parser.add_argument("--memory", action="store_true", help="resident memory through one solve")
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between memory samples")
    parser.add_argument("--highs-log", action="store_true", help="HiGHS's own log of one solve")
    parser.add_argument("--http", action="store_true", help="the HTTP path's time outside the engine")
    parser.add_argument("--glibc-defaults", action="store_true", help="do not keep freed memory as a worker does")
    args = parser.parse_args(argv)

    from bench.instances import named

    try:
        body = named(args.case, args.seed).body
    except KeyError as exc:
        parser.error(str(exc.args[0]))
    if args.limit is not None:
        body = {**body, "options": {**body["options"], "time_limit_s": args.limit}}
    if args.http:
        return _http(args.case, args.seed, body, args.reps)

    from models import AllocationRequest
    from solvers import EngineTuning

    request = AllocationRequest.model_validate(body)
    highs = _pairs(args.highs, parser, "--highs")
    if args.highs_log:
        highs = {"output_flag": True, **highs}
    try:
        options = EngineTuning(**_pairs(args.engine, parser, "--engine"), highs_extra=tuple(highs.items()))
    except TypeError as exc:
        parser.error(str(exc))
    if not args.glibc_defaults and not args.memory:  # --memory shows glibc's own behaviour
        from service.malloc import keep_freed_memory

        keep_freed_memory()
    print(f"{args.case} (seed {args.seed})", flush=True)
    if args.runs or args.memory or args.highs_log:
        return _one_solve(request, options, args.runs, args.interval if args.memory else None)
    return _phases(request, options, args.reps)


def _phases(request, options, reps: int) -> int:
    """Medians over ``reps`` warm solves of each phase's time, HiGHS's and the rest."""
    from service.worker import collect_between_jobs
    from solvers import allocate, set_tracer

    spent: dict[str, float] = defaultdict(float)

    def tracer(kind: str, name: str, info: dict[str, Any]) -> None:
        if kind == "end":
            spent[name] += info["seconds"]

    allocate(request, options)  # warm-up, untraced
    collect_between_jobs()
    solves = []
    previous = set_tracer(tracer)
    try:
        for _ in range(reps):
            spent.clear()
            began = time.perf_counter()
            allocate(request, options)
            total = time.perf_counter() - began
            gc.collect()  # between solves, untimed, as a worker does
            solves.append({**spent, "outside HiGHS": total - spent.get("highs_run", 0.0), "total": total})
    finally:
        set_tracer(previous)
    names = list(dict.fromkeys(name for solve in solves for name in solve))
    print(f"median of {reps} solves (phases summed within a solve; stage includes its HiGHS runs)")
    for name in names:
        ms = 1000 * statistics.median(solve.get(name, 0.0) for solve in solves)
        print(f"  {name:16s} {ms:10.2f} ms")
    return 0


def _one_solve(request, options, runs: bool, interval: float | None) -> int:
    """One solve, with its HiGHS runs (``runs``) and resident memory (``interval``: sampled) traced."""
    from solvers import allocate, set_tracer

    began = time.perf_counter()
    state: dict[str, Any] = {"columns": None, "stage": 0, "high": 0}
    lock = threading.Lock()
    started: dict[int, tuple[float, dict[str, Any]]] = {}  # thread -> its HiGHS run's start and info

    def memory(text: str) -> None:
        rss = _status_kb("VmRSS:")
        most = max(state["high"], rss) / 1024
        print(f"{time.perf_counter() - began:8.2f} s  {rss / 1024:7.0f} MB  (most {most:5.0f})  {text}", flush=True)
        state["high"] = rss

    def tracer(kind: str, name: str, info: dict[str, Any]) -> None:
        with lock:
            if kind == "event" and name == "compiled":
                state["columns"] = info["columns"]
            if kind == "begin" and name == "stage":
                state["stage"] = info["stage"]
            if kind == "begin" and name == "highs_run":
                started[threading.get_ident()] = (time.perf_counter() - began, info)
            if runs and kind == "event" and name == "highs_answer":
                at, run = started.pop(threading.get_ident(), (float("nan"), {}))
                print(_run_line(at, run, info, state), flush=True)
            if interval is not None and kind in ("begin", "end"):
                memory(f"{name}{_stage(name, info)} {'starts' if kind == 'begin' else 'ends'}")

    if interval is not None:
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(interval):
                state["high"] = max(state["high"], _status_kb("VmRSS:"))

        threading.Thread(target=sample, daemon=True).start()
        memory("start")
    previous = set_tracer(tracer)
    try:
        result = allocate(request, options)
    finally:
        set_tracer(previous)
    if interval is not None:
        stop.set()
        memory(f"allocate returned: {result.status.value}")
        print(f"peak resident memory (VmHWM): {_status_kb('VmHWM:') / 1024:.0f} MB")
    print(
        f"allocate: {time.perf_counter() - began:.2f} s on a {request.options.time_limit_s:g} s limit, "
        f"{result.status.value}, score {result.coverage_score}, spend {result.total_spend:,.0f}, "
        f"gap {result.mip_gap}",
        flush=True,
    )
    return 0


def _stage(name: str, info: dict[str, Any]) -> str:
    return f" {info['stage']}" if name == "stage" else ""


def _run_line(at: float, run: dict[str, Any], answer: dict[str, Any], state: dict[str, Any]) -> str:
    if not run.get("mip", True):
        kind = "LP"
    elif state["columns"] is not None and run.get("columns", 0) < state["columns"]:
        kind = "restricted"
    else:
        kind = "full"
    return (
        f"  stage {state['stage']}  at {at:7.1f} s  {kind:10s} {run.get('columns', 0):7d} columns  "
        f"given {run.get('time_limit', float('nan')):7.1f} s  took {answer['seconds']:7.1f} s  "
        f"{answer['state']:20s} objective {_g(answer['objective'])}  bound {_g(answer['bound'])}  "
        f"gap {_g(answer['gap'])}"
    )


def _g(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def _http(case: str, seed: int, body: dict, reps: int) -> int:
    """Medians of ``reps`` POSTs: client, middleware, worker round trip, engine."""
    from bench.run import Server

    data = json.dumps(body).encode()
    headers = {"content-type": "application/json"}
    seconds, engine = [], []
    with tempfile.TemporaryFile("w+") as log:
        server = Server(data, log=log)
        try:
            for _ in range(3):
                server.client.post("/v1/allocations", content=data, headers=headers)
            for _ in range(reps):
                began = time.perf_counter()
                response = server.client.post("/v1/allocations", content=data, headers=headers)
                seconds.append(time.perf_counter() - began)
                engine.append(response.json()["solve_seconds"])
        finally:
            server.close()
        log.seek(0)
        lines = [json.loads(line) for line in log if line.startswith("{") and '"route": "/v1/allocations"' in line]
    lines = lines[-reps:]
    med = statistics.median
    print(f"{case} (seed {seed}): median of {reps} POSTs")
    print(f"  client wall time      {1000 * med(seconds):8.2f} ms")
    print(f"  server (middleware)   {med(line['duration_ms'] for line in lines):8.2f} ms")
    print(f"  worker round trip     {med(line['solve_ms'] for line in lines):8.2f} ms")
    print(f"  engine (allocate)     {1000 * med(engine):8.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
