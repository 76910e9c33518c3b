"""``stockpile stress`` and ``stockpile robust``: the disruption analyses on the command line.

stockpile stress --example dla-2025-disruption [--draws N] [--seed S] [--mode hold|replan|both]
stockpile stress BODY.json [--disruptions D.json] [--plan PLAN.json] [--workers N | --scheduler tcp://...]
stockpile robust --example dla-2025-disruption [--draws K] [--measure expected|cvar] [--alpha A]

BODY.json is a stress-test or robust-allocation body (``request`` and ``disruptions``; its
other fields are defaults the options override), or a bare request with ``--disruptions``.
Draws are solved in this process unless ``--workers N`` (a local Dask cluster of N
single-threaded processes) or ``--scheduler`` (a running Dask cluster) says otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from models import problems_from_validation_error
from models.disruptions import Plan, RobustRequest, StressSummary, StressTestRequest, StressTestResult
from service import examples

EXIT_OK, EXIT_INVALID, EXIT_FAILED = 0, 2, 4
COMMANDS = ("stress", "robust")


def add_commands(sub: Any) -> None:
    """The two subcommands and their options (shared where they mean the same)."""
    for name, help_text in (
        ("stress", "stress-test a plan over random supply disruptions"),
        ("robust", "the allocation that holds up best over sampled disruptions"),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("file", nargs="?", help="a JSON body with request and disruptions (or a bare request), or -")
        p.add_argument("--example", choices=examples.names(), help="use a built-in example (with its disruptions)")
        p.add_argument("--disruptions", help="a JSON file with the disruption model")
        p.add_argument("--draws", type=int, help="number of draws (stress default 1,000; robust 200)")
        p.add_argument("--seed", type=int, help="random seed (default 0)")
        p.add_argument("--workers", type=int, default=0, help="local Dask workers (default 0: this process)")
        p.add_argument("--scheduler", help="a Dask scheduler address, tcp://host:8786")
        p.add_argument("--json", action="store_true", help="print the full answer as JSON")
        p.add_argument("--progress", action="store_true", help="show the progress bar even when not on a terminal")
        if name == "stress":
            p.add_argument("--mode", choices=("hold", "replan", "both"), help="default hold")
            p.add_argument("--plan", help='a JSON file {"allocations": [...]} (default: the optimal allocation)')
            p.add_argument("--details", action="store_true", help="list every draw (with --json)")
        else:
            p.add_argument("--measure", choices=("expected", "cvar"), help="default expected")
            p.add_argument("--alpha", type=float, help="the worst share CVaR is over (default 0.1)")


def run(args: argparse.Namespace) -> int:
    try:
        body = _body(args)
    except (OSError, ValueError) as exc:
        print(f"stockpile: {exc}", file=sys.stderr)
        return EXIT_INVALID
    try:
        if args.command == "stress":
            test = StressTestRequest.model_validate(body)
        else:
            robust = RobustRequest.model_validate(body)
    except ValidationError as exc:
        print("stockpile: the input is invalid:", file=sys.stderr)
        for p in problems_from_validation_error(exc):
            print(f"  {p.path}: {p.message}", file=sys.stderr)
        return EXIT_INVALID
    executor = _executor(args)
    try:
        if args.command == "stress":
            return _stress(test, executor, args)
        return _robust(robust, executor, args)
    finally:
        if hasattr(executor, "close"):
            executor.close()


def _read(path: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        return json.loads(text)
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not text: give a JSON file") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"cannot read {path}: {exc}") from None
    except OSError as exc:
        raise OSError(f"cannot read {path}: {exc.strerror or exc}") from None


def _body(args: argparse.Namespace) -> dict[str, Any]:
    if args.example:
        entry = examples.catalogue()[args.example]
        body: dict[str, Any] = {"request": entry["request"]}
        if "disruptions" in entry:
            body["disruptions"] = entry["disruptions"]
    elif args.file:
        raw = _read(args.file)
        if not isinstance(raw, dict):
            raise ValueError(f"{args.file}: give a JSON object")
        body = dict(raw) if "request" in raw else {"request": raw}
    else:
        raise ValueError("give a JSON FILE (or -) or --example NAME")
    if args.disruptions:
        body["disruptions"] = _read(args.disruptions)
    if "disruptions" not in body:
        raise ValueError("no disruption model: give --disruptions FILE, or a body with disruptions")
    options = {"draws": args.draws, "seed": args.seed}
    if args.command == "stress":
        options.update(mode=args.mode, details=args.details or None)
        if args.plan:
            options["plan"] = _read(args.plan)
        if args.example or "request" not in body:
            body = {k: v for k, v in body.items() if k in ("request", "disruptions", *StressTestRequest.model_fields)}
    else:
        options.update(measure=args.measure, alpha=args.alpha)
        body = {k: v for k, v in body.items() if k in RobustRequest.model_fields}
    body.update({k: v for k, v in options.items() if v is not None})
    return body


def _executor(args: argparse.Namespace) -> Any:
    from analyses.execution import DaskExecutor, LocalExecutor

    if args.scheduler:
        return DaskExecutor(args.scheduler)
    if args.workers > 0:
        return DaskExecutor(workers=args.workers)
    return LocalExecutor()


class ProgressBar:
    """``[#####.....] 1,234 / 10,000 draws`` on stderr, redrawn at most ten times a second."""

    def __init__(self, out: TextIO, shown: bool) -> None:
        self.out, self.shown, self.last, self.began = out, shown, 0.0, time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not self.shown or (now - self.last < 0.1 and done < total):
            return
        self.last = now
        filled = int(30 * done / max(total, 1))
        self.out.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done:,} / {total:,} draws  {now - self.began:.1f} s")
        self.out.flush()

    def close(self) -> None:
        if self.shown and self.last:
            self.out.write("\n")
            self.out.flush()


def _stress(test: StressTestRequest, executor: Any, args: argparse.Namespace) -> int:
    from analyses.stress import Control, plan_problems, stress_test

    if isinstance(test.plan, Plan):
        problems = plan_problems(test.request, test.plan)
        if problems:
            print("stockpile: the plan breaks the request's rules:", file=sys.stderr)
            for p in problems:
                print(f"  {p.path}: {p.message}", file=sys.stderr)
            return EXIT_INVALID
    bar = ProgressBar(sys.stderr, args.progress or sys.stderr.isatty())
    try:
        result = stress_test(test, executor, control=Control(on_progress=bar))
    finally:
        bar.close()
    if args.json:
        print(result.model_dump_json(indent=2, exclude_none=True))
    else:
        print_stress(result, sys.stdout)
    return EXIT_OK


def _robust(robust: RobustRequest, executor: Any, args: argparse.Namespace) -> int:
    from analyses.robust import robust_allocation
    from service.cli import print_table

    bar = ProgressBar(sys.stderr, args.progress or sys.stderr.isatty())
    bar(0, 1)
    if hasattr(executor, "client"):
        result = executor.client().submit(robust_allocation, robust, pure=False).result()
    else:
        result = robust_allocation(robust)
    bar(1, 1)
    bar.close()
    if args.json:
        print(result.model_dump_json(indent=2))
        return EXIT_OK
    print_table(result, sys.stdout)
    risk = result.risk
    w = sys.stdout.write
    w(f"risk ({risk.measure}{f', alpha {risk.alpha:g}' if risk.measure == 'cvar' else ''}, {risk.draws:,} draws)\n")
    w(f"  objective in sample: robust {risk.objective['robust']:.4f}, optimal {risk.objective['optimal']:.4f}\n")
    for name, sample in (("in sample", risk.in_sample), ("out of sample", risk.out_of_sample)):
        w(f"  {name}: robust {_dist(sample.robust)}\n  {' ' * len(name)}  optimal {_dist(sample.optimal)}\n")
    return EXIT_OK


def _dist(d: Any) -> str:
    return f"mean {d.mean:.4f}  p5 {d.p5:.4f}  p50 {d.p50:.4f}  p95 {d.p95:.4f}  min {d.min:.4f}"


def print_stress(result: StressTestResult, out: TextIO) -> None:
    """A readable summary of a stress test: per mode, the score, each mineral, the drivers, the worst draws."""
    w = out.write
    w(f"stress test: {result.done:,} of {result.draws:,} draws, seed {result.seed}\n")
    if result.message:
        w(f"note: {result.message}\n")
    for mode, summary in (("hold", result.hold), ("replan", result.replan)):
        if summary is not None:
            _print_summary(w, mode, summary)
    if result.value_of_flexibility is not None:
        w(f"value of flexibility (replan mean - hold mean): {result.value_of_flexibility:+.4f}\n")


def _print_summary(w: Any, mode: str, s: StressSummary) -> None:
    w(f"\n== {mode}: coverage score (undisrupted {s.base_coverage_score:.4f})\n  {_dist(s.coverage_score)}\n")
    if s.total_spend is not None:
        t = s.total_spend
        w(f"  spend: mean {t.mean:,.0f}  p5 {t.p5:,.0f}  p95 {t.p95:,.0f}\n")
    if s.statuses:
        w("  solves: " + ", ".join(f"{k} {v:,}" for k, v in sorted(s.statuses.items())) + "\n")
    w(f"\n  {'mineral':<14}{'mean':>8}{'p5':>8}{'p50':>8}{'P<50%':>8}{'P<90%':>8}\n")
    for m in s.minerals:
        c = m.coverage
        w(f"  {m.id:<14}{c.mean:>8.1%}{c.p5:>8.1%}{c.p50:>8.1%}{m.p_below_50:>8.1%}{m.p_below_90:>8.1%}\n")
    if s.drivers:
        w("\n  drivers (frequency, mean score loss when it happens):\n")
        for d in s.drivers[:8]:
            w(f"    {d.event:<24}{d.frequency:>8.1%}{d.mean_score_loss:>10.4f}\n")
    if s.worst:
        w("\n  worst draws:\n")
        for d in s.worst[:3]:
            ops = "; ".join(_change(c) for c in d.changes) or "no change"
            w(f"    #{d.index}: score {d.coverage_score:.4f}  ({ops})\n")


def _change(c: Any) -> str:
    if c.op == "exclude_countries":
        return "cut off " + ", ".join(c.countries)
    if c.op == "scale_capacity":
        return f"{c.supplier} fails"
    return f"{c.mineral} prices x{c.factor:.2f}"
