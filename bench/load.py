"""Load and fault figures for the HTTP service, on loopback only.

Starts ``stockpile serve`` on a free 127.0.0.1 port (default settings: one
worker per core, queue 16, 10 s max wait) and, for each instance (the DLA
example and a generated mid-size request) and each number of concurrent
clients (1, 4, 16), posts solves in a closed loop for a bounded time and
count, then reports latency percentiles, throughput and answers by status.
``--chaos`` repeats every run while a worker process is SIGKILLed every few
seconds. A last run overloads a server with a short queue to show that excess
load is refused (503) at once rather than queued without bound.

    .venv/bin/python bench/load.py                 # ~3 minutes on 2 cores
    .venv/bin/python bench/load.py --seconds 5 --no-chaos --no-overload

Every run is bounded: ``--seconds`` of load and at most ``--max-requests``
requests per run; the server is stopped (SIGTERM, then SIGKILL) at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service import examples
from tests.reliability.stress_instances import mid_request

HOST = "127.0.0.1"  # loopback only, never anything else


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    """``stockpile serve`` in a subprocess, with extra STOCKPILE_* settings."""

    def __init__(self, **settings: Any) -> None:
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        env = {**os.environ, "STOCKPILE_LOG_LEVEL": "warning"}
        env.update({f"STOCKPILE_{k.upper()}": str(v) for k, v in settings.items()})
        script = Path(sys.executable).with_name("stockpile")
        command = [str(script)] if script.exists() else [sys.executable, "-m", "service.cli"]
        self.proc = subprocess.Popen(
            [*command, "serve", "--host", HOST, "--port", str(self.port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        with httpx.Client(base_url=self.url, timeout=5) as c:
            while True:
                try:
                    if c.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError("the server did not become ready")
                time.sleep(0.1)
        time.sleep(1.0)  # every worker warm, not just the first

    def worker_pids(self) -> list[int]:
        """Solver workers: children of the fork server, itself a child of the server."""
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
        return [w for fs in children.get(self.proc.pid, []) for w in children.get(fs, [])]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Run:
    instance: str
    clients: int
    chaos: bool
    note: str = ""
    latencies: list[tuple[int, float]] = field(default_factory=list)  # (status, seconds)
    seconds: float = 0.0
    kills: int = 0

    def row(self) -> dict[str, Any]:
        all_s = sorted(s for _, s in self.latencies)
        ok = sorted(s for st, s in self.latencies if st == 200)
        refused = sorted(s for st, s in self.latencies if st == 503)
        by_status = Counter(st for st, _ in self.latencies)
        return {
            "instance": self.instance,
            "clients": self.clients,
            "chaos": self.chaos,
            "note": self.note,
            "requests": len(all_s),
            "throughput_rps": round(len(all_s) / self.seconds, 2) if self.seconds else 0.0,
            "p50_ms": _pct(all_s, 50),
            "p95_ms": _pct(all_s, 95),
            "p99_ms": _pct(all_s, 99),
            "ok_p99_ms": _pct(ok, 99),
            "refused_p50_ms": _pct(refused, 50),
            "by_status": dict(sorted(by_status.items())),
            "other_5xx": sum(n for st, n in by_status.items() if st >= 500 and st != 503),
            "workers_killed": self.kills,
        }


def _pct(values: list[float], q: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0] * 1000, 1)
    return round(statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000, 1)


def load(server: Server, body: dict[str, Any], run: Run, seconds: float, max_requests: int, kill_every: float) -> Run:
    payload = json.dumps(body).encode()
    stop = threading.Event()
    lock = threading.Lock()
    count = [0]

    def client() -> None:
        with httpx.Client(base_url=server.url, timeout=120, headers={"Content-Type": "application/json"}) as c:
            while not stop.is_set():
                with lock:
                    if count[0] >= max_requests:
                        return
                    count[0] += 1
                began = time.perf_counter()
                try:
                    status = c.post("/v1/allocations", content=payload).status_code
                except httpx.TransportError:
                    status = 0  # connection failure: counted, never hidden
                with lock:
                    run.latencies.append((status, time.perf_counter() - began))

    def killer() -> None:
        while not stop.wait(kill_every):
            pids = server.worker_pids()
            if pids:
                try:
                    os.kill(pids[run.kills % len(pids)], signal.SIGKILL)
                    run.kills += 1
                except ProcessLookupError:
                    pass

    threads = [threading.Thread(target=client, daemon=True) for _ in range(run.clients)]
    if run.chaos:
        threads.append(threading.Thread(target=killer, daemon=True))
    began = time.perf_counter()
    for t in threads:
        t.start()
    deadline = began + seconds
    while time.perf_counter() < deadline and count[0] < max_requests:
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join(timeout=180)
    run.seconds = time.perf_counter() - began
    return run


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        "instance",
        "clients",
        "workers killed",
        "requests",
        "req/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "503 p50 ms",
        "answers by status",
    )
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        status = ", ".join(f"{k}: {v}" for k, v in r["by_status"].items())
        name = r["instance"] + (f" ({r['note']})" if r["note"] else "")
        cells = (
            name,
            r["clients"],
            r["workers_killed"] if r["chaos"] else "-",
            r["requests"],
            r["throughput_rps"],
            r["p50_ms"],
            r["p95_ms"],
            r["p99_ms"],
            r["refused_p50_ms"] or "-",
            status,
        )
        out.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="load per run (default 8)")
    parser.add_argument("--max-requests", type=int, default=2000, help="cap per run (default 2000)")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--kill-every", type=float, default=3.0, help="chaos: seconds between worker kills")
    parser.add_argument("--no-chaos", action="store_true")
    parser.add_argument("--no-overload", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    instances = {"dla-2025": examples.catalogue()["dla-2025"]["request"], "mid-200": mid_request()}
    rows: list[dict[str, Any]] = []
    server = Server()
    try:
        for chaos in [False] if args.no_chaos else [False, True]:
            for name, body in instances.items():
                for clients in args.clients:
                    run = load(
                        server, body, Run(name, clients, chaos), args.seconds, args.max_requests, args.kill_every
                    )
                    rows.append(run.row())
                    print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    finally:
        server.stop()
    if not args.no_overload:
        server = Server(queue_length=2, queue_max_wait_s=2)
        try:
            run = load(
                server,
                instances["mid-200"],
                Run("mid-200", 16, False, "queue 2"),
                args.seconds,
                args.max_requests,
                args.kill_every,
            )
            rows.append(run.row())
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
        finally:
            server.stop()
    print(f"cpus: {len(os.sched_getaffinity(0))}, python {sys.version.split()[0]}")
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 1 if any(r["other_5xx"] or r["by_status"].get(0) for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
