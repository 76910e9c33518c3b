"""Alembic's environment: runs on the connection ``service.storage.upgrade`` hands it."""

from __future__ import annotations

from alembic import context

from service.storage.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - `alembic` run by hand: use the URL it was given
    from sqlalchemy import create_engine

    connection = create_engine(context.config.get_main_option("sqlalchemy.url")).connect()

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
