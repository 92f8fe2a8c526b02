"""Alembic's environment for Cordon: run migrations on the connection it is handed.

:mod:`server.schema_version` opens that connection inside a transaction that holds
the one write lock (``BEGIN IMMEDIATE`` on SQLite, the advisory lock on PostgreSQL)
and passes it in ``config.attributes["connection"]``; Alembic then runs every step in
that transaction (it begins none of its own on a connection already in one), so two
processes starting at once migrate one after the other and a failed step leaves
nothing half-done. There is no offline (SQL script) mode: Cordon migrates only the
database it is connected to.

On SQLite ``render_as_batch`` is on, so a later ``ALTER`` that SQLite cannot do in
place (drop or retype a column) is written as Alembic's copy-and-rename batch.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import server.auditlog.store  # noqa: F401 - registers the audit tables on the metadata
from server.db import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _connection() -> Connection:
    given = context.config.attributes.get("connection")
    if not isinstance(given, Connection):
        raise RuntimeError(
            "Cordon's migrations run through server.schema_version (or "
            "devtools/new_migration.py), which pass an open connection"
        )
    return given


if context.is_offline_mode():
    raise RuntimeError("Cordon has no offline migrations: run cordon-server db upgrade")
_run(_connection())
