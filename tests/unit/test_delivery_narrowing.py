"""The uploader narrows a failing batch down to the one event the server fails on.

The server side of this is exercised end to end in
``tests/e2e/test_delivery_parking.py`` (a label); a server that fails on one
*event* inside a batch of fifty cannot be produced from outside, so here a
stand-in for the HTTP client answers 500 to any batch holding that event and
stores everything else. What is checked is what a server would hold in the
end: every other event exactly once, the poisoned one still in the outbox.
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

from app.api import errors
from app.api.client import CordonApi
from app.services.delivery import Delivery
from app.services.outbox import Outbox
from app.wire.schemas import EventBatchAck, EventBatchIn
from devtools.processes import wait_until

KEY = bytes(range(32))


class FailsOnOneEvent(CordonApi):
    def __init__(self, ca: Path, poison: str) -> None:
        super().__init__("https://127.0.0.1:1", ca)
        self.set_token("token")
        self.poison = poison
        self.stored: list[str] = []
        self.requests = 0
        self._lock = threading.Lock()

    def post_events(self, batch: EventBatchIn, idempotency_key: str | None = None) -> EventBatchAck:
        with self._lock:
            self.requests += 1
            ids = [e.event_id for e in batch.events]
            if self.poison in ids:
                raise errors.ServerFailureError(500, None, "internal error")
            self.stored += ids
        return EventBatchAck(accepted=len(ids), duplicates=0)


def test_one_poisoned_event_is_isolated_and_parked(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not used")
    outbox = Outbox(tmp_path / "outbox", KEY)
    ids = [str(uuid.uuid4()) for _ in range(120)]
    poison = ids[37]
    tickets = [
        outbox.append("event", {"event_id": i, "action": "playback_started", "client_time": 1.0})
        for i in ids
    ]
    for ticket in tickets:
        ticket.wait(10)
    api = FailsOnOneEvent(ca, poison)
    delivery = Delivery(outbox, api, backoff=(0.001, 0.01), park_retry=(60.0, 60.0))
    delivery.start()
    try:
        wait_until(lambda: outbox.counts() == (1, 0), 20, "all but one delivered")
        assert sorted(api.stored) == sorted(i for i in ids if i != poison)
        assert len(api.stored) == len(set(api.stored))
        (kept,) = outbox.pending()
        assert kept.body["event_id"] == poison
        assert delivery.state().parked == 1
        assert delivery.dropped == 0
        assert api.requests < 40  # narrowed by halving, not one event at a time
    finally:
        delivery.stop()
        outbox.close()
