"""Keep the online roles fresh while the server runs.

Timestamp expires after a day and snapshot after a week, so that a client shown a
frozen repository notices within a day. The serving process therefore re-signs
them (online keys) soon after start and then every :data:`INTERVAL_S`, well before
they lapse; offline roles near expiry are only logged, for IT to renew.
"""

from __future__ import annotations

import logging

from server.leader_rounds import LeaderRounds
from server.updates.repository import UpdateRepository

logger = logging.getLogger("cordon.server.updates")
INTERVAL_S = 15 * 60.0


class ResignThread(LeaderRounds):
    """Re-signs timestamp (and snapshot) of an initialised repository when they near expiry."""

    def __init__(self, repo: UpdateRepository, interval_s: float = INTERVAL_S) -> None:
        super().__init__("update-resign", repo.data, self.run_once, interval_s)
        self._repo = repo

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
