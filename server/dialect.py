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
- integers: SQLite's ``INTEGER`` holds 64 bits and the wire allows up to 2**53, so on
  PostgreSQL every ``Integer`` column is created ``BIGINT`` (not the 32-bit ``INTEGER``);
  the autoincrementing keys, which the baseline created ``SERIAL``, are widened by
  schema revision 0002. An engine that reflects the schema keeps its bound integers
  ``INTEGER`` (:func:`inspectable`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, Integer, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.compiler import compiles

#: The advisory lock every writing transaction takes on PostgreSQL (any fixed number).
WRITE_LOCK = 7_020_001


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


#: Set on the dialect of an engine made for schema work (:func:`inspectable`).
_SCHEMA_WORK = "cordon_schema_work"


def inspectable(engine: Engine) -> Engine:
    """``engine``, able to reflect a PostgreSQL schema (SQLite's is unchanged); returned.

    SQLAlchemy's PostgreSQL reflection passes small integers to catalog functions that
    take ``integer`` (``generate_subscripts(indkey, 1)``), and psycopg's dialect casts
    every bound ``Integer`` to its driver type: :func:`_bigint` would make that cast
    ``BIGINT``, which those functions refuse. On an engine made for schema work
    (migrations, comparing a database with the metadata) those driver casts stay
    ``INTEGER``; columns and the types Alembic compares are still ``BIGINT``. The
    server's own engines keep ``BIGINT`` casts, which values above 2**31 need. Only
    for new engines that serve nothing else.
    """
    setattr(engine.dialect, _SCHEMA_WORK, True)
    return engine


@compiles(Integer, "postgresql")
def _bigint(type_: Integer, compiler: Any, **_kw: Any) -> str:
    driver_cast = type(type_).__module__.startswith("sqlalchemy.dialects.")  # a bound value's
    if driver_cast and getattr(compiler.dialect, _SCHEMA_WORK, False):
        return "INTEGER"
    return "BIGINT"
