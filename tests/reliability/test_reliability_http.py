"""The HTTP edge: API keys, request logs, metrics, body limits, hostile input, SIGTERM drain."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.observability import JsonFormatter
from tests.reliability.conftest import LiveServer, free_port, live_server, wait_until
from tests.reliability.stress_instances import hard_request
from tests.reliability.test_reliability_pool import metric, post_in_background

KEYS = ("first-key-8c1e", "second-key-77ab")


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server(workers=1, max_body_bytes=12_000_000, default_time_limit_s=10) as srv:
        srv.wait_ready(workers=1)
        yield srv


@pytest.fixture(scope="module")
def keyed_server() -> Iterator[LiveServer]:
    with live_server(workers=1, api_keys=",".join(KEYS)) as srv:
        srv.wait_ready(workers=1)
        yield srv


# -- API keys ----------------------------------------------------------------------


def test_with_api_keys_every_endpoint_but_health_needs_a_valid_one(keyed_server, dla_request, caplog):
    caplog.set_level(logging.INFO, logger="stockpile")
    with keyed_server.client() as c:
        assert c.get("/healthz").status_code == 200
        assert c.get("/readyz").status_code == 200
        for method, path in [
            ("GET", "/v1/examples"),
            ("GET", "/metrics"),
            ("GET", "/openapi.json"),
            ("GET", "/docs"),
            ("POST", "/v1/allocations"),
        ]:
            r = c.request(method, path, json=dla_request if method == "POST" else None)
            assert r.status_code == 401, path
            assert r.json()["error"] == "unauthorized"
            assert r.headers["www-authenticate"].startswith("Bearer")
        wrong = c.get("/v1/examples", headers={"Authorization": "Bearer " + KEYS[0] + "x"})
        assert wrong.status_code == 401
        assert c.get("/v1/examples", headers={"X-API-Key": KEYS[0][:-1]}).status_code == 401
        assert c.get("/v1/examples", headers={"Authorization": f"Bearer {KEYS[1]}"}).status_code == 200
        assert c.get("/v1/examples", headers={"X-API-Key": KEYS[0]}).status_code == 200
        solved = c.post("/v1/allocations", json=dla_request, headers={"X-API-Key": KEYS[1]})
        assert solved.status_code == 200
    logged = "\n".join(JsonFormatter().format(r) for r in caplog.records) + repr(keyed_server.app.state.settings)
    assert '"status": 401' in logged
    for key in KEYS:
        assert key not in logged


# -- logs and metrics -------------------------------------------------------------------


def test_one_json_log_line_per_request_with_id_size_status_and_timings(server, dla_request, caplog):
    caplog.set_level(logging.INFO, logger="stockpile.access")
    with server.client() as c:
        r = c.post("/v1/allocations", json=dla_request, headers={"X-Request-ID": "plan-2025-001"})
    assert r.status_code == 200
    assert r.headers["x-request-id"] == "plan-2025-001"
    wait_until(lambda: any(getattr(rec, "fields", {}).get("id") == "plan-2025-001" for rec in caplog.records), 5)
    [record] = [rec for rec in caplog.records if getattr(rec, "fields", {}).get("id") == "plan-2025-001"]
    line = JsonFormatter().format(record)
    assert "\n" not in line
    fields = json.loads(line)
    assert fields["method"] == "POST" and fields["path"] == "/v1/allocations" and fields["status"] == 200
    assert fields["body_bytes"] == len(r.request.content)
    assert fields["solve_ms"] > 0 and fields["queue_wait_ms"] >= 0 and fields["duration_ms"] >= fields["solve_ms"]


def test_metrics_count_requests_latency_queue_workers_and_solves(server, dla_request):
    with server.client() as c:
        assert c.post("/v1/allocations", json=dla_request).status_code == 200
        assert c.get("/v1/examples/nope").status_code == 404
        text = c.get("/metrics").text
    assert metric(text, 'stockpile_http_requests_total{method="POST",route="/v1/allocations",status="200"}') >= 1
    assert metric(text, 'stockpile_http_requests_total{method="GET",route="/v1/examples/{name}",status="404"}') >= 1
    assert metric(text, 'stockpile_http_request_duration_seconds_count{method="POST",route="/v1/allocations"}') >= 1
    assert metric(text, 'stockpile_solves_total{status="optimal"}') >= 1
    assert metric(text, "stockpile_workers") == 1
    assert "stockpile_queue_depth 0.0" in text
    assert metric(text, 'stockpile_worker_restarts_total{reason="crash"}') == 0
    assert 'stockpile_worker_restarts_total{reason="crash"} 0.0' in text


def test_paths_and_methods_a_client_makes_up_add_no_metric_series(server):
    with server.client() as c:
        c.get("/metrics")  # (itself a series)
        before = c.get("/metrics").text.count("stockpile_http_requests_total{")
        for k in range(30):
            c.get(f"/no/such/path/{k}")
            c.request(f"BREW{k}", "/v1/allocations")
        text = c.get("/metrics").text
    assert metric(text, 'stockpile_http_requests_total{method="GET",route="unmatched",status="404"}') >= 30
    assert 'method="other"' in text
    assert "BREW" not in text and "/no/such/path" not in text
    new_series = text.count("stockpile_http_requests_total{") - before
    assert new_series <= 3, new_series  # GET and other, unmatched (404 and 405): not one per path and method


# -- body limits and hostile input --------------------------------------------------------


def raw_exchange(url: str, head: bytes, chunks: Iterator[bytes]) -> tuple[bytes, int]:
    """Send a request by hand on a socket while reading; stop sending once the server answers.

    Returns the start of the answer and how many body bytes had been sent by then.
    """
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=20) as s:
        s.setblocking(False)
        pending, sent, answer = head, -len(head), b""
        body = iter(chunks)
        deadline = time.monotonic() + 30
        while b"\r\n\r\n" not in answer and time.monotonic() < deadline:
            readable, writable, _ = select.select([s], [s] if pending is not None else [], [], 0.5)
            if readable:
                data = s.recv(65536)
                if not data:
                    break
                answer += data
                continue  # read first: never send more once the server has answered
            if writable and pending is not None:
                try:
                    n = s.send(pending)
                except (BrokenPipeError, ConnectionResetError):
                    pending = None
                    continue
                sent += n
                pending = pending[n:] or next(body, None)
        return answer, sent


def test_a_declared_body_over_the_limit_is_refused_before_it_is_read(server):
    head = (
        b"POST /v1/allocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000000000000\r\n\r\n"
    )
    answer, sent = raw_exchange(server.url, head, iter([b"{" * 1000]))
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent <= 1000


def test_a_streamed_body_is_cut_off_at_the_limit(server):
    # 100 MB announced chunk by chunk, with no length: the server must answer 413 after ~12 MB.
    head = (
        b"POST /v1/allocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    block = b" " * 1_000_000
    chunks = (b"%x\r\n%s\r\n" % (len(block), block) for _ in range(100))
    answer, sent = raw_exchange(server.url, head, chunks)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert 12_000_000 <= sent < 40_000_000  # answered at the limit, long before the client had sent it all


def _rss_mib() -> float:
    status = Path(f"/proc/{os.getpid()}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS"))) / 1024


def _hostile_bodies(dla: dict[str, Any]) -> list[tuple[str, bytes, str]]:
    """(name, body, content type): every one must get a 4xx."""
    base = json.dumps(dla)
    json_type = "application/json"
    supplier = {"id": "s", "mineral": "cobalt", "country": "AU", "capacity": 1, "unit_price": 1}
    many = {**dla, "suppliers": [{**supplier, "id": f"s{i}", "name": f"s{i}"} for i in range(100_000)]}
    return [
        ("NaN literal", base.replace('"budget": 1000000000', '"budget": NaN', 1).encode(), json_type),
        ("Infinity literal", base.replace('"budget": 1000000000', '"budget": Infinity', 1).encode(), json_type),
        ("-Infinity literal", base.replace('"budget": 1000000000', '"budget": -Infinity', 1).encode(), json_type),
        ("1e400", base.replace('"budget": 1000000000', '"budget": 1e400', 1).encode(), json_type),
        ("5,000-digit integer", base.replace('"budget": 1000000000', '"budget": ' + "9" * 5000, 1).encode(), json_type),
        ("deeply nested arrays", b"[" * 200_000 + b"]" * 200_000, json_type),
        ("deeply nested objects", b'{"a":' * 100_000 + b"1" + b"}" * 100_000, json_type),
        ("10 MB string", json.dumps({**dla, "suppliers": [{**supplier, "id": "x" * 10_000_000}]}).encode(), json_type),
        ("100,000 suppliers", json.dumps(many).encode(), json_type),
        ("duplicate keys", ('{"budget": 1, ' + base[1:]).encode(), json_type),
        ("invalid UTF-8", b'{"budget": "\xff\xfe"}', json_type),
        ("empty body", b"", json_type),
        ("a JSON array", b"[1, 2, 3]", json_type),
        ("text/plain", base.encode(), "text/plain"),
        ("no content type", base.encode(), ""),
        ("form encoded", b"budget=1&minerals=2", "application/x-www-form-urlencoded"),
        (
            "multipart",
            b"--b\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--b--\r\n",
            "multipart/form-data; boundary=b",
        ),
        ("xml", b"<budget>1</budget>", "application/xml"),
    ]


def test_hostile_bodies_get_4xx_promptly_and_memory_stays_bounded(server, dla_request):
    assert '"budget": 1000000000' in json.dumps(dla_request)  # the replacements above apply
    before = _rss_mib()
    peak = before
    with server.client(timeout=30) as c:
        for name, body, content_type in _hostile_bodies(dla_request):
            headers = {"Content-Type": content_type} if content_type else {}
            began = time.monotonic()
            r = c.post("/v1/allocations", content=body, headers=headers)
            assert time.monotonic() - began < 10, name  # the fixed bound: refused, not worked on
            assert 400 <= r.status_code < 500, (name, r.status_code, r.text[:300])
            assert r.json()["error"], name  # every error in the one JSON shape
            assert len(r.content) < 100_000, name  # nothing hostile is echoed back
            del body, r
            peak = max(peak, _rss_mib())
        # and the server still solves
        assert c.post("/v1/allocations", json=dla_request).status_code == 200
    assert peak - before < 1_500  # MiB; the test process holds the 100,000-supplier body itself
    assert _rss_mib() - before < 600


# -- SIGTERM -----------------------------------------------------------------------------------


def stockpile_command() -> list[str]:
    script = Path(sys.executable).with_name("stockpile")
    return [str(script)] if script.exists() else [sys.executable, "-m", "service.cli"]


def serve_in_subprocess(start_new_session: bool = False, **settings: str) -> tuple[subprocess.Popen[bytes], str]:
    """``stockpile serve`` on a free loopback port, ready (in a process group of its own if asked)."""
    port = free_port()
    env = {**os.environ, "STOCKPILE_WORKERS": "1", "STOCKPILE_LOG_LEVEL": "warning"}
    env.update({f"STOCKPILE_{k.upper()}": v for k, v in settings.items()})
    proc = subprocess.Popen(
        [*stockpile_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=start_new_session,
    )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/readyz", timeout=5).status_code == 200
        except httpx.TransportError:
            return proc.poll() is not None  # stop waiting if it died

    try:
        wait_until(ready, timeout=90)
        assert proc.poll() is None, "stockpile serve exited at start-up"
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc, url


def test_sigterm_turns_readiness_off_finishes_the_running_solve_and_exits_0(dla_request):
    proc, url = serve_in_subprocess(drain_timeout_s="30")
    try:
        with httpx.Client(base_url=url, timeout=30) as c:
            thread, out = post_in_background(url, hard_request(4.0))
            wait_until(lambda: metric(c.get("/metrics").text, "stockpile_solves_in_progress") == 1)
            proc.send_signal(signal.SIGTERM)
            wait_until(lambda: c.get("/readyz").status_code == 503, timeout=10)
            refused = c.post("/v1/allocations", json=dla_request)
            assert refused.status_code == 503 and "retry-after" in refused.headers
        thread.join(60)
        assert out["response"].status_code == 200
        assert out["response"].json()["status"] in ("feasible", "optimal")
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def serve_busy(**settings: str) -> tuple[subprocess.Popen[bytes], str, threading.Thread, dict[str, Any]]:
    """``serve_in_subprocess`` with a 30 s hard solve running on its one worker (posted on ``thread``)."""
    proc, url = serve_in_subprocess(**settings)
    try:
        thread, out = post_in_background(url, hard_request(30.0))
        with httpx.Client(base_url=url, timeout=30) as c:
            wait_until(lambda: metric(c.get("/metrics").text, "stockpile_solves_in_progress") == 1)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc, url, thread, out


def test_a_second_sigterm_stops_the_running_solve_with_503_and_exits_0_at_once():
    proc, url, thread, out = serve_busy(drain_timeout_s="30")
    try:
        with httpx.Client(base_url=url, timeout=30) as c:
            proc.send_signal(signal.SIGTERM)
            wait_until(lambda: c.get("/readyz").status_code == 503, timeout=10)
        began = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert time.monotonic() - began < 10  # not the 30 s drain, nor the 30 s solve
        thread.join(30)
        assert out["response"].status_code == 503
        assert "shut down" in out["response"].json()["detail"]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_killed_web_process_takes_its_busy_worker_with_it():
    # SIGKILL leaves no handler to run: the workers must notice on their own, the busy one too.
    proc, url = serve_in_subprocess(start_new_session=True)
    try:

        def post() -> None:  # (its connection dies with the server)
            with contextlib.suppress(httpx.TransportError):
                httpx.post(f"{url}/v1/allocations", json=hard_request(30.0), timeout=60)

        poster = threading.Thread(target=post, daemon=True)
        poster.start()
        with httpx.Client(base_url=url, timeout=30) as c:
            wait_until(lambda: metric(c.get("/metrics").text, "stockpile_solves_in_progress") == 1)
        proc.kill()
        proc.wait()
        poster.join(10)

        def group_gone() -> bool:  # the fork server, the workers and the resource tracker
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                return True
            return False

        wait_until(group_gone, timeout=10)  # not the 30 s the solve would take
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def test_sigterm_stops_a_solve_that_outlasts_the_drain_with_503_and_exits_0():
    proc, _, thread, out = serve_busy(drain_timeout_s="1")
    try:
        began = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        thread.join(30)
        assert out["response"].status_code == 503
        assert "shut down" in out["response"].json()["detail"]
        assert time.monotonic() - began < 15  # 1 s of drain, not the 30 s solve
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
