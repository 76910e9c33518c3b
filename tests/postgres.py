"""A throwaway PostgreSQL cluster for the tests: initdb and pg_ctl in a temporary directory, on loopback.

``STOCKPILE_TEST_POSTGRES_URL`` (a server the tests may create databases on) is used when set;
otherwise a cluster is started from Debian's ``postgresql`` binaries (as the ``postgres`` user
when running as root, as initdb refuses root) and stopped at the end of the session.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text


def _binary(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    assert found, f"PostgreSQL's {name} is required (make test installs Debian's postgresql when run as root)"
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def cluster() -> Iterator[str]:
    """A server URL (``postgresql+psycopg://``) while the block runs."""
    given = os.environ.get("STOCKPILE_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    as_user: list[str] = []
    directory = tempfile.mkdtemp(prefix="stockpile-pg-")
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(directory, "postgres")
    data, port = os.path.join(directory, "data"), _free_port()
    run = lambda *args: subprocess.run([*as_user, *args], check=True, capture_output=True, text=True)
    try:
        run(_binary("initdb"), "-D", data, "-U", "postgres", "--auth=trust", "--no-sync")
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {directory} -c fsync=off -c max_connections=200"
        run(_binary("pg_ctl"), "-D", data, "-o", options, "-l", os.path.join(directory, "log"), "-w", "start")
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
        finally:
            run(_binary("pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def fresh_database(server_url: str) -> str:
    """A new empty database on the server; its URL."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return server_url.rsplit("/", 1)[0] + "/" + name
