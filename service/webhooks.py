"""Webhooks: a finished job's status document, POSTed to its ``webhook_url``, signed, retried.

Signature header: ``Stockpile-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">``
keyed with ``STOCKPILE_WEBHOOK_SECRET``: a receiver recomputes it over the raw body and
compares in constant time (and may refuse old ``t`` values, against replays). A delivery
that fails (no 2xx answer, or no answer) is retried after ``webhook_backoff_s``, doubling,
at most ``webhook_max_backoff_s``, up to ``webhook_max_attempts`` deliveries; every attempt
is recorded (``GET /v1/jobs/{id}/webhooks``). Redirects are not followed, and when
``STOCKPILE_WEBHOOK_ALLOWED_HOSTS`` is set only those hosts are called, so that webhooks
cannot be used to reach other hosts of a private network.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from urllib.parse import urlsplit

import httpx

from service.settings import Settings
from service.storage import Database
from service.storage import jobs as J

log = logging.getLogger("stockpile.webhooks")

SIGNATURE_HEADER = "Stockpile-Signature"


def signature(secret: bytes, body: bytes, at: int) -> str:
    digest = hmac.new(secret, f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


def verify(secret: bytes, body: bytes, header: str) -> bool:
    """What a receiver does: True when ``header`` signs ``body`` with ``secret``."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        at = int(parts["t"])
    except (KeyError, ValueError):
        return False
    return hmac.compare_digest(signature(secret, body, at), f"t={at},v1={parts.get('v1', '')}")


def url_problem(url: str, settings: Settings) -> str | None:
    """Why a webhook may not be sent to ``url``, or None."""
    if settings.webhook_secret is None:
        return "webhooks are off: the server has no STOCKPILE_WEBHOOK_SECRET to sign them with"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL"
    allowed = settings.webhook_allowed_hosts
    if allowed and parts.hostname.lower() not in allowed:
        return f"the host {parts.hostname!r} is not among the allowed webhook hosts (STOCKPILE_WEBHOOK_ALLOWED_HOSTS)"
    return None


async def deliver(db: Database, settings: Settings, job_id: str, url: str, body: bytes) -> bool:
    """Send until a 2xx answer or the attempts run out; each attempt recorded. True: delivered."""
    problem = url_problem(url, settings)
    if problem is not None:  # the settings changed since the job was submitted
        await db.run(J.record_webhook_attempt, job_id, 1, time.time(), None, problem)
        await db.run(J.set_webhook_status, job_id, "failed")
        return False
    assert settings.webhook_secret is not None
    secret = settings.webhook_secret.get_secret_value().encode()
    delay = settings.webhook_backoff_s
    async with httpx.AsyncClient(timeout=10.0, follow_redirects=False) as client:
        for attempt in range(1, settings.webhook_max_attempts + 1):
            code: int | None = None
            error: str | None = None
            headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature(secret, body, int(time.time()))}
            try:
                answer = await client.post(url, content=body, headers=headers)
                code = answer.status_code
                if not 200 <= code < 300:
                    error = f"answered {code}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"[:500]
            await db.run(J.record_webhook_attempt, job_id, attempt, time.time(), code, error)
            if error is None:
                await db.run(J.set_webhook_status, job_id, "delivered")
                return True
            if attempt < settings.webhook_max_attempts:
                await asyncio.sleep(delay)
                delay = min(delay * 2, settings.webhook_max_backoff_s)
    log.warning("webhook not delivered", extra={"fields": {"job": job_id, "attempts": settings.webhook_max_attempts}})
    await db.run(J.set_webhook_status, job_id, "failed")
    return False
