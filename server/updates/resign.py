"""Keep the online roles fresh while the server runs.

Timestamp expires after a day and snapshot after a week, so that a client shown a
frozen repository notices within a day. The serving process therefore re-signs
them (online keys) soon after start and then every :data:`INTERVAL_S`, well before
they lapse; offline roles near expiry are only logged, for IT to renew.
"""

from __future__ import annotations

import logging
import threading

from server import leader
from server.updates.repository import UpdateRepository

logger = logging.getLogger("cordon.server.updates")
INTERVAL_S = 15 * 60.0


class ResignThread:
    """Re-signs timestamp (and snapshot) of an initialised repository when they near expiry."""

    def __init__(self, repo: UpdateRepository, interval_s: float = INTERVAL_S) -> None:
        self._repo = repo
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cordon-update-resign", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def run_once(self) -> list[str]:
        """One round: nothing if no repository was initialised."""
        if not self._repo.initialised:
            return []
        roles = self._repo.refresh_online()
        if roles:
            logger.info("updates: re-signed %s", ", ".join(roles))
        for role in self._repo.due_offline():
            logger.warning("updates: %s metadata expires within 30 days; run updates renew", role)
        return roles

    def _run(self) -> None:
        delay = 0.5
        while not self._stop.wait(delay):
            if not leader.leads(self._repo.data):
                delay = self._interval
                continue  # another server process on this data directory re-signs
            try:
                self.run_once()
            except Exception:  # a failed round is retried next round
                logger.exception("updates: re-signing failed; retried in %.0f s", self._interval)
            delay = self._interval

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
