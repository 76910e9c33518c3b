"""Request logs (one JSON line per request) and Prometheus metrics.

``RequestLogMiddleware`` is the outermost of the service's middleware: it
gives every request an id (the client's ``X-Request-ID`` when it is sane, a
new one otherwise, echoed in the response), counts the body, times the
request and, when it ends, writes one JSON line to the ``stockpile.access``
logger and updates the metrics. The gateway adds the solve time and the queue
wait through ``note_timing``, and reads when the request arrived
(``arrived_at``): its time limit counts from then, body reading and
validation included. Headers (and so API keys) are never logged.

Metrics live in a registry per app (several apps can live in one process,
as in tests); ``/metrics`` renders it. Gauges and counters that belong to the
gateway (queue depth, workers, restarts, solves by status) are read from
``gateway.stats()`` when scraped.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import uuid
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("stockpile.access")

_timing: contextvars.ContextVar[dict[str, float] | None] = contextvars.ContextVar("stockpile_timing", default=None)
_arrival: contextvars.ContextVar[float | None] = contextvars.ContextVar("stockpile_arrival", default=None)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

RESTART_REASONS = ("crash", "deadline", "overtime", "overrun", "memory", "start_failed", "died_idle", "abandoned")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


def note_timing(**values: float) -> None:
    """Record timings (``queue_wait_s``, ``solve_s``) for the current request's log line."""
    timing = _timing.get()
    if timing is not None:
        timing.update(values)


def arrived_at() -> float | None:
    """When the current request reached the server (``time.monotonic()``), before its body
    was read; None outside a request. A solve's time limit counts from here."""
    return _arrival.get()


class Metrics:
    """The service's Prometheus metrics, in a registry of their own."""

    def __init__(self, gateway: Any) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "stockpile_http_requests", "HTTP requests answered.", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "stockpile_http_request_duration_seconds",
            "Time from request to response.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queue_wait = Histogram(
            "stockpile_queue_wait_seconds",
            "Time a solve waited for a free worker.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.solve_time = Histogram(
            "stockpile_solve_duration_seconds",
            "Time a worker spent on a solve.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_GatewayCollector(gateway))

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _GatewayCollector:
    """Reads the gateway's own counters at scrape time."""

    def __init__(self, gateway: Any) -> None:
        self._gateway = gateway

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Any:
        stats_of = getattr(self._gateway, "stats", None)
        if stats_of is None:
            return
        stats = stats_of()
        yield GaugeMetricFamily("stockpile_queue_depth", "Solve requests waiting for a worker.", value=stats.queued)
        yield GaugeMetricFamily("stockpile_solves_in_progress", "Solves running now.", value=stats.busy)
        yield GaugeMetricFamily("stockpile_workers", "Live solver worker processes.", value=stats.workers)
        restarts = CounterMetricFamily(
            "stockpile_worker_restarts", "Solver workers replaced, by reason.", labels=["reason"]
        )
        for reason, n in sorted({**dict.fromkeys(RESTART_REASONS, 0), **stats.restarts}.items()):
            restarts.add_metric([reason], n)
        yield restarts
        solves = CounterMetricFamily(
            "stockpile_solves", "Solve requests finished, by outcome (result status or failure).", labels=["status"]
        )
        for status, n in sorted(stats.solves.items()):
            solves.add_metric([status], n)
        yield solves


class RequestLogMiddleware:
    """One JSON log line and the HTTP metrics for every request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        given = _header(scope, b"x-request-id")
        request_id = given if given and _REQUEST_ID.match(given) else uuid.uuid4().hex
        timing: dict[str, float] = {}
        token = _timing.set(timing)
        arrival_token = _arrival.set(time.monotonic())
        state = {"status": 500, "body": 0, "sent": 0}

        async def counted_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                state["body"] += len(message.get("body", b""))
            return message

        async def tagged_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", request_id.encode())]}
            elif message["type"] == "http.response.body":
                state["sent"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, counted_receive, tagged_send)
        finally:
            _timing.reset(token)
            _arrival.reset(arrival_token)
            self._record(scope, request_id, state, timing, time.perf_counter() - began)

    def _record(self, scope: Scope, request_id: str, state: dict[str, int], timing: dict[str, float], seconds: float):
        # Labels from a closed set only (each value makes a series that lives as long as the process):
        # a route's template, never the path a client made up; a standard method, else "other".
        template = getattr(scope.get("route"), "path", None) or "unmatched"
        method = scope["method"] if scope["method"] in _METHODS else "other"
        self.metrics.requests.labels(method, template, str(state["status"])).inc()
        self.metrics.latency.labels(method, template).observe(seconds)
        if "queue_wait_s" in timing:
            self.metrics.queue_wait.observe(timing["queue_wait_s"])
        if "solve_s" in timing:
            self.metrics.solve_time.observe(timing["solve_s"])
        access_log.info(
            "request",
            extra={
                "fields": {
                    "id": request_id,
                    "method": scope["method"][:20],
                    "path": scope["path"][:200],
                    "route": template,
                    "status": state["status"],
                    "body_bytes": state["body"],
                    "response_bytes": state["sent"],
                    "duration_ms": round(seconds * 1000, 2),
                    "queue_wait_ms": _ms(timing.get("queue_wait_s")),
                    "solve_ms": _ms(timing.get("solve_s")),
                }
            },
        )


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``fields``."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(level: str) -> None:
    """JSON lines on stdout for every ``stockpile.*`` logger (``stockpile serve``)."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    handler.formatter.converter = time.gmtime  # type: ignore[union-attr]
    root = logging.getLogger("stockpile")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
