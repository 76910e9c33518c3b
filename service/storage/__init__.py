"""The service's database: jobs and saved scenarios (SQLAlchemy 2 Core, Alembic migrations).

``STOCKPILE_DATABASE_URL`` picks it: a SQLite file in ``STOCKPILE_DATA_DIR`` by default,
``postgresql+psycopg://...`` for several replicas sharing one queue. ``Database.upgrade``
brings the schema to the newest migration (at start-up and ``stockpile db upgrade``).

Every call is synchronous and short; the web layer runs each in a thread (``Database.run``)
so that the event loop never waits on the database. Each call is one transaction, committed
before it returns: an acknowledged write is on disk.

SQLite has one writer at a time: every transaction starts with ``BEGIN IMMEDIATE`` (takes the
write lock at once, waiting up to 30 s for it, instead of failing when a read turns into a
write), in WAL mode so that readers of committed data are not blocked.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.pool import NullPool

T = TypeVar("T")

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, poolclass=NullPool)

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, _: Any) -> None:
            dbapi_connection.isolation_level = None  # no implicit BEGIN from the driver: ours below
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection: Connection) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


class Database:
    """One engine, and transactions run off the event loop."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.postgres = self.engine.dialect.name == "postgresql"

    def upgrade(self) -> None:
        """Apply the migrations not yet applied (several processes at once: one at a time)."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            if self.postgres:  # replicas starting together: the others wait, then find nothing to do
                connection.execute(text("SELECT pg_advisory_xact_lock(72617325)"))
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(connection, *args)`` in one transaction, committed on return."""
        with self.engine.begin() as connection:
            return fn(connection, *args)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``call`` on a thread: the event loop goes on meanwhile."""
        return await anyio.to_thread.run_sync(self.call, fn, *args)

    def close(self) -> None:
        self.engine.dispose()
