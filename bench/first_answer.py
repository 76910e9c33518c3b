"""When the engine first holds a valid allocation on the hard family, and what it answers at the limit.

    .venv/bin/python -m bench.first_answer --seeds 1,2,3            # each case at its own limit
    .venv/bin/python -m bench.first_answer --seeds 1,2,3 --limit 1  # every case limited to 1 s

One line of JSON per case: ``heuristic_s``, when the construction heuristic's allocation was made
(its trace phase's end; None: not needed, as HiGHS had an allocation half a second in, or had
finished); ``answer_s``; ``loss`` against the best known (``bench/hard_best.json``); who found it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from bench.hard import answer_value, found_by, loss, with_limit
from bench.instances import hard_suite
from solvers import allocate, set_tracer

BEST = Path(__file__).with_name("hard_best.json")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="1")
    parser.add_argument("--largest", type=int, default=3000)
    parser.add_argument("--limit", type=float, default=None, help="every case's time limit (default: its own)")
    args = parser.parse_args(argv)
    best = json.loads(BEST.read_text())["cases"]
    made_at: dict[str, float] = {}

    def tracer(kind: str, name: str, info: dict) -> None:  # when the heuristic's allocation was made
        if kind == "end" and name == "heuristic" and "s" not in made_at:
            made_at["s"] = time.perf_counter() - made_at["began"]

    set_tracer(tracer)
    seeds = tuple(int(s) for s in args.seeds.split(","))
    for case in hard_suite(seeds, largest=args.largest):
        request = case.request if args.limit is None else with_limit(case, args.limit)
        made_at.clear()
        made_at["began"] = began = time.perf_counter()
        result = allocate(request)
        answer_s = time.perf_counter() - began
        value = answer_value(case.objective, request, result)
        row = {
            "case": case.name,
            "limit_s": request.options.time_limit_s,
            "heuristic_s": round(made_at["s"], 3) if "s" in made_at else None,
            "answer_s": round(answer_s, 2),
            "valid": value is not None and bool(result.allocations),
            "loss": loss(case.objective, value, best.get(case.name, {}).get("best")),
            "by": found_by(result),
        }
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
