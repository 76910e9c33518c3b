"""A solver worker keeps the memory a solve frees for the next (service.malloc.keep_freed_memory)."""

from __future__ import annotations

import subprocess
import sys

# In a fresh process: 20 blocks of 8 MiB, each written to, then all freed; prints the
# resident memory (MiB) with the blocks in use and after they are freed.
_SCRIPT = """
import sys
import numpy as np
from service.malloc import keep_freed_memory

def rss():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) // 1024 for line in f if line.startswith("VmRSS:"))

if sys.argv[1] == "keep":
    assert keep_freed_memory()
blocks = [np.ones(1024 * 1024) for _ in range(20)]
held = rss()
del blocks
print(held, rss())
"""


def _held_and_after(mode: str) -> tuple[int, int]:
    out = subprocess.run([sys.executable, "-c", _SCRIPT, mode], capture_output=True, text=True, check=True)
    held, after = map(int, out.stdout.split())
    return held, after


def test_a_worker_keeps_freed_memory_and_a_plain_process_gives_it_back():
    held, after = _held_and_after("keep")
    assert after >= held - 10  # the 160 MiB freed stay with the process, for the next solve
    held, after = _held_and_after("plain")
    assert after <= held - 100  # glibc's defaults hand the blocks back to the kernel


def test_a_worker_process_is_set_up_to_keep_freed_memory(monkeypatch):
    from service import worker

    made: list[str] = []
    monkeypatch.setattr(worker, "keep_freed_memory", lambda: made.append("keep") or True)
    monkeypatch.setattr(worker, "_cap_memory", lambda limit: made.append(f"cap {limit}"))
    monkeypatch.setattr(worker, "_die_with_parent", lambda: None)
    monkeypatch.setattr(worker.os, "nice", lambda increment: made.append(f"nice {increment}"))
    monkeypatch.setattr(worker.signal, "signal", lambda *args: None)
    worker._set_up_process(123)
    assert made == ["cap 123", "keep", f"nice {worker.WORKER_NICENESS}"]
