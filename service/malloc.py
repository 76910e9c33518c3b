"""How a solving process uses glibc's allocator: the memory a solve frees is kept for the next.

Imports nothing but ``ctypes``, so that a benchmark can set a process up as a worker
before it imports the engine (from another checkout, say).
"""

from __future__ import annotations

import ctypes

# glibc's mallopt parameters (<malloc.h>), and the values a worker sets them to
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
HEAP_BLOCKS_UP_TO = 32 * 1024 * 1024  # the most glibc takes (DEFAULT_MMAP_THRESHOLD_MAX, 64-bit)
TRIM_HEAP_PAST = 1024 * 1024 * 1024


def keep_freed_memory() -> bool:
    """glibc: keep the memory a solve frees for the next, instead of handing it back to the kernel.

    By default glibc gives large blocks (from 128 KiB, a threshold it raises as such
    blocks are freed) mappings of their own, unmapped when freed, and trims free memory
    off the top of the heap. HiGHS allocates and frees tens of MB in every run, so each
    run would have its pages faulted in, and zeroed by the kernel, afresh: at 10,000 offers
    15% of HiGHS's time and 13% of the engine's own (docs/performance.md, "Workers keep
    the memory a solve frees").
    With blocks up to 32 MiB taken from the heap, and the heap trimmed only past 1 GiB
    free, a worker keeps the memory of its largest solve, within its memory cap
    (RLIMIT_AS counts it), and the next solve reuses it.

    Each setting is tried whatever became of the other; returns whether glibc took both
    (a C library without ``mallopt``: neither, and nothing changes).
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        return False
    blocks = mallopt(_M_MMAP_THRESHOLD, HEAP_BLOCKS_UP_TO) == 1
    trim = mallopt(_M_TRIM_THRESHOLD, TRIM_HEAP_PAST) == 1
    return blocks and trim
