"""Insert-or-update of one row by its key, with the dialect-bound SQL in this one module.

SQLite and PostgreSQL both spell it ``INSERT … ON CONFLICT (key) DO UPDATE``, but
SQLAlchemy builds it from a dialect's own ``insert``; keeping the import here means the
engine can change (the scale-out work) by changing this module, not every caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table

from server import dialect


def upsert(conn: Connection, table: Table, key: Sequence[str], values: dict[str, Any]) -> None:
    """Write ``values`` as the row whose ``key`` columns they name, new or replaced."""
    conn.execute(
        dialect.insert(conn, table)
        .values(**values)
        .on_conflict_do_update(index_elements=list(key), set_=values)
    )
