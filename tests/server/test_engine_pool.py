"""The SQLite read engine keeps a connection per request thread instead of reopening them.

With SQLAlchemy's default pool (5, and 10 more closed on return) a loaded server made
new connections — pragmas and the WAL check each time — over and over.
"""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import event, text

from server.engines import REQUEST_THREADS, make_engine


def test_as_many_connections_as_request_threads_are_kept_open(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "pool.sqlite3")
    opened: list[int] = []
    event.listen(engine, "connect", lambda *_: opened.append(1))
    barrier = threading.Barrier(REQUEST_THREADS)
    answered: list[int] = []
    failed: list[BaseException] = []

    def request() -> None:
        try:
            with engine.connect() as conn:
                barrier.wait(timeout=30)  # every thread holds a connection at once
                answered.append(conn.execute(text("SELECT 1")).scalar_one())
        except BaseException as exc:  # noqa: BLE001 - reported below, not lost in a thread
            failed.append(exc)

    try:
        for _ in range(3):
            threads = [threading.Thread(target=request) for _ in range(REQUEST_THREADS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            assert not any(t.is_alive() for t in threads)
        assert failed == []
        assert len(answered) == 3 * REQUEST_THREADS
        assert len(opened) == REQUEST_THREADS  # the first round's, kept for the next two
    finally:
        engine.dispose()
