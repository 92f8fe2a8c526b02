"""Bring a data directory made before versioned migrations up to the baseline's columns.

Before ``server/migrations`` existed, every start ran ``create_all`` and then added
the nullable columns a newer version had (a device's key thumbprint, a user's
disabled time) with the portable ``ALTER TABLE … ADD COLUMN`` that SQLite and
PostgreSQL both accept. :mod:`server.schema_version` still does exactly that, once,
for such a directory (against the frozen baseline, not the live metadata) before
stamping it; every later change is an Alembic revision. Only additive, nullable
columns are added here: anything else is refused.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection, MetaData, inspect
from sqlalchemy.schema import CreateColumn, CreateIndex

logger = logging.getLogger(__name__)


class NotAdditiveError(Exception):
    """A column is missing that cannot be added without a value for the rows already there."""


def add_missing_columns(conn: Connection, metadata: MetaData) -> list[str]:
    """Add every nullable column the database lacks; return ``table.column`` names added.

    Runs on ``conn``, in the caller's transaction (the schema upgrade's, which holds
    the write lock), so a refusal leaves nothing half-added.
    """
    inspector = inspect(conn)
    present_tables = set(inspector.get_table_names())
    added: list[str] = []
    for table in metadata.sorted_tables:
        if table.name not in present_tables:
            continue
        have = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in have:
                continue
            if not column.nullable:
                raise NotAdditiveError(
                    f"{table.name}.{column.name} is missing and not nullable: "
                    "this data directory needs a migration"
                )
            ddl = CreateColumn(column).compile(dialect=conn.dialect)
            conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {ddl}")
            for index in table.indexes:
                if [c.name for c in index.columns] == [column.name]:
                    conn.execute(CreateIndex(index))
            added.append(f"{table.name}.{column.name}")
    if added:
        logger.info("added columns to an older data directory: %s", ", ".join(added))
    return added
