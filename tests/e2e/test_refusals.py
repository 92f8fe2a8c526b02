"""Every refusal of every write route, through the real client against the real TLS server.

Each refusal must come back as its documented 4xx within a second, add exactly
one ``access_refused`` event with its audit leaf, and never hold up anyone
else: a second workstation posts events the whole time and none of its
batches may wait more than a second either. Requests go through
:class:`~app.api.client.CordonApi`, so they carry exactly the headers the
client sends (DPoP-bound token and proof, ``Idempotency-Key``).
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update

from app.api import errors
from app.api.client import CordonApi
from app.crypto.device_keys import DeviceKeyPair
from app.crypto.dpop import DPoPKey
from app.domain.label_document import to_wire
from app.wire.label_document import LabelDocumentWire, SegmentWire
from app.wire.schemas import AccessEventIn, EventBatchIn, LabelIn
from devtools.documents import demo_document
from server import db
from server.auditlog import store
from tests.e2e.conftest import LiveServer, live_server

pytestmark = pytest.mark.e2e


@dataclass
class Caller:
    api: CordonApi
    device_id: str
    pair: DeviceKeyPair
    key: DPoPKey


def signed_in_api(server: LiveServer, username: str, key: DPoPKey) -> CordonApi:
    """A client signed in from the workstation holding ``key``, not enrolled yet."""
    api = CordonApi(server.url, server.ca_file)
    api.set_proof_key(key)
    api.set_token(api.demo_login(username).access_token)
    return api


def sign_in(server: LiveServer, username: str) -> Caller:
    key = DPoPKey.generate()
    api = signed_in_api(server, username, key)
    pair = DeviceKeyPair.generate()
    device = api.enroll_device("test", base64.b64encode(pair.public_bytes()).decode())
    return Caller(api, device.device_id, pair, key)


def event(seq: int, action: str = "playback_started") -> AccessEventIn:
    return AccessEventIn.model_validate(
        {"event_id": str(uuid.uuid4()), "seq": seq, "action": action, "client_time": time.time()}
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    srv = live_server(
        tmp_path_factory.mktemp("refusals"), {"a.wav": (1.0, 8000, 1), "b.wav": (1.0, 8000, 1)}
    )
    yield srv
    srv.stop()


def refusal_rows(engine: Engine) -> tuple[int, int]:
    """(access_refused events, of them with a leaf)."""
    events, leaves = db.access_events, store.audit_leaves
    with engine.connect() as conn:
        total = conn.execute(
            select(func.count()).select_from(events).where(events.c.action == "access_refused")
        ).scalar_one()
        with_leaf = conn.execute(
            select(func.count())
            .select_from(events.join(leaves, leaves.c.event_seq == events.c.seq))
            .where(events.c.action == "access_refused")
        ).scalar_one()
    return int(total), int(with_leaf)


class Bystander:
    """Another workstation posting event batches throughout; records each batch's wait."""

    def __init__(self, caller: Caller) -> None:
        self.caller = caller
        self.waits: list[float] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        seq = 1
        while not self._stop.is_set() and seq < 10_000:
            start = time.monotonic()
            try:
                self.caller.api.post_events(EventBatchIn(events=[event(seq)]))
            except errors.ApiError as exc:
                self.failures.append(type(exc).__name__)
            self.waits.append(time.monotonic() - start)
            seq += 1
            self._stop.wait(0.02)

    def __enter__(self) -> Bystander:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        self.caller.api.close()


def document(text: str, *, end: int = 800, speaker: str = "agent") -> LabelDocumentWire:
    """A demo-schema document; ``speaker`` or ``end`` make it misfit."""
    wire = to_wire(demo_document(text, end=end))
    segment = wire.segments[0].model_copy(update={"speaker": speaker})
    return wire.model_copy(update={"segments": [segment]})


def test_every_refusal_is_a_fast_4xx_with_one_leaf(server: LiveServer) -> None:
    engine = server.engine()
    annotator = sign_in(server, "annotator")
    reviewer = sign_in(server, "reviewer")
    task_ids = [t.task_id for t in annotator.api.list_tasks().tasks]
    task, other_task = task_ids
    # One label submitted, so the reviewer sees that task (and may not label it).
    annotator.api.submit_label(task, "lbl-first-0001", document("hello"))
    revoked = sign_in(server, "annotator")
    with engine.begin() as conn:
        conn.execute(
            update(db.devices).where(db.devices.c.id == revoked.device_id).values(revoked_at=1)
        )
    no_device = signed_in_api(server, "annotator", DPoPKey.generate())
    # The annotator's token, proven by the reviewer's (enrolled) workstation key.
    foreign = CordonApi(server.url, server.ca_file)
    foreign.set_token(annotator.api._token)
    foreign.set_proof_key(reviewer.key)

    def label(api: CordonApi, task_id: str, label_id: str, **kw: object) -> Callable[[], object]:
        return lambda: api.submit_label(task_id, label_id, document("text"), **kw)  # type: ignore[arg-type]

    def enroll_again(caller: Caller) -> Callable[[], object]:
        key = base64.b64encode(caller.pair.public_bytes()).decode()
        return lambda: annotator.api.enroll_device("again", key)

    cases: list[tuple[str, Callable[[], object], int, str]] = [
        # key grants
        ("grant: unknown task", lambda: annotator.api.key_grant("tsk_nope"), 404, "not_found"),
        ("grant: no device", lambda: no_device.key_grant(task), 403, "unknown_device"),
        ("grant: another's key", lambda: foreign.key_grant(task), 401, "invalid_dpop_proof"),
        ("grant: revoked device", lambda: revoked.api.key_grant(task), 403, "device_revoked"),
        ("grant: not visible", lambda: reviewer.api.key_grant(other_task), 404, "not_found"),
        # labels (the client always sends an Idempotency-Key with them)
        ("label: unknown task", label(annotator.api, "tsk_nope", "lbl-a-0001"), 404, "not_found"),
        # a reviewer changes a document only as a correction of a task they hold
        (
            "label: reviewer",
            label(reviewer.api, task, "lbl-b-0001"),
            409,
            "transition_forbidden",
        ),
        ("label: not visible", label(reviewer.api, other_task, "lbl-c-0001"), 404, "not_found"),
        ("label: no device", label(no_device, task, "lbl-d-0001"), 403, "unknown_device"),
        ("label: another's key", label(foreign, task, "lbl-e-0001"), 401, "invalid_dpop_proof"),
        ("label: revoked device", label(revoked.api, task, "lbl-f-0001"), 403, "device_revoked"),
        (
            "label: segment past the end",
            lambda: annotator.api.submit_label(task, "lbl-g-0001", document("t", end=10**9)),
            422,
            "document_invalid",
        ),
        (
            "label: unknown speaker",
            lambda: annotator.api.submit_label(task, "lbl-h-0001", document("t", speaker="x")),
            422,
            "document_invalid",
        ),
        (
            "label: id reused on another task",
            label(annotator.api, other_task, "lbl-first-0001"),
            422,
            "idempotency_key_reused",
        ),
        ("label read: no device", lambda: no_device.latest_label(task), 403, "unknown_device"),
        # events
        (
            "events: server-side action",
            lambda: annotator.api.post_events(EventBatchIn(events=[event(1, "key_released")])),
            422,
            "invalid_request",
        ),
        (
            "events: Idempotency-Key reused",
            lambda: annotator.api.post_events(
                EventBatchIn(events=[event(2)]), idempotency_key="ev-reused-0001"
            ),
            422,
            "idempotency_key_reused",
        ),
        # devices
        ("enrol: key of another user", enroll_again(reviewer), 409, "conflict"),
        ("enrol: revoked key", enroll_again(revoked), 403, "device_revoked"),
        (
            "enrol: not a device key",
            lambda: annotator.api.enroll_device("junk", base64.b64encode(b"junk").decode()),
            422,
            "invalid_request",
        ),
    ]
    annotator.api.post_events(EventBatchIn(events=[event(1)]), idempotency_key="ev-reused-0001")
    bystander = sign_in(server, "annotator")
    with Bystander(bystander) as watch:
        for name, call, status, code in cases:
            before = refusal_rows(engine)
            start = time.monotonic()
            with pytest.raises(errors.ServerError) as refused:
                call()
            took = time.monotonic() - start
            assert (refused.value.status, refused.value.code) == (status, code), name
            assert took < 1.0, f"{name}: answered after {took:.2f} s"
            after = refusal_rows(engine)
            assert after == (before[0] + 1, before[1] + 1), f"{name}: {before} -> {after}"
        time.sleep(0.2)
        # A sign-in refused for an unknown user: no caller to record, so no leaf.
        before = refusal_rows(engine)
        start = time.monotonic()
        with pytest.raises(errors.AuthenticationError):
            CordonApi(server.url, server.ca_file).demo_login("nobody")
        assert time.monotonic() - start < 1.0
        assert refusal_rows(engine) == before
    assert watch.waits and max(watch.waits) < 1.0, f"a bystander waited {max(watch.waits):.2f} s"
    assert watch.failures == []
    # The refused label left nothing behind: a retry is refused again, not replayed.
    with pytest.raises(errors.RequestRejectedError) as again:
        reviewer.api.submit_label(task, "lbl-b-0001", document("text"))
    assert again.value.status == 409
    for api in (annotator.api, reviewer.api, revoked.api, no_device, foreign):
        api.close()
    engine.dispose()


def test_stored_damage_is_a_coded_failure_with_a_leaf(tmp_path: Path) -> None:
    """A wrapped key or sealed label that fails to open: a stable code and an audit record."""
    srv = live_server(tmp_path, {"a.wav": (1.0, 8000, 1)})
    try:
        engine = srv.engine()
        annotator = sign_in(srv, "annotator")
        (task,) = [t.task_id for t in annotator.api.list_tasks().tasks]
        annotator.api.submit_label(task, "lbl-dmg-0001", document("hello"))
        with engine.begin() as conn:
            sealed = bytearray(conn.execute(select(db.labels.c.sealed_transcript)).scalar_one())
            sealed[-1] ^= 1
            conn.execute(update(db.labels).values(sealed_transcript=bytes(sealed)))
            wrapped = bytearray(conn.execute(select(db.segments.c.wrapped_data_key)).scalar_one())
            wrapped[-1] ^= 1
            conn.execute(update(db.segments).values(wrapped_data_key=bytes(wrapped)))
        for call in (
            lambda: annotator.api.latest_label(task),
            lambda: annotator.api.key_grant(task),
        ):
            with pytest.raises(errors.ServerFailureError) as failed:
                call()
            assert failed.value.code is not None
            assert failed.value.code.value == "stored_data_damaged"
        with engine.connect() as conn:
            rows = conn.execute(
                select(db.access_events.c.reason, db.access_events.c.outcome).where(
                    db.access_events.c.action == "access_failed"
                )
            ).all()
            released = conn.execute(
                select(func.count()).where(db.access_events.c.action.in_(
                    ["key_released", "label_read"]))
            ).scalar_one()  # fmt: skip
        assert sorted(rows) == [("key_damaged", "failed"), ("label_damaged", "failed")]
        assert released == 0
        annotator.api.close()
        engine.dispose()
    finally:
        srv.stop()


def test_a_refused_label_body_is_checked_before_anything_is_stored() -> None:
    """Ordering and bounds live in the shared wire schema, so the client cannot even send them."""
    with pytest.raises(ValueError, match="end after it starts"):
        SegmentWire(id="s", start=10, end=10)
    with pytest.raises(ValueError, match="less than or equal"):
        LabelIn(label_id="x", document=LabelDocumentWire(), seq=2**63)
