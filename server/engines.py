"""Engines for the data directory's database: SQLite with its pragmas, or PostgreSQL.

WAL with ``synchronous=FULL``: a commit is on disk before the server answers,
which the audit rules (fail closed) depend on. Foreign keys are on. The event
ingest, request transactions and schema migrations use the writer engine
(:func:`make_writer_engine`): every transaction takes the one write lock before
its first statement, and SAVEPOINTs work, which needs transactions begun by
SQLAlchemy rather than by the sqlite3 module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event

from server import dialect, row_security
from server.sqlite_wal import switch_to_wal

#: Threads that run requests' synchronous code in one server process (anyio's default
#: limit, which FastAPI uses for ``def`` routes and dependencies).
REQUEST_THREADS = 40


def _on_connect(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=5000")
    switch_to_wal(cur)
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    # Deleted rows are overwritten with zeros in the file, not left in free pages: an
    # erased record's sealed bytes do not linger in the database file.
    cur.execute("PRAGMA secure_delete=ON")
    cur.close()


def _url(where: Path | str) -> str:
    """A database URL, or a SQLite file's path (the default data directory's)."""
    return where if isinstance(where, str) else f"sqlite:///{where}"


def make_engine(where: Path | str) -> Engine:
    """Engine for the data directory's database (SQLite with its durability pragmas, or
    PostgreSQL, whose commits are durable by default: ``synchronous_commit=on``)."""
    url = _url(where)
    if not url.startswith("sqlite"):
        return _postgresql_engine(url, lock_at_begin=False)
    # As many pooled connections as the request threads (anyio's 40): with SQLAlchemy's
    # default of 5 (+10 overflow) a loaded server closed and reopened connections —
    # pragmas, WAL check — all the time (2-4 % of its samples in py-spy); pooling them
    # measured 3-11 % less CPU per ingested event (docs/performance.md).
    engine = create_engine(url, pool_size=REQUEST_THREADS, max_overflow=10)
    event.listen(engine, "connect", _on_connect)
    return engine


def _postgresql_engine(url: str, *, lock_at_begin: bool) -> Engine:
    """A pool of PostgreSQL connections; each transaction begins with the write lock if
    asked, then with its projects if row-level security is on (:mod:`server.row_security`)."""
    engine = create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
    event.listen(engine, "connect", _on_postgresql_connect)
    hook = row_security.begin_writing if lock_at_begin else row_security.on_begin
    event.listen(engine, "begin", hook)
    return engine


def _on_postgresql_connect(dbapi_conn: Any, record: Any) -> None:
    dialect.on_postgresql_connect(dbapi_conn, record)
    row_security.on_connect(dbapi_conn, record)
    dbapi_conn.commit()


def make_writer_engine(where: Path | str, *, lock_at_begin: bool = True) -> Engine:
    """Engine whose transactions take the one write lock first and support SAVEPOINT.

    SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: a transaction-level advisory lock
    (:mod:`server.dialect`). Taken before the first read, so a transaction that
    reads then writes never works from a snapshot another writer moved. With
    ``lock_at_begin=False`` (the group committer) a PostgreSQL transaction takes
    it itself (:func:`server.dialect.lock_for_writing`), which lets the committer
    time the wait apart from the section; SQLite's is still taken at ``BEGIN``.
    """
    url = _url(where)
    if not url.startswith("sqlite"):
        return _postgresql_engine(url, lock_at_begin=lock_at_begin)
    engine = create_engine(url)
    event.listen(engine, "connect", _on_connect_writer)
    event.listen(engine, "begin", dialect.begin_write)  # BEGIN IMMEDIATE either way
    return engine


def _on_connect_writer(dbapi_conn: Any, record: Any) -> None:
    _on_connect(dbapi_conn, record)
    # Several server processes queue for the one write lock: a writer waits its turn
    # (one group commit each) rather than failing a request after 5 s.
    dbapi_conn.execute("PRAGMA busy_timeout=30000")
    dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (_on_begin_immediate)
