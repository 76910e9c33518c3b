"""Where an analysis's many solves run: in this process, or fanned out on Dask.

The unit of work is a ``Batch``: one base request and a list of change lists. A batch
runs on one process, which prepares the base once and re-solves each changed request
in place (``solvers.Resolver``), in the order given: neighbours in a frontier or a run
of disruption draws start from each other's answers. Batches ship requests and
changes, never solver objects (Pyomo models do not pickle well).

``LocalExecutor`` runs batches one after another in the calling process (the command
line, tests, a solver worker). ``DaskExecutor`` runs them on Dask distributed: a
``LocalCluster`` of single-threaded worker processes started at first use (HiGHS is
not safe across threads in one process), or the cluster at a scheduler address. The
same batch gives the same answers wherever it runs.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeVar

from models import AllocationRequest, AllocationResult, Finding, Severity, Status
from models.changes import Applied, RemovedOffer, apply_changes
from solvers import EngineTuning, Resolver, empty_result

log = logging.getLogger("stockpile.analyses")

T = TypeVar("T")

# What a batch makes of each solve: the result itself, or a summary of it (a stress test
# keeps a few numbers per draw, not thousands of results). Must be picklable (a module-level
# function) to run on Dask.
Summarise = Callable[[AllocationResult, Applied], Any]


def keep_result(result: AllocationResult, applied: Applied) -> tuple[AllocationResult, list[RemovedOffer]]:
    """The default summary: the result and the offers the changes removed."""
    return result, applied.unavailable


@dataclass(frozen=True)
class Batch:
    """Change lists to apply to ``base`` and solve, in order, on one process.

    ``deadline`` is a wall-clock time (``time.time()``: the one clock a remote cluster
    shares); a solve that would start after it is not started (its answer is ``no_solution``
    with a ``deadline_exceeded`` finding), and each solve gets at most the time left.
    """

    base: AllocationRequest
    items: Sequence[Sequence[Any]]
    options: EngineTuning = field(default_factory=EngineTuning)
    deadline: float | None = None
    summarise: Summarise = keep_result


def run_batch(
    batch: Batch, on_item: Callable[[], None] | None = None, should_stop: Callable[[], bool] | None = None
) -> list[Any]:
    """Solve every item of ``batch`` in order: what ``batch.summarise`` makes of each answer.

    ``should_stop``, asked before each item, ends the batch early: the answer then has
    fewer items than the batch.
    """
    resolver = _resolver_for(batch)
    out = []
    for changes in batch.items:
        if should_stop is not None and should_stop():
            break
        applied = apply_changes(batch.base, changes)
        result = _solve_in_time(resolver, applied.request, batch.options, batch.deadline)
        out.append(batch.summarise(result, applied))
        if on_item is not None:
            on_item()
    return out


# Models a batch's Resolver holds, one per structure met: a run of disruption draws comes back
# to the same few structures (a country cut, an offer failed), and a held one is changed in
# place rather than built again. Bounded by the offers they hold, in all.
HELD_OFFERS = 10_000
MAX_HELD = 32
# Requests up to this many offers keep their Resolver, and its models, between batches in a
# process: the next batch of the same base and options starts from them (restarted, so that
# its answers are those of a fresh Resolver).
KEPT_OFFERS = 2_000

_kept = threading.local()


def _resolver_for(batch: Batch) -> Resolver:
    """A Resolver of ``batch``'s base and options, as a new one would answer: the one this thread kept, or new."""
    offers = len(batch.base.suppliers)
    keep = max(Resolver.KEEP, min(MAX_HELD, HELD_OFFERS // max(1, offers)))
    if offers > KEPT_OFFERS:
        return Resolver(batch.base, batch.options, keep=keep)
    key = hashlib.sha256(f"{batch.base.model_dump_json()}{batch.options!r}".encode()).digest()
    held: tuple[bytes, Resolver] | None = getattr(_kept, "resolver", None)
    if held is not None and held[0] == key:
        held[1].restart()
        return held[1]
    if held is not None:
        held[1].close()
    _kept.resolver = None
    resolver = Resolver(batch.base, batch.options, keep=keep)
    _kept.resolver = (key, resolver)
    return resolver


def _solve_in_time(
    resolver: Resolver, request: AllocationRequest, options: EngineTuning, deadline: float | None
) -> AllocationResult:
    if deadline is None:
        return resolver.solve(request)
    left = deadline - time.time()
    if left <= 0.05:
        return not_started(request)
    limit = min(options.time_limit_s or left, left)
    return resolver.solve(request, replace(options, time_limit_s=limit))


def not_started(request: AllocationRequest) -> AllocationResult:
    """The answer for a solve the analysis's time limit came before."""
    finding = Finding(
        code="deadline_exceeded",
        severity=Severity.ERROR,
        message="The analysis's time limit came before this solve could start; allow a longer "
        "options.time_limit_s, or submit the analysis as a job.",
    )
    return empty_result(request, Status.NO_SOLUTION, 0.0, [finding])


class Executor(Protocol):
    """Runs batches; ``on_progress(done, total)`` hears of each item as it finishes where it can."""

    workers: int

    def run(self, batches: Sequence[Batch], on_progress: Callable[[int, int], None] | None = None) -> list[list[Any]]:
        """Each batch's items' summaries, in the order of ``batches``."""
        ...


def split(items: Sequence[T], chunks: int) -> list[list[T]]:
    """``items`` in ``chunks`` contiguous runs of nearly equal length (none empty)."""
    chunks = max(1, min(chunks, len(items)))
    size, extra = divmod(len(items), chunks)
    out, start = [], 0
    for k in range(chunks):
        end = start + size + (1 if k < extra else 0)
        out.append(list(items[start:end]))
        start = end
    return [c for c in out if c]


# A batch pays one preparation of its base: below this many solves per worker, one batch is faster.
MIN_ITEMS_PER_BATCH = 8


def batches_for(
    base: AllocationRequest,
    items: Sequence[Sequence[Any]],
    executor: Executor,
    options: EngineTuning,
    deadline: float | None,
    summarise: Summarise = keep_result,
    per_batch: int | None = None,
) -> list[Batch]:
    """``items`` cut into contiguous batches for ``executor``'s workers."""
    if per_batch is not None:
        count = math.ceil(len(items) / per_batch)
    else:
        count = min(executor.workers, max(1, len(items) // MIN_ITEMS_PER_BATCH))
    return [Batch(base, chunk, options, deadline, summarise) for chunk in split(items, count)]


class Cancelled(Exception):
    """The caller cancelled a stream of batches (``Executor.stream``)."""


class LocalExecutor:
    """Runs batches one after another in this process."""

    workers = 1

    def stream(
        self, batches: Iterable[Batch], cancel: threading.Event | None = None, in_flight: int | None = None
    ) -> Iterator[tuple[int, list[Any]]]:
        """(position, answers) of each batch as it finishes; a set ``cancel`` stops between items."""
        stop = None if cancel is None else cancel.is_set
        for k, batch in enumerate(batches):
            yield k, run_batch(batch, should_stop=stop)
            if cancel is not None and cancel.is_set():
                return

    def run(self, batches: Sequence[Batch], on_progress: Callable[[int, int], None] | None = None) -> list[list[Any]]:
        total = sum(len(b.items) for b in batches)
        done = 0

        def one() -> None:
            nonlocal done
            done += 1
            if on_progress is not None:
                on_progress(done, total)

        return [run_batch(b, one) for b in batches]


# A running batch asks whether it should stop at most this often (each ask is a round trip to the scheduler).
STOP_POLL_S = 0.25


def _run_watched(batch: Batch, stop_name: str) -> list[Any]:
    """``run_batch`` in a Dask worker, stopping before its next item once the Event ``stop_name`` is set."""
    from distributed import Event

    event = Event(stop_name)
    last = [time.monotonic()]

    def should_stop() -> bool:
        now = time.monotonic()
        if now - last[0] < STOP_POLL_S:
            return False
        last[0] = now
        return event.is_set()

    return run_batch(batch, should_stop=should_stop)


def _warm() -> bool:
    """Loads Pyomo and HiGHS in a Dask worker (its first solve would otherwise pay for it)."""
    from service.examples import example_request, names  # the built-in example: always there

    Resolver(example_request(names()[0])).solve(example_request(names()[0]))
    return True


# Dask's own periodic work, made rarer on the local cluster: by default each worker samples its
# task's stack every 10 ms (the profiler) and checks its memory every 100 ms, and every process
# checks its event loop every 20 ms and its system use every 500 ms. On a test of small solves
# that cost about a quarter as much CPU as the solves, in workers and scheduler, all of it
# growing with the test's wall time, not its draws (docs/scaling.md). A remote cluster's
# operator sets the same in its configuration.
QUIET = {
    "distributed.worker.profile.enabled": False,
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
}


class DaskExecutor:
    """Runs batches on Dask distributed, one task per batch.

    ``address`` None: a ``LocalCluster`` of ``workers`` single-threaded processes, started
    on first use; else the scheduler at ``address`` (its workers must run one thread each
    and have Stockpile installed). ``close`` stops a cluster this executor started.
    """

    def __init__(self, address: str | None = None, workers: int = 2, memory_limit: str | int = "auto") -> None:
        self.address = address
        self._local_workers = workers
        self._memory_limit = memory_limit
        self._client: Any = None
        self._cluster: Any = None
        self._lock = threading.Lock()

    @property
    def workers(self) -> int:
        if self._client is None:
            return self._local_workers if self.address is None else 1
        return max(1, len(self._client.scheduler_info().get("workers", {})))

    def client(self) -> Any:
        """The Dask client, connecting (and starting a local cluster) on first use."""
        with self._lock:
            if self._client is None:
                import dask
                from distributed import Client, LocalCluster

                if self.address is None:
                    with dask.config.set(QUIET):  # (the workers take the configuration they start with)
                        self._cluster = LocalCluster(
                            n_workers=self._local_workers,
                            threads_per_worker=1,
                            processes=True,
                            dashboard_address=":0",  # (its HTTP server runs anyway: any free port)
                            memory_limit=self._memory_limit,
                            silence_logs=logging.WARNING,
                        )
                    self._client = Client(self._cluster)
                else:
                    self._client = Client(self.address, timeout="10s")
                self._client.run(_warm)
            return self._client

    def run(self, batches: Sequence[Batch], on_progress: Callable[[int, int], None] | None = None) -> list[list[Any]]:
        from distributed import as_completed

        client = self.client()
        total = sum(len(b.items) for b in batches)
        futures = [client.submit(run_batch, b, pure=False) for b in batches]
        index = {f.key: k for k, f in enumerate(futures)}
        out: list[list[Any]] = [[] for _ in batches]
        done = 0
        try:
            for future in as_completed(futures):
                k = index[future.key]
                out[k] = future.result()
                done += len(batches[k].items)
                if on_progress is not None:
                    on_progress(done, total)
        finally:
            client.cancel([f for f in futures if not f.done()])
        return out

    def stream(
        self, batches: Iterable[Batch], cancel: threading.Event | None = None, in_flight: int | None = None
    ) -> Iterator[tuple[int, list[Any]]]:
        """(position, answers) of each batch as it finishes, in the order they finish.

        Batches are taken from ``batches`` (which may be a generator) as slots free up, at
        most ``in_flight`` at a time (twice the workers by default), so a long stream
        keeps only the running batches and their answers in memory. Setting ``cancel``
        stops the stream: batches not started are cancelled, and running ones stop
        before their next item (they watch a Dask ``Event``).
        """
        from distributed import Event, as_completed

        client = self.client()
        limit = in_flight or 2 * max(1, self.workers)
        stop_name = f"stockpile-stop-{uuid.uuid4().hex}"
        stop = Event(stop_name, client=client)
        source = iter(enumerate(batches))
        index: dict[str, int] = {}
        running = as_completed()

        def submit() -> bool:
            item = next(source, None)
            if item is None:
                return False
            k, batch = item
            future = client.submit(_run_watched, batch, stop_name, pure=False)
            index[future.key] = k
            running.add(future)
            return True

        for _ in range(limit):
            if not submit():
                break
        try:
            for future in running:
                k = index.pop(future.key)
                answers = future.result()
                yield k, answers
                if cancel is not None and cancel.is_set():
                    raise Cancelled
                submit()
        except Cancelled:
            pass
        finally:
            if index:
                stop.set()
                client.cancel([f for f in running.futures if not f.done()])
                running.clear()

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
            if self._cluster is not None:
                self._cluster.close()
                self._cluster = None
