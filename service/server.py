"""``stockpile serve``: uvicorn, with a graceful drain on SIGTERM.

On the first SIGTERM (or SIGINT) the server does not stop listening at once:

1. the gateway starts draining: ``/readyz`` answers 503 (so a load balancer
   takes the instance out), new solves get 503 with ``Retry-After``, while
   queued and running solves go on;
2. when none is left, or after ``drain_timeout_s`` (the workers are then
   stopped and the solves left get 503), uvicorn's own shutdown runs: it stops
   listening, lets responses in progress finish, and the app's lifespan stops
   the worker processes;
3. the process exits 0.

A second signal during the drain stops at once: the workers are stopped, the
solves left get 503, their responses go out, and the process exits (a third
signal exits without waiting for those responses). Unlike plain uvicorn, the
signal is not re-raised after the shutdown, so a drained exit is a clean
exit (code 0), as orchestrators expect from a handled SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from types import FrameType

import uvicorn
from fastapi import FastAPI

from service.app import create_app
from service.observability import configure_logging
from service.settings import Settings

log = logging.getLogger("stockpile.server")


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: FastAPI, drain_timeout_s: float) -> None:
        super().__init__(config)
        self._app = app
        self._drain_timeout_s = drain_timeout_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.draining = False
        self.stopping = False

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Runs as a Python signal handler on the main thread: only hand over to the loop.
        if self._loop is None or not self.started:
            self.should_exit = True
        elif not self.draining:
            self.draining = True
            self._loop.call_soon_threadsafe(self._start, self._drain)
        elif not self.stopping:
            self.stopping = True
            self._loop.call_soon_threadsafe(self._start, self._stop)
        else:
            self.should_exit = self.force_exit = True

    def _start(self, step) -> None:
        task = asyncio.ensure_future(step())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drain(self) -> None:
        gateway = self._app.state.gateway
        log.info("draining", extra={"fields": {"timeout_s": self._drain_timeout_s}})
        try:
            finished = await gateway.drain(self._drain_timeout_s)
            log.info("drained" if finished else "drain timed out; stopping the remaining solves")
            if not finished:
                await gateway.close()  # the solves left get 503 now, before uvicorn stops
                await gateway.drain(5)
        finally:
            self.should_exit = True

    async def _stop(self) -> None:
        """A second signal: stop the workers now (the solves left get 503), then shut down."""
        log.info("stopping the remaining solves now")
        try:
            await self._app.state.gateway.close()
        finally:
            self.should_exit = True


def serve(settings: Settings) -> None:
    """Run the API until SIGTERM/SIGINT, then drain and return."""
    configure_logging(settings.log_level)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=False,  # one JSON line per request comes from service.observability
        timeout_graceful_shutdown=max(5, int(settings.solve_grace_s)),
        lifespan="on",
    )
    DrainingServer(config, app, settings.drain_timeout_s).run()
