"""A background round that only the leading server process runs (see :mod:`server.leader`).

Retention and re-signing update metadata both run soon after start and then
every interval, in one process per data directory, surviving a failed round.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from server import leader
from server.datadir import DataDir

logger = logging.getLogger(__name__)
FIRST_DELAY_S = 0.5


class LeaderRounds:
    """Calls ``round_`` soon after :meth:`start`, then every ``interval_s``, while leading."""

    def __init__(
        self, name: str, data: DataDir, round_: Callable[[], object], interval_s: float
    ) -> None:
        self._name, self._data, self._round, self._interval = name, data, round_, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"cordon-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        delay = FIRST_DELAY_S
        while not self._stop.wait(delay):
            delay = self._interval
            if not leader.leads(self._data):
                continue  # another server process on this data directory runs it
            try:
                self._round()
            except Exception:  # a failed round is retried next round
                logger.exception("%s round failed; retried in %.0f s", self._name, self._interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
