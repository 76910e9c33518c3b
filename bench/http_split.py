"""Where the HTTP path's time goes, outside the engine: medians over repeated POSTs.

    python -m bench.http_split dla-2025 41
    python -m bench.http_split 5x20-min_cost 21

Starts ``stockpile serve`` on a free loopback port with the access log on, posts the
case's body REPS times after three warm-ups, and prints four medians: the client's
wall time; ``duration_ms`` (the request as the outermost middleware saw it); ``solve_ms``
(the gateway's round trip to the worker process); the engine's own ``solve_seconds``.
The differences: client and uvicorn; parsing, validating and serialising in the web
process; the hand-off to the worker and back.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import httpx

from bench.instances import ROOT, suite


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    name, reps = args[0], int(args[1]) if len(args) > 1 else 21
    body = json.dumps({c.name: c for c in suite()}[name].body).encode()
    port = free_port()
    with tempfile.TemporaryFile("w+") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT, stdout=log, stderr=log, env=os.environ | {"STOCKPILE_LOG_LEVEL": "info", "PYTHONPATH": str(ROOT)},
        )
        client, seconds, engine = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600), [], []
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            def post() -> httpx.Response:
                return client.post("/v1/allocations", content=body, headers={"content-type": "application/json"})

            for _ in range(3):
                post()
            for _ in range(reps):
                began = time.perf_counter()
                data = post().json()
                seconds.append(time.perf_counter() - began)
                engine.append(data["solve_seconds"])
        finally:
            client.close()
            server.terminate()
            server.wait(timeout=20)
        log.seek(0)
        lines = [json.loads(line) for line in log if line.startswith("{") and '"route": "/v1/allocations"' in line]
    lines = lines[-reps:]
    med = statistics.median
    print(f"{name}: median of {reps} POSTs")
    print(f"  client wall time      {1000 * med(seconds):8.2f} ms")
    print(f"  server (middleware)   {med(line['duration_ms'] for line in lines):8.2f} ms")
    print(f"  worker round trip     {med(line['solve_ms'] for line in lines):8.2f} ms")
    print(f"  engine (allocate)     {1000 * med(engine):8.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
