"""What differs between SQLite and PostgreSQL, in one place.

Cordon's schema and queries are SQLAlchemy Core and run on both engines; the few
statements whose spelling or semantics differ are built here, from the
connection's dialect:

- ``INSERT … ON CONFLICT`` (both engines have it, but SQLAlchemy builds it from a
  dialect's own ``insert``);
- the ingest path's bulk inserts, which go straight to the driver: ``executemany``
  on SQLite, ``COPY`` on PostgreSQL (:func:`insert_rows`), whose text this module
  writes itself, most of it before the write lock (:func:`encode`);
- the write lock: SQLite's ``BEGIN IMMEDIATE`` takes the database's one write
  lock; on PostgreSQL every writing transaction takes one transaction-level
  advisory lock first, so the code keeps the same guarantee everywhere — one
  writer at a time, across every server process (each audit log keeps one
  order; the ``max(seq)`` a batch numbers its events from cannot move);
- which of a group's event ids are stored already (:func:`existing`: one array parameter on
  PostgreSQL);
- row numbers the ingest path assigns itself (:func:`reserve_numbers`): PostgreSQL's
  sequence is moved past them in the same statement that reads the highest;
- query plans: PostgreSQL connections plan every parameterised statement for its
  actual values (:func:`on_postgresql_connect`);
- integers: SQLite's ``INTEGER`` holds 64 bits and the wire allows up to 2**53, so on
  PostgreSQL every ``Integer`` column is created ``BIGINT`` (not the 32-bit ``INTEGER``);
  the autoincrementing keys, which the baseline created ``SERIAL``, are widened by
  schema revision 0002. An engine that reflects the schema keeps its bound integers
  ``INTEGER`` (:func:`inspectable`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, Integer, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.compiler import compiles

#: The advisory lock every writing transaction takes on PostgreSQL (any fixed number).
WRITE_LOCK = 7_020_001
#: The expression that takes it (PostgreSQL), until the transaction ends.
WRITE_LOCK_EXPRESSION = f"pg_advisory_xact_lock({WRITE_LOCK})"


def on_postgresql_connect(dbapi_conn: Any, _record: Any) -> None:
    """A new PostgreSQL connection plans every statement for its values (a ``connect`` hook).

    psycopg prepares a statement on the server after its fifth use, and PostgreSQL
    then keeps a *generic* plan for it once that looks no dearer than the plans made
    for actual values. On a new database that happens while the tables are nearly
    empty: the ingest path's ``event_id IN (…)`` de-duplication was kept as a
    sequential scan and cost 39 ms per batch at 30k events (0.75 ms with a plan for
    its values), growing with the table until autovacuum's ANALYZE happened to
    invalidate it. A custom plan per execution costs a fraction of a millisecond.
    Set with ``SET``, not as a startup ``options`` parameter, which would replace
    ``options`` an operator gave in the URL and which poolers such as PgBouncer
    refuse (behind a transaction-pooling PgBouncer a session ``SET`` does not stick:
    set ``plan_cache_mode`` on the database or role there instead).
    """
    dbapi_conn.execute("SET plan_cache_mode = force_custom_plan")
    dbapi_conn.commit()


def insert(conn: Connection, table: Table) -> Any:
    """An ``INSERT`` that supports ``on_conflict_do_nothing/update`` on this engine."""
    return pg_insert(table) if conn.dialect.name == "postgresql" else sqlite_insert(table)


#: COPY's text format: a value holding any of these characters is written with escapes.
_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")


def _copy_text(value: str) -> str:
    if _COPY_SPECIAL.search(value) is None:  # nearly always: ids, actions, addresses
        return value
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def _copy_field(value: Any) -> str:
    """One value in ``COPY``'s text format (PostgreSQL)."""
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "t" if value else "f"
    if isinstance(value, str):
        return _copy_text(str.__str__(value))  # the characters, whatever the subclass's str()
    if isinstance(value, bytes):
        return "\\\\x" + value.hex()  # bytea's hex form, its backslash escaped
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return repr(float(value))  # exact: float8 reads Python's shortest repr back as is
    raise TypeError(f"no COPY text form for a {type(value).__name__}")


def encode(conn: Connection, values: Sequence[Any]) -> Any:
    """A row's leading values as :func:`insert_rows` sends them on this engine.

    PostgreSQL: ``COPY``'s text format, each value followed by its tab; SQLite: the
    values as they are. A caller that knows a row's values before it takes the write
    lock (the ingest path does) encodes them then, so the lock's section only joins
    the numbers it assigns on: psycopg's own ``write_row`` cost ~5 µs a row there,
    ~6 ms of each 650-event group's ~45 ms.
    """
    if conn.dialect.name != "postgresql":
        return tuple(values)
    return "\t".join(map(_copy_field, values)) + "\t"


def insert_rows(
    conn: Connection,
    table: str,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, Sequence[int]]],
) -> None:
    """Insert ``rows`` into ``table``, in the caller's transaction: each row is its leading
    values as :func:`encode` made them, then its numbers (``columns`` in that order).

    Straight to the driver: SQLAlchemy's per-row parameter handling costs more than
    the insert itself at this volume. SQLite: one ``executemany``. PostgreSQL: one
    ``COPY`` — a 50-row batch in 0.67 ms against 1.5 ms for psycopg's pipelined
    ``executemany`` (which still binds and executes each row as its own statement);
    constraints are checked exactly as for ``INSERT``. A driver error comes back as
    SQLAlchemy's, as from ``execute``, so the group committer fails that request
    closed like any other write.
    """
    names = ", ".join(columns)
    if conn.dialect.name != "postgresql":
        marks = ", ".join(["?"] * len(columns))
        sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608 - fixed names
        conn.exec_driver_sql(sql, [(*head, *numbers) for head, numbers in rows])
        return
    sql = f"COPY {table} ({names}) FROM STDIN"
    text = "".join(head + "\t".join(map(str, numbers)) + "\n" for head, numbers in rows)
    driver = conn.connection.driver_connection
    if driver is None:  # pragma: no cover - a pooled connection always has its driver's
        raise RuntimeError("no driver connection")
    try:
        with driver.cursor() as cursor, cursor.copy(sql) as copy:
            copy.write(text.encode(driver.info.encoding))  # as psycopg's own rows are
    except conn.dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(
            sql, None, exc, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect
        ) from exc


def existing(conn: Connection, table: str, column: str, values: Sequence[str]) -> set[str]:
    """Those of ``values`` present in ``table.column`` (an indexed column; fixed names).

    PostgreSQL: one ``= ANY(array)`` parameter, where an expanded ``IN`` of a group's
    ~700 event ids cost more to render and bind than to run. SQLite: ``IN`` in chunks
    well inside its bound-parameter limit.
    """
    if not values:
        return set()
    if conn.dialect.name == "postgresql":
        sql = f"SELECT {column} FROM {table} WHERE {column} = ANY(%s)"  # noqa: S608 - fixed
        return {str(v) for v in conn.exec_driver_sql(sql, (list(values),)).scalars()}
    found: set[str] = set()
    for at in range(0, len(values), 500):
        chunk = values[at : at + 500]
        marks = ", ".join(["?"] * len(chunk))
        sql = f"SELECT {column} FROM {table} WHERE {column} IN ({marks})"  # noqa: S608
        found.update(str(v) for v in conn.exec_driver_sql(sql, tuple(chunk)).scalars())
    return found


def begin_write(conn: Any) -> None:
    """Start a writing transaction holding the one write lock (an engine ``begin`` hook)."""
    if conn.dialect.name == "postgresql":
        lock_for_writing(conn)
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def lock_for_writing(conn: Any) -> None:
    """Take the one write lock now, mid-transaction (PostgreSQL; until it ends).

    Reads made before it saw what was committed when they ran; every statement
    after it sees what the lock's previous holder committed (``READ COMMITTED``
    takes a new snapshot per statement). On SQLite the transaction's ``BEGIN
    IMMEDIATE`` holds the lock already: nothing to do.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT {WRITE_LOCK_EXPRESSION}")


def reserve_numbers(conn: Connection, table: str, column: str, count: int) -> int:
    """The first of ``count`` new row numbers after the highest in ``table.column``.

    The caller holds the write lock, so the highest cannot move before its rows are
    in. On PostgreSQL the column's sequence is moved past the new numbers in the same
    statement (rows inserted later by default take numbers after them): one round
    trip, where reading the highest and then moving the sequence took two.
    """
    if conn.dialect.name != "postgresql":
        highest = conn.exec_driver_sql(f"SELECT max({column}) FROM {table}").scalar()  # noqa: S608
        return int(highest or 0) + 1
    last = conn.exec_driver_sql(
        f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "  # noqa: S608 - fixed
        f"COALESCE(max({column}), 0) + %s) FROM {table}",
        (count,),
    ).scalar_one()
    return int(last) - count + 1


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
