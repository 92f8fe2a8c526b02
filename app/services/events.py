"""Access events: recorded as they happen, into the encrypted outbox.

Thread-safe: the GUI thread and workers record. Recording never waits for the
disk (the outbox's writer thread syncs in groups); the uploader
(:mod:`app.services.delivery`) sends what is on disk.
"""

from __future__ import annotations

import logging
from typing import Any

from app.domain.models import AccessEvent
from app.services.outbox import Outbox, Ticket

logger = logging.getLogger(__name__)


def event_body(event: AccessEvent) -> dict[str, Any]:
    """The wire fields of an event (all but its sequence number, which the outbox assigns)."""
    return {
        "event_id": event.event_id,
        "action": event.action.value,
        "client_time": event.client_time,
        "task_id": event.task_id,
        "segment_id": event.segment_id,
        "position_ms": event.position_ms,
        "outcome": event.outcome.value,
        "reason": event.reason,
    }


class EventRecorder:
    """Appends access events to the outbox."""

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox

    def record(self, event: AccessEvent) -> Ticket:
        ticket = self._outbox.append("event", event_body(event))
        logger.debug("recorded %s as entry %d", event.action.value, ticket.seq)
        return ticket

    @property
    def pending(self) -> int:
        """Events recorded but not yet acknowledged by the server (queued or on disk)."""
        return self._outbox.counts()[0]
