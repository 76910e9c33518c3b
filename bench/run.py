"""Run the benchmark: four contenders, the same instances, alternating, medians.

    .venv/bin/python -m bench.run            # the full set, DLA to 50,000 offers (~25 min)
    .venv/bin/python -m bench.run --quick    # DLA, 100 and 500 offers (~2 min)

While editing, measure a commit from its own worktree, so that no edit reaches a
contender started later in the run (the report names the commit, and whether
the tree had uncommitted changes):

    repo=$PWD && git worktree add /tmp/benchtree HEAD && cd /tmp/benchtree && $repo/.venv/bin/python -m bench.run

Contenders, each in its own process so that peak memory is its own:
  http    ``stockpile serve`` on a free loopback port; the client posts the JSON
          body and waits for the parsed response (validation, engine, JSON both ways)
  engine  ``solvers.allocate`` called in-process on a validated request
  highs   ``bench/highs_baseline.py``: the same contract straight on highspy + numpy
  pulp    ``bench/pulp_baseline.py``: the same contract in PuLP, solved by bundled CBC
Each repetition runs every contender once, in a rotating order. Every answer is
checked with plain arithmetic (``solvers.check_result``) and compared with the
highspy baseline's score and spend. The full suite's results go to
``bench/results/suite.json``, the tables between the markers in ``docs/performance.md``
and the plot ``docs/performance.png``; the quick set's (``--quick``, a check before and
after a change, not the verdict) to ``bench/results/quick.json`` only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

import httpx

from bench.instances import ROOT, Case, suite
from bench.targets import TARGETS, show

CONTENDERS = ["http", "engine", "highs", "pulp"]
LABELS = {
    "http": "stockpile over HTTP",
    "engine": "stockpile engine in-process",
    "highs": "raw highspy baseline",
    "pulp": "PuLP + CBC",
}
DOC = ROOT / "docs" / "performance.md"
PLOT = ROOT / "docs" / "performance.png"
# The latest run of each instance set: the full suite, and the quick one (``--quick``).
RESULTS = ROOT / "bench" / "results" / "suite.json"
QUICK_RESULTS = ROOT / "bench" / "results" / "quick.json"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def reps_for(offers: int) -> int:
    if offers <= 50:  # millisecond solves: a median of 7 moved by 10% between runs
        return 31
    if offers <= 100:
        return 7
    if offers <= 500:
        return 5
    if offers <= 2000:
        return 2
    return 1


class Worker:
    def __init__(self, contender: str, path: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.worker", contender, path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=_env(),
        )
        self._read()  # ready

    def _read(self) -> dict:
        assert self.proc.stdout is not None
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("worker died")
            with contextlib.suppress(ValueError):
                return json.loads(line)

    def run(self) -> dict:
        if self.proc.poll() is not None:
            return _failed("worker died earlier")
        assert self.proc.stdin is not None
        began = time.perf_counter()
        try:
            self.proc.stdin.write("run\n")
            self.proc.stdin.flush()
            return self._read()
        except (RuntimeError, OSError) as exc:
            return _failed(f"worker died: {exc}", time.perf_counter() - began)

    def close(self) -> float:
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            peak = self._read()["peak_rss_mb"]
            self.proc.wait(timeout=30)
            return peak
        except (RuntimeError, OSError, subprocess.TimeoutExpired):
            return float("nan")


def _failed(message: str, seconds: float = float("nan")) -> dict:
    return {
        "seconds": seconds,
        "run_seconds": float("nan"),
        "status": "error",
        "score": None,
        "spend": None,
        "violations": [message],
    }


class Server:
    """``stockpile serve`` on a free loopback port, and a client for it."""

    def __init__(self, body: bytes, log: IO[str] | None = None) -> None:
        """``log``: where the server's output goes, with its access log on (default: nowhere, off)."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        level = "info" if log is not None else "warning"
        env = _env() | {"STOCKPILE_MAX_TIME_LIMIT_S": "600", "STOCKPILE_LOG_LEVEL": level}
        out = log if log is not None else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=out,
        )
        self.body = body
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=900)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if self.client.get("/readyz").status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError("server did not become ready")

    def run(self, request) -> dict:
        from models import AllocationResult
        from solvers import check_result

        began = time.perf_counter()
        try:
            response = self.client.post(
                "/v1/allocations", content=self.body, headers={"content-type": "application/json"}
            )
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            return _failed(f"HTTP: {exc}", time.perf_counter() - began)
        seconds = time.perf_counter() - began
        if response.status_code != 200:
            return {
                "seconds": seconds,
                "status": f"http {response.status_code}",
                "score": None,
                "spend": None,
                "violations": [str(data)[:200]],
            }
        result = AllocationResult.model_validate(data)
        return {
            "seconds": seconds,
            "status": result.status.value,
            "score": result.coverage_score,
            "spend": result.total_spend if result.status.has_allocation else None,
            "violations": [str(v) for v in check_result(request, result)],
        }

    def close(self) -> float:
        pids = _tree(self.proc.pid)
        peak = sum(_hwm(p) for p in pids)
        self.client.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        return peak


def _kill_tree(proc: subprocess.Popen) -> None:
    """Kill ``proc`` and every process under it (a server's workers), children first, and reap it."""
    for pid in reversed(_tree(proc.pid)[1:]):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(Exception):
        proc.kill()
        proc.wait(timeout=20)


def _stop_on_sigterm() -> None:
    """Make SIGTERM end the run as Ctrl+C does, through ``finally`` blocks: its processes are killed.

    By default SIGTERM ends Python at once, and a server's worker processes outlive it.
    """

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def _env() -> dict[str, str]:
    return os.environ | {"PYTHONPATH": str(ROOT)}


def _tree(pid: int) -> list[int]:
    out = [pid]
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                for child in f.read().split():
                    out += _tree(int(child))
    return out


def _hwm(pid: int) -> float:
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def bench_case(case: Case, reps: int, contenders: list[str]) -> dict:
    body = json.dumps(case.body).encode()
    request = case.request
    with tempfile.NamedTemporaryFile("wb", suffix=".json", delete=False) as f:
        f.write(body)
        path = f.name
    runners: dict[str, object] = {}
    try:
        for c in contenders:
            runners[c] = Server(body) if c == "http" else Worker(c, path)
        runs: dict[str, list[dict]] = {c: [] for c in contenders}
        for r in range(reps):
            order = contenders[r % len(contenders) :] + contenders[: r % len(contenders)]
            for c in order:
                out = runners[c].run(request) if c == "http" else runners[c].run()
                runs[c].append(out)
                print(
                    f"  {case.name:28s} rep {r + 1}/{reps} {c:7s} {out['seconds']:8.3f} s  {out['status']}", flush=True
                )
        peaks = {c: runners[c].close() for c in contenders}
    finally:
        for runner in runners.values():
            _kill_tree(runner.proc)
        os.unlink(path)
    return {
        "case": case.name,
        "minerals": case.minerals,
        "offers": case.offers,
        "objective": case.objective,
        "time_limit_s": case.time_limit_s,
        "mip_gap": case.mip_gap,
        "reps": reps,
        "contenders": {c: summarise(runs[c], peaks[c]) for c in contenders},
    }


def summarise(runs: list[dict], peak: float) -> dict:
    last = runs[-1]
    out = {
        "median_s": statistics.median(r["seconds"] for r in runs),
        "all_s": [round(r["seconds"], 4) for r in runs],
        "peak_rss_mb": round(peak, 1),
        "status": last["status"],
        "statuses": sorted({r["status"] for r in runs}),
        "score": last["score"],
        "spend": last["spend"],
        "violations": sorted({v for r in runs for v in r["violations"]})[:5],
    }
    if "run_seconds" in last:
        out["median_solver_s"] = statistics.median(r["run_seconds"] for r in runs)
        out["median_overhead_s"] = statistics.median(r["seconds"] - r["run_seconds"] for r in runs)
        # each repetition's, beside all_s: runs at one commit can then be pooled, not only their medians
        out["all_solver_s"] = [round(r["run_seconds"], 4) for r in runs]
    if "model" in last:
        out["model"] = last["model"]
    return out


def agreement(entry: dict) -> dict[str, str]:
    """Each contender against the highspy baseline: same score and spend within the gap.

    The baseline's own answer is checked too: one that breaks the request reads
    "VIOLATES", and a contender whose answer passed is then "ref VIOLATES", not compared.
    """
    ref = entry["contenders"].get("highs")
    gap = max(entry["mip_gap"], 1e-6)
    out = {}
    for c, s in entry["contenders"].items():
        if ref is None or c == "highs":
            out[c] = ("VIOLATES" if s["violations"] else "ref") if c == "highs" else "-"
            continue
        if s["status"] == "error" or ref["status"] == "error":
            out[c] = "error"
        elif s["violations"]:
            out[c] = "VIOLATES"
        elif ref["violations"]:
            out[c] = "ref VIOLATES"
        elif s["status"] != ref["status"]:
            out[c] = "limit" if "feasible" in (s["status"], ref["status"]) else "DIFFERS"
        elif s["spend"] is None:
            out[c] = "yes"
        else:
            score_ok = s["score"] is None or abs(s["score"] - ref["score"]) <= gap * max(ref["score"], 1e-9) + 1e-6
            same_score = s["score"] is None or abs(s["score"] - ref["score"]) <= 1e-6
            spend_ok = abs(s["spend"] - ref["spend"]) <= (gap + 1e-6) * max(abs(ref["spend"]), 1e-9)
            if score_ok and spend_ok:
                out[c] = "yes"
            elif score_ok and not same_score:
                out[c] = "score within gap"  # a different stage-one score, so stage two's least spend differs
            else:
                out[c] = "limit" if s["status"] == "feasible" else "DIFFERS"
    return out


def revision() -> str:
    """The commit being measured, and whether the tree has changes beyond it.

    The contenders import the tree's code as they start, one instance after another:
    edits made while the benchmark runs reach some of them and not others. Run it
    from a clean worktree (``git worktree add /tmp/benchtree HEAD``) while working.
    """

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()

    try:
        head, changes = git("rev-parse", "--short", "HEAD"), git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown revision"
    return f"commit {head}" + (" with uncommitted changes" if changes else "")


def markdown(results: list[dict], command: str, elapsed: float, when: str | None = None, rev: str | None = None) -> str:
    when = when or time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        (
            f"Command: `{command}` — {when}{f', {rev}' if rev else ''}, "
            f"{os.cpu_count()} cores, Python {platform.python_version()}, run took {elapsed / 60:.1f} min."
        ),
        "",
        (
            "Median wall seconds per solve; *ratio* = median / median of the raw highspy baseline; *solver* = "
            "median seconds inside HiGHS's `run` (for PuLP: its whole `solve` call, which writes an MPS file and "
            "runs CBC); *overhead* = everything else (engine: prepare, Pyomo build, compile, extract, report, check). "
            "*peak MB* = the contender's process peak RSS (VmHWM) over the whole instance, interpreter included. "
            "*agrees* = same status, score and spend as the highspy baseline within the request's gap, every "
            "allocation having passed the plain-arithmetic check."
        ),
        "",
    ]
    columns = "case, contender, median s, ratio, solver s, overhead s (%), peak MB, status, score, spend, agrees"
    lines += ["| " + columns.replace(", ", " | ") + " |", "|---|---|---:|---:|---:|---:|---:|---|---:|---:|---|"]
    notes = []
    for e in results:
        agree = agreement(e)
        ref = e["contenders"].get("highs", {}).get("median_s")
        case = f"{e['case']} ({e['offers']} offers, {e['reps']} reps)"
        if e.get("rerun"):  # some rows measured again later (results merged by hand, said so here)
            again = e["rerun"]
            names = ", ".join(LABELS[c] for c in again["contenders"])
            notes.append(f"{e['case']}: rows re-measured at {again['revision']} (`{again['command']}`): {names}.")
        for c, s in e["contenders"].items():
            ratio = f"{s['median_s'] / ref:.2f}" if ref else "-"
            solver = f"{s['median_solver_s']:.3f}" if "median_solver_s" in s else "-"
            over = (
                f"{s['median_overhead_s']:.3f} ({100 * s['median_overhead_s'] / s['median_s']:.0f}%)"
                if "median_overhead_s" in s
                else "-"
            )
            score = "-" if s["score"] is None else f"{s['score']:.6f}"
            spend = "-" if s["spend"] is None else f"{s['spend']:,.0f}"
            status = "/".join(s["statuses"])
            lines.append(
                f"| {case} | {LABELS[c]} | {s['median_s']:.3f} | {ratio} | {solver} | {over} "
                f"| {s['peak_rss_mb']:.0f} | {status} | {score} | {spend} | {agree[c]} |"
            )
            case = ""  # the case named on its first row only
            notes += [f"{LABELS[c]} broke a rule on {e['case']}: {v}" for v in s["violations"]]
    lines += ["", *notes, *([""] if notes else [])]
    lines += targets(results)
    return "\n".join(lines) + "\n"


def targets(results: list[dict]) -> list[str]:
    """This run's verdict on each speed target (``bench.targets``: the rules ``bench.verdict`` uses)."""
    out = ["Targets, as measured in this run (one seed):", ""]
    for e in results:
        for t in TARGETS:
            if t.goal is None or not t.applies(e):
                continue
            value = t.value(e)
            if value is None:
                if t.name == "PuLP / HTTP" and "pulp" in e["contenders"] and "http" in e["contenders"]:
                    out.append(
                        f"- {t.name}, {e['case']}: both stopped at the {e['time_limit_s']:g} s limit with "
                        "an allocation: no time ratio"
                    )
                continue
            out.append(
                f"- {t.name}, {e['case']}: {show(t, value)} (target {t.goal}): {'met' if t.met(value) else 'NOT met'}"
            )
    return out


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 5))
    markers = {"max_coverage": "o", "min_cost": "s"}
    colours = {"http": "tab:blue", "engine": "tab:cyan", "highs": "tab:green", "pulp": "tab:red"}
    for c in CONTENDERS:
        for objective, style in (("max_coverage", "-"), ("min_cost", "--")):
            pts = sorted(
                (e["offers"], e["contenders"][c]["median_s"])
                for e in results
                if c in e["contenders"] and (e["objective"] == objective or e["case"] == "dla-2025")
            )
            if pts:
                ax.plot(
                    *zip(*pts), style, marker=markers[objective], color=colours[c], label=f"{LABELS[c]} ({objective})"
                )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("offers in the request")
    ax.set_ylabel("median seconds per solve")
    ax.set_title("Stockpile vs raw highspy vs PuLP/CBC (threads=1)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def write_doc(section: str) -> None:
    """Put ``section`` between the markers in docs/performance.md."""
    text = DOC.read_text() if DOC.exists() else f"# Performance\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text:
        text += f"\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1] if END in rest else ""
    DOC.write_text(f"{head}{BEGIN}\n{section}{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="DLA, 100 and 500 offers only")
    parser.add_argument("--largest", type=int, default=None, help="skip instances with more offers than this")
    parser.add_argument("--reps", type=int, default=None, help="repetitions per instance (default by size)")
    parser.add_argument("--contenders", default=",".join(CONTENDERS), help="comma-separated subset")
    parser.add_argument("--only", default=None, help="only cases whose name contains this")
    parser.add_argument("--no-write", action="store_true", help="print, do not write docs/ and results")
    parser.add_argument(
        "--seed",
        type=int,
        default=1,
        help="generate the instances from this seed (default 1, the set in docs/performance.md); another seed "
        "only prints, and saves its results to bench/results/seedN.json",
    )
    parser.add_argument(
        "--save",
        type=Path,
        default=None,
        help="also save the results to this JSON file (for bench.verdict over several seeds)",
    )
    parser.add_argument("--render", action="store_true", help="only rewrite docs and plot from the saved results")
    parser.add_argument(
        "--family",
        choices=["set", "hard"],
        default="set",
        help="hard: the hard family instead (bench/hard.py: loss at the limit, time to a first allocation)",
    )
    args = parser.parse_args(argv)
    if args.family == "hard":
        from bench import hard

        return hard.main(["run", *(["--largest", str(args.largest)] if args.largest else [])])
    _stop_on_sigterm()
    results_file = QUICK_RESULTS if args.quick else RESULTS
    if args.render:
        saved = json.loads(results_file.read_text())
        section = markdown(
            saved["results"], saved["command"], saved["elapsed_s"], saved.get("when"), saved.get("revision")
        )
        if args.quick:
            print(section)
        else:
            write_doc(section)
            plot(saved["results"], PLOT)
        return 0
    command = "python -m bench.run" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    contenders = [c for c in args.contenders.split(",") if c]
    rev = revision()
    if rev.endswith("changes"):
        print(
            "warning: measuring a tree with uncommitted changes; edits made during the run would reach "
            "some contenders and not others (run from a clean `git worktree add /tmp/benchtree HEAD`)",
            file=sys.stderr,
            flush=True,
        )
    began = time.perf_counter()
    results = []
    if args.seed != 1:  # another set of instances: docs/ keep the seed-1 run
        args.no_write = True
    for case in suite(quick=args.quick, largest=args.largest, seed=args.seed):
        if args.only and args.only not in case.name:
            continue
        reps = args.reps or (min(reps_for(case.offers), 3) if args.quick else reps_for(case.offers))
        print(f"{case.name}: {case.offers} offers, {reps} reps", flush=True)
        results.append(bench_case(case, reps, contenders))
        section = markdown(results, command, time.perf_counter() - began, rev=rev)
        if not args.no_write:  # after every instance, so that an interrupted run keeps what it measured
            results_file.parent.mkdir(parents=True, exist_ok=True)
            results_file.write_text(
                json.dumps(
                    {
                        "command": command,
                        "elapsed_s": time.perf_counter() - began,
                        "revision": rev,
                        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                        "results": results,
                    },
                    indent=1,
                )
            )
            if not args.quick:  # the doc and the plot show the full suite
                write_doc(section)
                plot(results, PLOT)
        save = args.save or (RESULTS.parent / f"seed{args.seed}.json" if args.seed != 1 else None)
        if save is not None:
            saved = {
                "command": command,
                "seed": args.seed,
                "revision": rev,
                "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                "results": results,
            }
            save.parent.mkdir(parents=True, exist_ok=True)
            save.write_text(json.dumps(saved, indent=1))
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
