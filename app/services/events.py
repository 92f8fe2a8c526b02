"""Access events: recorded as they happen, uploaded in batches.

Thread-safe: the GUI thread and workers record; the network worker drains.
A batch that fails to upload goes back to the front of the queue, so events
survive a dead network for as long as the process lives. (Surviving a crash or
a kill needs the encrypted on-disk outbox that builds on this interface.)
"""

from __future__ import annotations

import collections
import logging
import threading

from app.api import errors
from app.api.client import CordonApi
from app.domain.models import AccessEvent
from app.wire.schemas import AccessEventIn, EventBatchIn

logger = logging.getLogger(__name__)

BATCH_MAX = 50


class EventRecorder:
    """An in-memory FIFO of access events waiting for the server."""

    def __init__(self) -> None:
        self._queue: collections.deque[AccessEvent] = collections.deque()
        self._lock = threading.Lock()

    def record(self, event: AccessEvent) -> None:
        with self._lock:
            self._queue.append(event)
        logger.debug("recorded %s for task %s", event.action.value, event.task_id)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def take(self, limit: int = BATCH_MAX) -> list[AccessEvent]:
        with self._lock:
            return [self._queue.popleft() for _ in range(min(limit, len(self._queue)))]

    def give_back(self, events: list[AccessEvent]) -> None:
        """Return an unsent batch to the front, in order."""
        with self._lock:
            self._queue.extendleft(reversed(events))


def to_wire(event: AccessEvent) -> AccessEventIn:
    return AccessEventIn(
        event_id=event.event_id,
        action=event.action,
        client_time=event.client_time,
        task_id=event.task_id,
        segment_id=event.segment_id,
        position_ms=event.position_ms,
        outcome=event.outcome,
        reason=event.reason,
    )


class EventUploader:
    """Sends what the recorder holds; runs on the network worker."""

    def __init__(self, api: CordonApi, recorder: EventRecorder) -> None:
        self._api = api
        self._recorder = recorder
        #: Events the server refused as malformed (a 4xx other than 401): never retried.
        self.dropped = 0

    def flush(self) -> int:
        """Upload every pending event; returns how many the server took.

        Stops at the first failure and keeps the rest (network down, server
        error, or 401 — the events wait for the next sign-in). A batch the
        server refuses as malformed can never succeed; it is dropped, counted
        and logged, so it cannot block every later event.
        """
        sent = 0
        while self._api.signed_in:
            batch = self._recorder.take()
            if not batch:
                break
            try:
                ack = self._api.post_events(EventBatchIn(events=[to_wire(e) for e in batch]))
            except (
                errors.RequestRejectedError,
                errors.ForbiddenError,
                errors.NotFoundError,
            ) as exc:
                self.dropped += len(batch)
                logger.error("server refused %d events (%s); dropped", len(batch), exc.code)
                continue
            except errors.ApiError:
                self._recorder.give_back(batch)
                raise
            sent += ack.accepted + ack.duplicates
        return sent
