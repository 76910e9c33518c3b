"""Saved scenarios: every save is a new version; a save may require the version it replaces.

``save`` is one conditional update (``version = expected``): of two writers holding the
same version, one wins and the other learns that its version is stale, so no update is lost.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from service.storage.tables import scenario_tokens, scenario_versions, scenarios


class Stale(Exception):
    """The scenario's current version is not the one the writer expected (``current``: 0 = none)."""

    def __init__(self, current: int) -> None:
        super().__init__(current)
        self.current = current


def current_version(conn: Connection, name: str) -> int:
    return conn.execute(select(scenarios.c.version).where(scenarios.c.name == name)).scalar() or 0


def save(conn: Connection, name: str, document: str, expected: int | None, now: float) -> int:
    """Store a new version; ``expected``: the version it must replace (0: none yet; None: any). Its number."""
    current = current_version(conn, name)
    if expected is not None and expected != current:
        raise Stale(current)
    if current == 0:
        try:
            with conn.begin_nested():
                conn.execute(insert(scenarios).values(name=name, version=1, created_at=now, updated_at=now))
        except IntegrityError:  # created meanwhile by another writer
            raise Stale(current_version(conn, name)) from None
        version = 1
    else:
        done = conn.execute(
            update(scenarios)
            .where(scenarios.c.name == name, scenarios.c.version == current)
            .values(version=current + 1, updated_at=now)
        )
        if done.rowcount != 1:
            raise Stale(current_version(conn, name))
        version = current + 1
    conn.execute(insert(scenario_versions).values(name=name, version=version, document=document, created_at=now))
    return version


def read(conn: Connection, name: str, version: int | None = None) -> dict[str, Any] | None:
    """A version (the current one by default) with its scenario's times; None: no such scenario or version."""
    head = conn.execute(select(scenarios).where(scenarios.c.name == name)).first()
    if head is None:
        return None
    wanted = head.version if version is None else version
    row = conn.execute(
        select(scenario_versions).where(scenario_versions.c.name == name, scenario_versions.c.version == wanted)
    ).first()
    if row is None:
        return None
    return {
        "name": name,
        "version": row.version,
        "latest_version": head.version,
        "document": row.document,
        "created_at": head.created_at,
        "updated_at": head.updated_at,
        "version_created_at": row.created_at,
    }


def listing(conn: Connection) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(select(scenarios).order_by(scenarios.c.name))]


def remove(conn: Connection, name: str, expected: int | None) -> bool:
    """Delete a scenario, its versions and tokens; False: there was none."""
    current = current_version(conn, name)
    if current == 0:
        return False
    if expected is not None and expected != current:
        raise Stale(current)
    conn.execute(delete(scenario_tokens).where(scenario_tokens.c.scenario == name))
    conn.execute(delete(scenario_versions).where(scenario_versions.c.name == name))
    done = conn.execute(delete(scenarios).where(scenarios.c.name == name, scenarios.c.version == current))
    if done.rowcount != 1:
        raise Stale(current_version(conn, name))
    return True


def token_hash(token: str) -> str:
    """Tokens are long random strings: a plain SHA-256 is enough to keep them unusable if the database leaks."""
    return hashlib.sha256(token.encode()).hexdigest()


def add_token(conn: Connection, name: str, token_id: str, token: str, now: float) -> None:
    conn.execute(
        insert(scenario_tokens).values(id=token_id, scenario=name, token_hash=token_hash(token), created_at=now)
    )


def tokens(conn: Connection, name: str) -> list[dict[str, Any]]:
    query = select(scenario_tokens.c.id, scenario_tokens.c.created_at, scenario_tokens.c.revoked_at).where(
        scenario_tokens.c.scenario == name
    )
    return [dict(r._mapping) for r in conn.execute(query.order_by(scenario_tokens.c.created_at))]


def revoke(conn: Connection, name: str, token_id: str, now: float) -> bool:
    done = conn.execute(
        update(scenario_tokens)
        .where(scenario_tokens.c.id == token_id, scenario_tokens.c.scenario == name)
        .values(revoked_at=now)
    )
    return done.rowcount == 1


def token_valid(conn: Connection, name: str, token: str) -> bool:
    """The token exists, is for this scenario and is not revoked."""
    row = conn.execute(
        select(scenario_tokens.c.scenario, scenario_tokens.c.revoked_at).where(
            scenario_tokens.c.token_hash == token_hash(token)
        )
    ).first()
    return row is not None and row.scenario == name and row.revoked_at is None
