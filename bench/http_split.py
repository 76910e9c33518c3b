"""Where the HTTP path's time goes, outside the engine: medians over repeated POSTs.

    python -m bench.http_split dla-2025 41
    python -m bench.http_split 5x20-min_cost 21
    python -m bench.http_split 40x250-min_cost 7 3      # the instance of seed 3 (default 1)

Starts ``stockpile serve`` on a free loopback port (``bench.run.Server``) with the
access log on, posts the case's body REPS times after three warm-ups, and prints four
medians: the client's wall time; ``duration_ms`` (the request as the outermost
middleware saw it); ``solve_ms`` (the gateway's round trip to the worker process); the
engine's own ``solve_seconds``. The differences: client and uvicorn; parsing,
validating and serialising in the web process; the hand-off to the worker and back.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time

from bench.instances import named
from bench.run import Server


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    name, reps = args[0], int(args[1]) if len(args) > 1 else 21
    seed = int(args[2]) if len(args) > 2 else 1
    body = json.dumps(named(name, seed).body).encode()
    seconds, engine = [], []
    with tempfile.TemporaryFile("w+") as log:
        server = Server(body, log=log)
        try:
            for _ in range(3):
                server.client.post("/v1/allocations", content=body, headers={"content-type": "application/json"})
            for _ in range(reps):
                began = time.perf_counter()
                response = server.client.post(
                    "/v1/allocations", content=body, headers={"content-type": "application/json"}
                )
                seconds.append(time.perf_counter() - began)
                engine.append(response.json()["solve_seconds"])
        finally:
            server.close()
        log.seek(0)
        lines = [json.loads(line) for line in log if line.startswith("{") and '"route": "/v1/allocations"' in line]
    lines = lines[-reps:]
    med = statistics.median
    print(f"{name} (seed {seed}): median of {reps} POSTs")
    print(f"  client wall time      {1000 * med(seconds):8.2f} ms")
    print(f"  server (middleware)   {med(line['duration_ms'] for line in lines):8.2f} ms")
    print(f"  worker round trip     {med(line['solve_ms'] for line in lines):8.2f} ms")
    print(f"  engine (allocate)     {1000 * med(engine):8.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
