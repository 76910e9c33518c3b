"""The hard family (``bench.instances.hard_suite``): best-known values, and how Stockpile does at the limit.

    python -m bench.hard best --largest 400 --seeds 1 --limit 90
        long runs of HiGHS (the engine, at ``--limit``) and of SCIP (PySCIPOpt, through
        ``bench.pulp_baseline``'s model; or CBC) on
        each case; the better checked value of the two is kept in ``bench/hard_best.json``
        beside the commands that made it (a case's runs by solvers not run again are kept,
        and the better of its old and new best; entries of other cases are kept).
    python -m bench.hard run --largest 3000 --seeds 1
        each case at its own time limit, with and without the construction heuristic: the
        loss against the best known, and the time to the first valid allocation (rows kept in
        ``bench/results/hard-run.json``; a case's row keeps what a later run did not measure).
        ``--baselines``: raw highspy and PuLP/CBC at the same limits.
    python -m bench.hard table
        the table of the last run, against the best known values as they are now.
    python -m bench.hard heuristic --smallest 1000 --seeds 1,2,3
        the heuristic alone, its per-mineral MIPs given 0.05 s, what the engine gives them, and
        its default: whether it finds a valid allocation.
    python -m bench.hard flag --highs mip_heuristic_effort=0.3 --smallest 100 --largest 400 --seeds 1,2,3
        HiGHS's first stage on each case without and with HiGHS options (or a module's flag off and
        on, --flag module.NAME), in turns, up to --cpu seconds of CPU each: the best objective, the
        dual bound, whether it finished.
    python -m bench.hard same --largest 2000
        the benchmark set (bench.instances.suite) with and without the heuristic, side by side:
        whether every answer has the same status, score and spend.

Values: the coverage score under max_coverage (higher is better), the spend under min_cost
(lower is better). Loss: the share of the best known given up (1: no allocation at all).
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
from pathlib import Path

import highspy
import numpy as np

from bench.instances import Case, hard_suite
from bench.profile import option_value
from models import AllocationRequest, AllocationResult
from solvers import EngineTuning, allocate, check_result, construct_allocation, heuristic_mip_s, program_of

BEST = Path(__file__).resolve().parent / "hard_best.json"
RUNS = Path(__file__).resolve().parent / "results" / "hard-run.json"


def value_of(objective: str, score: float | None, spend: float | None) -> float | None:
    return score if objective == "max_coverage" else spend


def loss(objective: str, value: float | None, best: float | None) -> float | None:
    """The share of the best known given up; 1 without an allocation; None without a best known."""
    if best is None:
        return None
    if value is None:
        return 1.0
    if objective == "max_coverage":
        return max(0.0, (best - value) / best) if best > 0 else 0.0
    return max(0.0, (value - best) / best)


def answer_value(objective: str, request: AllocationRequest, result: AllocationResult) -> float | None:
    """``value_of`` an engine answer that passes the check (an empty ``max_coverage`` answer: 0); None
    without a valid allocation."""
    if not result.status.has_allocation or check_result(request, result):
        return None
    if objective == "max_coverage" and not result.allocations:
        return 0.0
    return value_of(objective, result.coverage_score, result.total_spend)


def found_by(result: AllocationResult) -> str:
    """Who found an engine answer: the construction heuristic, or HiGHS."""
    return "heuristic" if any(d.code == "heuristic_allocation" for d in result.diagnostics) else "highs"


def with_limit(case: Case, limit: float) -> AllocationRequest:
    body = {**case.body, "options": {**case.body["options"], "time_limit_s": limit}}
    return AllocationRequest.model_validate(body)


def best_known(cases: list[Case], limit: float, solvers: list[str]) -> dict:
    """Each case's long runs: every solver's checked value and status, and the best of them."""
    from bench import pulp_baseline

    out = {}
    for case in cases:
        request = with_limit(case, limit)
        runs = {}
        if "highs" in solvers:
            began = time.perf_counter()
            result = allocate(request, EngineTuning(time_limit_s=limit))
            ok = not check_result(request, result) and result.status.has_allocation
            runs["highs"] = {
                "status": result.status.value,
                "value": value_of(case.objective, result.coverage_score, result.total_spend) if ok else None,
                "seconds": round(time.perf_counter() - began, 2),
            }
        for name in [s for s in solvers if s in ("cbc", "scip")]:
            began = time.perf_counter()
            outcome = pulp_baseline.solve(request, name)
            c = outcome.checked
            ok = c.status in ("optimal", "feasible") and not c.violations
            runs[name] = {
                "status": c.status,
                "value": value_of(case.objective, c.score, c.spend) if ok else None,
                "seconds": round(time.perf_counter() - began, 2),
            }
        values = [r["value"] for r in runs.values() if r["value"] is not None]
        best = None
        if values:
            best = max(values) if case.objective == "max_coverage" else min(values)
        out[case.name] = {"objective": case.objective, "offers": case.offers, "limit_s": limit, "best": best, **runs}
        print(case.name, json.dumps(out[case.name]), flush=True)
    return out


def first_incumbent_s(request: AllocationRequest, opts: EngineTuning) -> float | None:
    """Seconds from the call's start to HiGHS's first allocation buying anything, starting from nothing.

    The engine's own build and compile, then one HiGHS run with its options, its start (nothing
    bought, where no floor forbids it) and a callback on every improving solution, up to the
    request's time limit: what the engine without the heuristic does in its first stage (the
    guided solve of large models is not reproduced).
    """
    began = time.perf_counter()
    program = program_of(request)
    opts = opts.for_request(request).for_model(request.objective, guided=False)
    h = highspy.Highs()
    found: list[float] = []

    def improving(callback_type, message, data_out, data_in, user_data) -> None:
        if callback_type == highspy.cb.HighsCallbackType.kCallbackMipInterrupt:
            if found:  # found: no need to go on
                data_in.user_interrupt = True
            return
        values = np.asarray(data_out.mip_solution)
        if not found and np.any(np.abs(values[: program.columns]) > 1e-9):
            found.append(time.perf_counter() - began)

    left = opts.time_limit_s - (time.perf_counter() - began)
    # as the engine without the heuristic: started from nothing bought where no floor forbids it
    trivial = not program.must_buy
    program.load(h, opts.highs(max(left, 0.01), with_start=trivial))
    if trivial:
        n = program.columns
        h.setSolution(n, np.arange(n, dtype=np.int32), np.zeros(n))
    h.setCallback(improving, None)
    h.startCallback(highspy.cb.HighsCallbackType.kCallbackMipImprovingSolution)
    h.startCallback(highspy.cb.HighsCallbackType.kCallbackMipInterrupt)
    h.run()
    return found[0] if found else None


VARIANTS = ("before", "after", "start")
_NO_FLAG = False  # what ``side_by_side`` sets when it compares HiGHS options only


def run(
    cases: list[Case],
    baselines: bool = False,
    variants: tuple[str, ...] = VARIANTS,
    highs: tuple[tuple[str, object], ...] = (),
) -> list[dict]:
    """Each case at its own limit: without the heuristic (before), with it (after), and with it handed
    to HiGHS as the start (start), those of ``variants``; the time to the first valid allocation with and
    without it."""
    rows = []
    for case in cases:
        request = case.request
        row = {"case": case.name, "offers": case.offers, "objective": case.objective, "limit_s": case.time_limit_s}
        # first, while no HiGHS run left behind at a limit shares the process's time: the heuristic
        # alone, its per-mineral MIPs given what the engine gives them after HiGHS (half its reserve)
        cpu = time.process_time()
        seed = construct_allocation(request, EngineTuning(), mip_s=heuristic_mip_s(case.time_limit_s))
        found = seed.result is not None
        row["after_first_s"] = seed.seconds if found else None
        row["after_first_cpu_s"] = time.process_time() - cpu if found else None
        row["heuristic_blocked"] = None if found else seed.blocked
        if "before" in variants:
            row["before_first_s"] = first_incumbent_s(request, EngineTuning(construct=False))
        runs = {
            "before": EngineTuning(construct=False),
            "after": EngineTuning(),
            "start": EngineTuning(start_from_heuristic=True),
            # as "after", with the HiGHS options of ``highs`` on every run (an option under trial)
            "tuned": EngineTuning(highs_extra=highs),
        }
        for label, options in [(k, v) for k, v in runs.items() if k in variants]:
            result = allocate(request, options)
            row[f"{label}_value"] = answer_value(case.objective, request, result)
            row[f"{label}_status"] = result.status.value
            row[f"{label}_s"] = round(result.solve_seconds, 2)  # when the answer came
            row[f"{label}_by"] = found_by(result)
        if baselines:  # the reference solvers at the same limit
            from bench import highs_baseline, pulp_baseline

            for label, outcome in (("raw_highs", highs_baseline.solve), ("cbc", pulp_baseline.solve)):
                c = outcome(request).checked
                ok = c.status in ("optimal", "feasible") and not c.violations
                row[f"{label}_value"] = value_of(case.objective, c.score, c.spend) if ok else None
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def heuristic_alone(cases: list[Case]) -> list[dict]:
    """The heuristic alone on each case, its per-mineral MIPs given the least the engine gives them
    (0.05 s, when HiGHS overran its deadline), what it gives them when HiGHS stops on time, and its own
    default (a tenth of the limit, at most 1 s): whether it finds a valid allocation, and its time."""
    rows = []
    for case in cases:
        row = {"case": case.name, "offers": case.offers, "objective": case.objective, "limit_s": case.time_limit_s}
        for label, mip_s in (("least", 0.05), ("engine", heuristic_mip_s(case.time_limit_s)), ("default", None)):
            began, cpu = time.perf_counter(), time.process_time()
            seed = construct_allocation(case.request, EngineTuning(), mip_s=mip_s)
            found = seed.result is not None
            row[label] = {
                "mip_s": mip_s,
                "found": found,
                "value": value_of(case.objective, seed.result.coverage_score, seed.result.total_spend)
                if found
                else None,
                "s": round(time.perf_counter() - began, 3),
                "cpu_s": round(time.process_time() - cpu, 3),
                "blocked": None if found else seed.blocked,
            }
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def cpu_limited(request: AllocationRequest, cpu_s: float, highs_extra: tuple = ()) -> dict:
    """HiGHS's first stage (the engine's model and options, no heuristic, no guide) on ``request`` until it
    proves its gap or has used ``cpu_s`` of this process's CPU time (a callback interrupts it): a measure of
    the model that a loaded machine's wall clock does not blur. The best objective found (the score under
    max_coverage, spend in the model's unit under min_cost; minimised, signs as HiGHS has them), the dual
    bound, the CPU seconds used, and whether it finished."""
    cpu = time.process_time()
    program = program_of(request)
    opts = EngineTuning(construct=False, highs_extra=highs_extra).for_request(request)
    opts = opts.for_model(request.objective, guided=False)
    h = highspy.Highs()

    def interrupt(callback_type, message, data_out, data_in, user_data) -> None:
        if time.process_time() - cpu > cpu_s:
            data_in.user_interrupt = True

    trivial = not program.must_buy
    program.load(h, opts.highs(3600.0, with_start=trivial))
    if trivial:
        n = program.columns
        h.setSolution(n, np.arange(n, dtype=np.int32), np.zeros(n))
    h.setCallback(interrupt, None)
    h.startCallback(highspy.cb.HighsCallbackType.kCallbackMipInterrupt)
    h.run()
    info = h.getInfo()
    found = info.primal_solution_status == 2
    out = {
        "finished": h.getModelStatus() == highspy.HighsModelStatus.kOptimal,
        "objective": info.objective_function_value if found else None,
        "bound": info.mip_dual_bound,
        "cpu_s": round(time.process_time() - cpu, 2),
        "nodes": info.mip_node_count,
    }
    return out


def side_by_side(cases: list[Case], flag: str | None, cpu_s: float, highs: tuple = ()) -> list[dict]:
    """Each case's first stage (``cpu_limited``) with the module flag ``flag`` ("module.NAME", a bool) off
    and on, in turns; given ``highs`` options, without and with them instead (the flag as it is)."""
    import importlib

    module_name, name = (flag or "bench.hard._NO_FLAG").rsplit(".", 1)
    module = importlib.import_module(module_name)
    kept = getattr(module, name)
    rows = []
    try:
        for case in cases:
            row = {"case": case.name, "offers": case.offers, "objective": case.objective, "cpu_limit_s": cpu_s}
            for on in (False, True):
                if not highs:
                    setattr(module, name, on)
                row["on" if on else "off"] = cpu_limited(case.request, cpu_s, highs if on else ())
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        setattr(module, name, kept)
    return rows


def same_on_the_set(largest: int | None) -> bool:
    """Whether every answer of the benchmark set is the same with the heuristic as without it."""
    from bench.instances import suite

    alike = True
    for case in suite(largest=largest):
        runs = []
        for construct in (False, True):
            began = time.perf_counter()
            r = allocate(case.request, EngineTuning(construct=construct))
            runs.append((r.status.value, r.coverage_score, r.total_spend, round(time.perf_counter() - began, 2)))
        same = [x[:3] for x in runs] == [runs[0][:3]] * 2
        alike &= same
        print(case.name, "same" if same else "DIFFERENT", "without, with (status, score, spend, s):", runs, flush=True)
    return alike


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}%"


def _secs(x: float | None) -> str:
    return "none" if x is None else f"{x:.2f}"


def _gm_loss(rows: list[dict], key: str) -> float | None:
    xs = [r[key] for r in rows if r.get(key) is not None]
    return math.exp(sum(math.log1p(x) for x in xs) / len(xs)) - 1 if xs else None


def _gm_time(rows: list[dict], key: str) -> float | None:
    """None unless every seed found one."""
    xs = [r[key] for r in rows if r.get(key) is not None]
    return math.exp(sum(math.log(max(x, 1e-4)) for x in xs) / len(xs)) if xs and len(xs) == len(rows) else None


def _by_heuristic(rows: list[dict]) -> str:
    """How many of ``rows`` were answered with the heuristic's allocation (- where not recorded)."""
    known = [r for r in rows if "after_by" in r]
    return f"{sum(r['after_by'] == 'heuristic' for r in known)} of {len(known)}" if known else "-"


def with_losses(rows: list[dict], best: dict) -> list[dict]:
    """``rows`` with each value's loss against the best known (None: no best known for the case)."""
    out = []
    for r in rows:
        kinds = [k for k in ("before", "after", "start", "tuned", "raw_highs", "cbc") if f"{k}_value" in r]
        # the best known: the long runs', or a value seen at the limit better by more than the check
        # tolerates (then marked)
        seen = [r[f"{k}_value"] for k in kinds if r[f"{k}_value"] is not None]
        known = best.get(r["case"], {}).get("best")
        pick = max if r["objective"] == "max_coverage" else min
        better = pick(seen, default=None) if seen else None
        if better is not None and (
            known is None or abs(better - known) > 1e-6 * abs(known) and pick(known, better) != known
        ):
            known, r = better, {**r, "best_from_runs": True}
        losses = {f"{k}_loss": loss(r["objective"], r[f"{k}_value"], known) for k in kinds}
        out.append({**r, **losses})
    return out


def table(rows: list[dict]) -> str:
    """Per size (geometric mean of 1 + loss over seeds, less 1; time: geometric mean where found). "heuristic
    alone": its wall and CPU seconds run by itself; "after: answer s": when the engine's answer came."""
    head = (
        "| offers | objective | limit s | loss before | after | after, started | raw highspy | PuLP/CBC "
        "| first s before | heuristic alone | its CPU s | after: answer s | by heuristic |"
    )
    lines = [
        head,
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    groups: dict[tuple[int, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["offers"], r["objective"]), []).append(r)
    for (offers, objective), rs in sorted(groups.items()):
        marked = "*" if any(r.get("best_from_runs") for r in rs) else ""
        lines.append(
            f"| {offers}{marked} | {objective} | {rs[0]['limit_s']:g} | {_pct(_gm_loss(rs, 'before_loss'))} | "
            f"{_pct(_gm_loss(rs, 'after_loss'))} | {_pct(_gm_loss(rs, 'start_loss'))} | "
            f"{_pct(_gm_loss(rs, 'raw_highs_loss'))} | "
            f"{_pct(_gm_loss(rs, 'cbc_loss'))} | {_secs(_gm_time(rs, 'before_first_s'))} | "
            f"{_secs(_gm_time(rs, 'after_first_s'))} | {_secs(_gm_time(rs, 'after_first_cpu_s'))} | "
            f"{_secs(_gm_time(rs, 'after_s'))} | {_by_heuristic(rs)} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["best", "run", "table", "same", "heuristic", "flag"])
    parser.add_argument("--largest", type=int, default=None, help="skip cases with more offers than this")
    parser.add_argument("--smallest", type=int, default=0, help="skip cases with fewer offers than this")
    parser.add_argument("--seeds", default="1", help="comma-separated seeds")
    parser.add_argument("--limit", type=float, default=90.0, help="best: each solver's time limit, s")
    parser.add_argument(
        "--solvers", default="highs,scip", help="best: some of highs,scip,cbc (scip: pip install pyscipopt)"
    )
    parser.add_argument("--flag", default=None, help="flag: the module flag (module.NAME, a bool) to turn on")
    parser.add_argument("--cpu", type=float, default=2.0, help="flag: CPU seconds each first stage may use")
    parser.add_argument("--only", default=None, help="only cases whose name contains this")
    parser.add_argument("--baselines", action="store_true", help="run: raw highspy and PuLP/CBC at the same limits")
    parser.add_argument(
        "--variants", default=",".join(VARIANTS), help="run: some of before,after,start,tuned (the engine's options)"
    )
    parser.add_argument(
        "--highs",
        action="append",
        default=[],
        help="run, flag: a HiGHS option name=value (run: the tuned variant; flag: instead of the flag)",
    )
    args = parser.parse_args(argv)
    seeds = tuple(int(s) for s in args.seeds.split(","))
    cases = [c for c in hard_suite(seeds, args.largest) if c.offers >= args.smallest]
    if args.only:
        cases = [c for c in cases if args.only in c.name]
    command = "python -m bench.hard " + " ".join(map(shlex.quote, sys.argv[1:] if argv is None else argv))
    if args.what == "best":
        found = best_known(cases, args.limit, args.solvers.split(","))
        saved = json.loads(BEST.read_text()) if BEST.exists() else {"cases": {}}
        for name, entry in found.items():  # runs of solvers not run now are kept, and the better best
            old = saved["cases"].get(name, {})
            values = [v for v in (old.get("best"), entry["best"]) if v is not None]
            pick = max if entry["objective"] == "max_coverage" else min
            kept = {k: v for k, v in old.items() if k not in entry and k not in ("best", "command", "limit_s")}
            commands = [c for c in old.get("commands", [old["command"]] if "command" in old else []) if c != command]
            saved["cases"][name] = {
                **kept,
                **{k: v for k, v in entry.items() if k != "limit_s"},
                "best": pick(values) if values else None,
                "commands": [*commands, f"{command} (limit {entry['limit_s']:g} s)"],
            }
        saved["cases"] = dict(sorted(saved["cases"].items()))
        BEST.write_text(json.dumps(saved, indent=1) + "\n")
        return 0
    extra = tuple((k, option_value(v)) for k, v in (o.split("=", 1) for o in args.highs))
    if args.what == "flag":
        if not extra and not args.flag:
            parser.error("flag: give --highs name=value or --flag module.NAME")
        side_by_side(cases, args.flag, args.cpu, extra)
        return 0
    if args.what == "heuristic":
        rows = heuristic_alone(cases)
        print(
            f"found: {sum(r['engine']['found'] for r in rows)} of {len(rows)} at the engine's share, "
            f"{sum(r['least']['found'] for r in rows)} at 0.05 s, {sum(r['default']['found'] for r in rows)} "
            "at the default"
        )
        return 0
    if args.what == "same":
        return 0 if same_on_the_set(args.largest) else 1
    if args.what == "run":
        rows = run(cases, args.baselines, tuple(args.variants.split(",")), extra)
        # a case's row keeps what this run did not measure (another variant, the baselines),
        # with the commands that made it
        kept = {r["case"]: r for r in json.loads(RUNS.read_text())["rows"]} if RUNS.exists() else {}
        for r in rows:
            old = kept.get(r["case"], {})
            commands = [c for c in old.get("commands", [old["command"]] if "command" in old else []) if c != command]
            merged = {k: v for k, v in {**old, **r}.items() if k != "command"}
            kept[r["case"]] = {**merged, "commands": [*commands, command]}
        rows = list(kept.values())
        RUNS.parent.mkdir(exist_ok=True)
        RUNS.write_text(json.dumps({"command": command, "rows": rows}, indent=1) + "\n")
    saved = json.loads(RUNS.read_text())
    best = json.loads(BEST.read_text())["cases"] if BEST.exists() else {}
    made_by = {c for r in saved["rows"] for c in r.get("commands", [r.get("command", saved["command"])])}
    print("\n" + "\n".join(sorted(made_by)) + "\n")
    print(table(with_losses(saved["rows"], best)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
