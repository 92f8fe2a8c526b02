"""Notice revocations quickly, in every server process, with one small query.

A revoked device or a disabled user is a row in ``revocations`` (written by
the CLI or the admin API, from any process). One thread per server process
reads the newest row number every :data:`POLL_S`; each open push channel
compares that number with the last it acted on and, when it moved, checks
its own device and user once. So a revocation reaches a connected client in
about ``POLL_S`` plus one round trip, and the database sees one query per
poll, not one per client.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time

from sqlalchemy import Connection, Engine, func, insert, select

from server import db

logger = logging.getLogger(__name__)
POLL_S = 0.2


def record(conn: Connection, user_id: str, device_id: str | None = None) -> None:
    """Note that ``user_id`` (or only their ``device_id``) lost access."""
    conn.execute(
        insert(db.revocations).values(
            user_id=user_id, device_id=device_id, created_at=int(time.time())
        )
    )


class RevocationWatch:
    """The newest revocation number, refreshed by one thread (started on first use)."""

    def __init__(self, engine: Engine, poll_s: float = POLL_S) -> None:
        self._engine = engine
        self._poll = poll_s
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.generation = self._read()

    def _read(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.max(db.revocations.c.seq))).scalar() or 0)

    def ensure_started(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(  # a context of its own, not the request's
                    target=contextvars.Context().run,
                    args=(self._run,),
                    name="cordon-revocation-watch",
                    daemon=True,
                )
                self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._poll):
            try:
                self.generation = self._read()
            except Exception as exc:  # noqa: BLE001 - a busy database must not end the watch
                logger.warning("revocation watch: %s; trying again", type(exc).__name__)

    def stop(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(5)
