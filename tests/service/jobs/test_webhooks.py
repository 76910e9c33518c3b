"""Webhooks to a local receiver: signed, retried with backoff, every attempt recorded; hosts restricted."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from service.webhooks import verify
from tests.service.jobs.conftest import app_client, finished, small_request, wait_for

SECRET = "webhook-secret"


class Receiver:
    """Answers each POST with the next status of ``answers`` (then 200), keeping what it got."""

    def __init__(self, answers: list[int]) -> None:
        self.answers = list(answers)
        self.received: list[tuple[bytes, str]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((body, self.headers.get("Stockpile-Signature", "")))
                self.send_response(receiver.answers.pop(0) if receiver.answers else 200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver([500, 503])
    thread = threading.Thread(target=r.server.serve_forever, daemon=True)
    thread.start()
    yield r
    r.server.shutdown()


def test_a_finished_job_is_posted_signed_after_retries_with_every_attempt_recorded(database_url, receiver) -> None:
    settings = {"webhook_secret": SECRET, "webhook_backoff_s": 0.05, "webhook_allowed_hosts": "127.0.0.1"}
    with app_client(database_url, **settings) as client:
        body = {"kind": "allocation", "input": small_request(), "webhook_url": receiver.url}
        job = client.post("/v1/jobs", json=body).json()
        assert finished(client, job["id"])["status"] == "succeeded"
        wait_for(lambda: client.get(f"/v1/jobs/{job['id']}").json()["webhook_status"] == "delivered")
        attempts = client.get(f"/v1/jobs/{job['id']}/webhooks").json()
        assert [(a["attempt"], a["status_code"]) for a in attempts] == [(1, 500), (2, 503), (3, 200)]
        assert len(receiver.received) == 3
        for raw, header in receiver.received:
            assert verify(SECRET.encode(), raw, header)
            assert not verify(b"another secret", raw, header)
            assert not verify(SECRET.encode(), raw.replace(b"succeeded", b"failed"), header)
            sent = json.loads(raw)
            assert sent["id"] == job["id"] and sent["status"] == "succeeded" and sent["result_url"]


def test_a_webhook_to_a_host_not_allowed_is_refused_at_submission(database_url) -> None:
    with app_client(database_url, webhook_secret=SECRET, webhook_allowed_hosts="hooks.example.com") as client:
        for url in ("http://127.0.0.1:9/hook", "http://169.254.169.254/latest", "ftp://hooks.example.com/x"):
            r = client.post("/v1/jobs", json={"kind": "allocation", "input": small_request(), "webhook_url": url})
            assert r.status_code == 422, url
            assert r.json()["problems"][0]["path"] == "webhook_url"
        ok = client.post(
            "/v1/jobs",
            json={"kind": "allocation", "input": small_request(), "webhook_url": "https://hooks.example.com/x"},
        )
        assert ok.status_code == 202


def test_a_receiver_that_never_accepts_gets_a_bounded_number_of_attempts(database_url) -> None:
    r = Receiver([500] * 10)
    threading.Thread(target=r.server.serve_forever, daemon=True).start()
    try:
        settings = {"webhook_secret": SECRET, "webhook_backoff_s": 0.02, "webhook_max_attempts": 3}
        with app_client(database_url, **settings) as client:
            job = client.post(
                "/v1/jobs", json={"kind": "allocation", "input": small_request(), "webhook_url": r.url}
            ).json()
            wait_for(lambda: client.get(f"/v1/jobs/{job['id']}").json()["webhook_status"] == "failed")
            assert [a["status_code"] for a in client.get(f"/v1/jobs/{job['id']}/webhooks").json()] == [500, 500, 500]
            assert len(r.received) == 3
    finally:
        r.server.shutdown()
