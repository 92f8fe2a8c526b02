"""What differs between SQLite and PostgreSQL, in one place.

Cordon's schema and queries are SQLAlchemy Core and run on both engines; the few
statements whose spelling or semantics differ are built here, from the
connection's dialect:

- ``INSERT … ON CONFLICT`` (both engines have it, but SQLAlchemy builds it from a
  dialect's own ``insert``);
- placeholders for the statements that go straight to the driver (the ingest
  path's bulk inserts): ``?`` for sqlite3, ``%s`` for psycopg;
- the write lock: SQLite's ``BEGIN IMMEDIATE`` takes the database's one write
  lock; on PostgreSQL every writing transaction takes one transaction-level
  advisory lock first, so the code keeps the same guarantee everywhere — one
  writer at a time, across every server process (each audit log keeps one
  order; the ``max(seq)`` a batch numbers its events from cannot move);
- row numbers the ingest path assigns itself: PostgreSQL's sequence is moved past
  them;
- query plans: PostgreSQL connections plan every parameterised statement for its
  actual values (:data:`POSTGRESQL_CONNECT_ARGS`);
- integers: SQLite's ``INTEGER`` holds 64 bits and the wire allows up to 2**53, so on
  PostgreSQL every ``Integer`` column is created ``BIGINT`` (not the 32-bit ``INTEGER``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Integer, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.compiler import compiles

#: The advisory lock every writing transaction takes on PostgreSQL (any fixed number).
WRITE_LOCK = 7_020_001

#: Connection options for PostgreSQL engines. psycopg prepares a statement on the
#: server after its fifth use, and PostgreSQL then keeps a *generic* plan for it
#: once that looks no dearer than the plans made for actual values. On a new
#: database that happens while the tables are nearly empty: the ingest path's
#: ``event_id IN (…)`` de-duplication was kept as a sequential scan and cost 39 ms
#: per batch at 30k events (0.75 ms with a plan for its values), growing with the
#: table until autovacuum's ANALYZE happened to invalidate it. A custom plan per
#: execution costs a fraction of a millisecond and follows the table's real size.
POSTGRESQL_CONNECT_ARGS = {"options": "-c plan_cache_mode=force_custom_plan"}


def insert(conn: Connection, table: Table) -> Any:
    """An ``INSERT`` that supports ``on_conflict_do_nothing/update`` on this engine."""
    return pg_insert(table) if conn.dialect.name == "postgresql" else sqlite_insert(table)


def placeholders(conn: Connection, count: int) -> str:
    """``?, ?, …`` or ``%s, %s, …``: the driver's own parameter style."""
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    return ", ".join([mark] * count)


def begin_write(conn: Any) -> None:
    """Start a writing transaction holding the one write lock (an engine ``begin`` hook)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK})")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def numbered(conn: Connection, table: str, column: str, highest: int) -> None:
    """Rows were inserted with explicit numbers up to ``highest``: keep the sequence ahead."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), %s)", (highest,)
        )


@compiles(Integer, "postgresql")
def _bigint(_type: Integer, _compiler: Any, **_kw: Any) -> str:
    return "BIGINT"
