"""SQLite engines opened at once on a new data directory's database file."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
from pathlib import Path

from server import engines

#: Each round ~1.5 % likely to meet the race without the retry (measured): 400 rounds
#: meet it about six times, so this fails without it all but ~0.3 % of runs.
_ROUNDS = 400
_OPENERS = 3


def test_connections_opened_at_once_on_a_new_file_all_switch_it_to_wal(tmp_path: Path) -> None:
    """Two server processes starting on a new directory each switch the new file to WAL;
    SQLite answers one of two simultaneous switches SQLITE_BUSY at once (no busy
    handler: it would deadlock). Every opener still connects, and the file is in WAL."""
    failures: list[BaseException] = []
    for round_ in range(_ROUNDS):
        path = tmp_path / f"r{round_}.sqlite3"
        barrier = threading.Barrier(_OPENERS)

        def open_it(where: Path = path, barrier: threading.Barrier = barrier) -> None:
            engine = engines.make_writer_engine(where)
            barrier.wait()
            try:
                with engine.connect():
                    pass
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                failures.append(exc)
            finally:
                engine.dispose()

        threads = [threading.Thread(target=open_it) for _ in range(_OPENERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with closing(sqlite3.connect(path)) as check:
            assert check.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        path.unlink()
    assert [str(f) for f in failures] == []
