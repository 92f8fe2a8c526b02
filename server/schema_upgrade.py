"""Bring an older data directory's tables up to the current columns.

``create_all`` creates missing tables but never changes an existing one, so a
column added later (a device's key thumbprint, a user's disabled time) would be
missing in a data directory made before it. Only additive, nullable columns are
added here, with the portable ``ALTER TABLE … ADD COLUMN`` that SQLite and
PostgreSQL both accept; anything else (a renamed or retyped column) belongs to
versioned migrations, which the scale-out work brings.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine, MetaData, inspect
from sqlalchemy.schema import CreateColumn, CreateIndex

logger = logging.getLogger(__name__)


def add_missing_columns(engine: Engine, metadata: MetaData) -> list[str]:
    """Add every nullable column the database lacks; return ``table.column`` names added."""
    inspector = inspect(engine)
    present_tables = set(inspector.get_table_names())
    added: list[str] = []
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            if table.name not in present_tables:
                continue
            have = {c["name"] for c in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name in have:
                    continue
                if not column.nullable:
                    raise RuntimeError(
                        f"{table.name}.{column.name} is missing and not nullable: "
                        "this data directory needs a migration"
                    )
                ddl = CreateColumn(column).compile(dialect=engine.dialect)
                conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {ddl}")
                for index in table.indexes:
                    if [c.name for c in index.columns] == [column.name]:
                        conn.execute(CreateIndex(index))
                added.append(f"{table.name}.{column.name}")
    if added:
        logger.info("added columns to an older data directory: %s", ", ".join(added))
    return added
