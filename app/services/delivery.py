"""The uploader: drains the outbox to the server on its own thread.

Events go in batches of up to :data:`BATCH_MAX`, or whatever has waited
:data:`BATCH_WAIT_S` — a burst becomes one request, a lone event still leaves
within a fifth of a second. Labels go one per request, in sequence order with
the events around them. Every request carries an ``Idempotency-Key`` derived
from its content, so a retry after a lost answer gets the first answer.

Failures are sorted by what they mean:
- no network, a 429: *wait and retry*, with exponential backoff and jitter
  (so 200 workstations coming back after an outage do not hit the server in
  lockstep); the UI shows "offline";
- a 5xx or a garbled answer: the server answered but failed on *this*
  request. Wait and retry as above, and narrow the batch down (halve it on
  each failure) until the entry it fails on is alone; an entry that fails
  alone :data:`PARK_AFTER` times in a row is *parked*: it stays sealed in the
  outbox, the entries behind it go on, and it is tried again after
  :data:`PARK_RETRY_FIRST_S` (doubling up to :data:`PARK_RETRY_MAX_S`).
  One entry the server keeps failing on can never block the others;
- 401: *pause* until the next sign-in (the entries stay on disk);
- any other 4xx: the server will never take this entry. It is removed (kept
  forever it would block everything behind it), counted and logged by id;
  for a label the annotator is told, and the transcript stays in the editor.

Entries are acknowledged in the outbox only after the server's answer, and
only a refusal for good removes one. Parking is in memory: after a restart a
parked entry is simply tried again in order.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from pydantic import ValidationError

from app.api import errors
from app.api.client import CordonApi
from app.domain.label_document import LabelDocument, from_wire
from app.services.labels import outbox_document
from app.services.outbox import Entry, Outbox
from app.wire.schemas import AccessEventIn, ErrorCode, EventBatchIn, LabelAck

logger = logging.getLogger(__name__)

BATCH_MAX = 50
BATCH_WAIT_S = 0.2
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0
#: Failures in a row, with the entry alone in its request, before it is parked.
PARK_AFTER = 3
PARK_RETRY_FIRST_S = 60.0
PARK_RETRY_MAX_S = 1800.0


class Link(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"  # the last attempt got no answer; retrying with backoff
    SERVER_ERROR = "server_error"  # the server answered with a failure; retrying with backoff
    SIGNED_OUT = "signed_out"  # waiting for a sign-in


@dataclass(frozen=True)
class DeliveryState:
    link: Link
    events: int
    labels: int
    retry_in_s: float = 0.0
    #: Entries set aside because the server keeps failing on them (included in the counts).
    parked: int = 0


@dataclass(frozen=True)
class LabelResult:
    """What became of a queued label: stored (with its revision) or refused for good."""

    task_id: str
    label_id: str
    draft: bool
    ack: LabelAck | None
    refusal: errors.ServerError | None = None
    #: A refused label's document and base: the controller keeps it as a local draft,
    #: so a refusal loses no work even when the task is no longer open.
    document: LabelDocument | None = None
    base_revision: int | None = None


class Delivery:
    """Sends the outbox's entries, oldest first, until stopped."""

    def __init__(
        self,
        outbox: Outbox,
        api: CordonApi,
        on_state: Callable[[DeliveryState], None] = lambda _s: None,
        on_label: Callable[[LabelResult], None] = lambda _r: None,
        on_auth_error: Callable[[errors.AuthenticationError], None] = lambda _e: None,
        rng: random.Random | None = None,
        backoff: tuple[float, float] = (BACKOFF_FIRST_S, BACKOFF_MAX_S),
        park_retry: tuple[float, float] = (PARK_RETRY_FIRST_S, PARK_RETRY_MAX_S),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._outbox = outbox
        self._api = api
        self._on_state = on_state
        self._on_label = on_label
        self._on_auth_error = on_auth_error
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        self._backoff_first, self._backoff_max = backoff
        self._park_first, self._park_max = park_retry
        self._clock = clock
        #: How many entries the next request may carry (halved on an answered failure).
        self._batch_limit = BATCH_MAX
        #: Answered failures in a row of an entry sent alone, by sequence number.
        self._strikes: dict[int, int] = {}
        #: Parked entries: sequence number -> (when to try again, times parked).
        self._parked: dict[int, tuple[float, int]] = {}
        self._wake = threading.Condition()
        self._woken = False
        self._stopping = False
        self._auth_paused = False
        self._failures = 0
        self._link = Link.ONLINE
        self._idle = threading.Event()
        #: Entries the server refused for good (dropped, by count).
        self.dropped = 0
        outbox.add_listener(self.wake)
        self._thread = threading.Thread(target=self._run, name="cordon-delivery", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Something changed (new entries, a sign-in): look again now, skipping any backoff."""
        with self._wake:
            self._woken = True
            self._wake.notify()

    def signed_in(self) -> None:
        """A new sign-in: resume after a 401, and retry at once."""
        self._auth_paused = False
        self._failures = 0
        self.wake()

    def state(self) -> DeliveryState:
        events, labels = self._outbox.counts()
        link = self._link if self._api.signed_in and not self._auth_paused else Link.SIGNED_OUT
        return DeliveryState(link, events, labels, parked=len(self._parked))

    def drain(self, timeout: float) -> bool:
        """Try to deliver everything now; ``True`` if the outbox emptied in time.

        Not while offline: quitting then should not wait out a dead network.
        """
        if self._link is Link.OFFLINE:
            return not any(self._outbox.counts())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not any(self._outbox.counts()) or not self._api.signed_in or self._auth_paused:
                break
            self._idle.clear()
            self.wake()
            self._idle.wait(min(0.1, max(0.0, deadline - time.monotonic())))
        return not any(self._outbox.counts())

    def stop(self, timeout: float = 10.0) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)

    # -- the loop --------------------------------------------------------------
    def _sleep(self, seconds: float) -> None:
        """Wait up to ``seconds``, or until woken/stopped."""
        with self._wake:
            if not self._woken and not self._stopping:
                self._wake.wait(seconds)
            self._woken = False

    def _run(self) -> None:
        while not self._stopping:
            delay = self._step()
            self._idle.set()
            self._on_state(self.state())
            if delay is None:
                self._sleep(3600.0)
            elif delay > 0:
                self._sleep(delay)

    def _step(self) -> float | None:
        """Send one request if one is due; return how long to wait (``None``: until woken)."""
        if not self._api.signed_in or self._auth_paused:
            return None
        now = self._clock()
        entries = [
            e
            for e in self._outbox.pending(BATCH_MAX + len(self._parked))
            if self._parked.get(e.seq, (0.0, 0))[0] <= now
        ][:BATCH_MAX]
        if not entries:
            if not self._parked:
                return None
            return max(0.05, min(at for at, _n in self._parked.values()) - now)
        head = entries[0]
        if head.kind == "event":
            batch = _leading(entries, "event")
            waited = time.monotonic() - head.queued_at
            if len(batch) < BATCH_MAX and waited < BATCH_WAIT_S:
                return BATCH_WAIT_S - waited
            alone = head.seq in self._parked or head.seq in self._strikes
            return self._send(batch[: 1 if alone else self._batch_limit], self._send_events)
        return self._send([head], self._send_label)

    def _send(self, batch: list[Entry], send: Callable[[list[Entry]], None]) -> float | None:
        try:
            send(batch)
        except errors.AuthenticationError as exc:
            logger.info("delivery paused until sign-in")
            self._auth_paused = True
            self._on_auth_error(exc)
            return None
        except errors.NetworkError as exc:
            return self._back_off(exc)
        except (errors.ProtocolError, errors.ServerFailureError) as exc:
            self._failed_on(batch)
            delay = self._back_off(exc)
            self._link = Link.SERVER_ERROR  # reachable: say so, not "offline"
            return delay
        except errors.ServerError as exc:
            if exc.status == 429:
                return self._back_off(exc)
            self._refused(batch, exc)
            return 0.0
        self._delivered(batch)
        self._failures = 0
        self._link = Link.ONLINE
        return 0.0

    def _failed_on(self, batch: list[Entry]) -> None:
        """The server answered, but failed on this request: narrow it down, park a culprit."""
        if len(batch) > 1:
            self._batch_limit = max(1, len(batch) // 2)
            return
        (entry,) = batch
        strikes = self._strikes.get(entry.seq, 0) + 1
        self._strikes[entry.seq] = strikes
        _at, times = self._parked.get(entry.seq, (0.0, 0))
        if strikes < PARK_AFTER and not times:
            return
        wait = min(self._park_max, self._park_first * 2**times)
        self._parked[entry.seq] = (self._clock() + wait, times + 1)
        self._strikes.pop(entry.seq, None)
        self._failures = 0  # the entries behind it go on at once
        logger.warning(
            "outbox entry %d (%s) parked (time %d): the server keeps failing on it; "
            "again in %.0f s", entry.seq, entry.kind, times + 1, wait,
        )  # fmt: skip

    def _delivered(self, batch: list[Entry]) -> None:
        self._batch_limit = min(BATCH_MAX, self._batch_limit * 2)
        for entry in batch:
            self._strikes.pop(entry.seq, None)
            if self._parked.pop(entry.seq, None) is not None:
                logger.info("parked outbox entry %d delivered", entry.seq)

    def _back_off(self, exc: errors.ApiError) -> float:
        """Equal jitter: uniform in [c/2, c], c = min(cap, first * 2^n): spread, never busy."""
        self._failures += 1
        self._link = Link.OFFLINE
        ceiling = min(self._backoff_max, self._backoff_first * 2 ** min(self._failures - 1, 16))
        delay = self._rng.uniform(ceiling / 2, ceiling)
        logger.info("delivery deferred %.1f s: %s", delay, type(exc).__name__)
        return delay

    def _refused(self, batch: list[Entry], exc: errors.ServerError) -> None:
        self.dropped += len(batch)
        for entry in batch:
            self._strikes.pop(entry.seq, None)
            self._parked.pop(entry.seq, None)
        logger.error(
            "server refused outbox entries %d-%d for good (%s); removed",
            batch[0].seq, batch[-1].seq, exc.code,
        )  # fmt: skip
        self._outbox.acknowledge(e.seq for e in batch)
        for entry in batch:
            if entry.kind == "label":
                body = entry.body
                try:
                    document: LabelDocument | None = from_wire(outbox_document(body))
                except (ValidationError, ValueError):
                    document = None  # unreadable: nothing to keep
                self._on_label(
                    LabelResult(
                        body["task_id"],
                        body["label_id"],
                        body["draft"],
                        None,
                        exc,
                        document,
                        body.get("base_revision"),
                    )
                )

    def _send_events(self, batch: list[Entry]) -> None:
        wire = EventBatchIn(events=[AccessEventIn(seq=e.seq, **e.body) for e in batch])
        key = (
            "ev-" + hashlib.sha256("".join(e.body["event_id"] for e in batch).encode()).hexdigest()
        )
        self._api.post_events(wire, idempotency_key=key[:64])
        self._outbox.acknowledge(e.seq for e in batch)

    def _send_label(self, batch: list[Entry]) -> None:
        (entry,) = batch
        body = entry.body
        try:
            document = outbox_document(body)
        except ValidationError as exc:  # an entry no server would take: refused, not retried
            raise errors.RequestRejectedError(
                422, ErrorCode.DOCUMENT_INVALID, "the queued document is not readable"
            ) from exc
        ack = self._api.submit_label(
            body["task_id"],
            body["label_id"],
            document,
            base_revision=body.get("base_revision"),
            draft=body["draft"],
            seq=entry.seq,
        )
        self._outbox.acknowledge([entry.seq])
        logger.info("label %s stored as revision %d", body["label_id"], ack.revision)
        self._on_label(LabelResult(body["task_id"], body["label_id"], body["draft"], ack))


def _leading(entries: list[Entry], kind: str) -> list[Entry]:
    """The run of ``kind`` entries at the head (a label ends a batch of events)."""
    run = []
    for entry in entries:
        if entry.kind != kind:
            break
        run.append(entry)
    return run
