"""One entry the server keeps failing on is parked; the rest go on; it arrives later.

Real outbox, real uploader, real TLS server. A label for a task whose project
key is damaged at rest makes the server answer 500 ``stored_data_damaged``
every time — a failure that is the server's, not the entry's, so the entry
must never be dropped. It must not block the events and the other label
behind it either: it is parked, the others are delivered, and once the key is
repaired the parked label is delivered too. The server's sequence check sees
the late label fill its gap instead of crying "reset".
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import Engine, select, update

from app.api.client import CordonApi
from app.domain.models import AccessEvent, SegmentId, TaskId
from app.services.delivery import Delivery, DeliveryState, Link
from app.services.events import event_body
from app.services.labels import label_body
from app.services.outbox import Outbox
from app.wire.schemas import AccessAction
from devtools import annotate
from devtools.audio_tap import TappedOutput
from devtools.documents import demo_document
from devtools.processes import wait_until
from devtools.synthetic_audio import write_audio
from server import db
from server.cli import main as server_main
from server.demo import DEMO_PROJECT
from tests.e2e.client_driver import LONG, open_row, running_client
from tests.e2e.client_driver import sign_in as sign_in_window
from tests.e2e.conftest import LiveServer, live_server
from tests.e2e.test_refusals import sign_in

pytestmark = pytest.mark.e2e
KEY = bytes(range(32))


def _alerts(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(db.access_events.c.reason)
                .where(db.access_events.c.action == "sequence_alert")
                .order_by(db.access_events.c.seq)
            ).scalars()
        )


def _stored_labels(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(db.labels.c.id)).scalars())


def test_a_label_the_server_fails_on_is_parked_not_dropped(tmp_path: Path) -> None:
    server: LiveServer = live_server(tmp_path, {"good.wav": (1.0, 8000, 1)})
    try:
        _run(server, tmp_path)
    finally:
        server.stop()


def _add_project_to_damage(server: LiveServer, tmp_path: Path) -> None:
    """A second project, "Damaged", with one task for the annotator."""
    data = str(server.data_dir)
    audio = tmp_path / "bad.wav"
    write_audio(audio, 1.0, 8000, 1, seed=7)
    assert server_main(["user", "add", "--data-dir", data, "--username", "annotator",
                        "--project", "Damaged", "--role", "annotator"]) == 0  # fmt: skip
    assert server_main(["ingest", "--data-dir", data, "--project", "Damaged",
                        "--assign", "annotator", str(audio)]) == 0  # fmt: skip
    assert (
        server_main(
            [
                "project",
                "policy",
                "--data-dir",
                data,
                "--project",
                "Damaged",
                "--submit-coverage",
                "none",
            ]
        )
        == 0
    )  # fmt: skip  (handed in unheard)


def _damage_project_key(engine: Engine, project_id: str) -> bytes:
    """Flip a bit of the project's wrapped key; return the original to repair it with."""
    with engine.begin() as conn:
        original = bytes(
            conn.execute(
                select(db.projects.c.wrapped_key).where(db.projects.c.id == project_id)
            ).scalar_one()
        )
        broken = original[:-1] + bytes([original[-1] ^ 1])
        conn.execute(
            update(db.projects).where(db.projects.c.id == project_id).values(wrapped_key=broken)
        )
    return original


def _run(server: LiveServer, tmp_path: Path) -> None:
    _add_project_to_damage(server, tmp_path)
    engine = server.engine()
    caller = sign_in(server, "annotator")
    tasks = {t.project_name: t for t in caller.api.list_tasks().tasks}
    damaged, good = tasks["Damaged"], tasks[DEMO_PROJECT]
    original = _damage_project_key(engine, damaged.project_id)

    outbox = Outbox(tmp_path / "outbox", KEY)
    opened = AccessEvent(
        AccessAction.SEGMENT_OPENED, TaskId(good.task_id), SegmentId(good.segment_id)
    )
    tickets = [outbox.append("event", event_body(opened))]
    tickets += [outbox.append("label", label_body(damaged.task_id, "lbl-park-0001",
                                                 demo_document("one", schema_version=0),
                                                 base_revision=None, draft=False))]  # fmt: skip
    for _ in range(5):
        event = AccessEvent(
            AccessAction.PLAYBACK_STARTED, TaskId(good.task_id), SegmentId(good.segment_id)
        )
        tickets.append(outbox.append("event", event_body(event)))
    tickets.append(
        outbox.append(
            "label",
            label_body(
                good.task_id, "lbl-good-0001", demo_document("two"), base_revision=None, draft=False
            ),
        )
    )
    for ticket in tickets:
        ticket.wait(10)

    states: list[DeliveryState] = []
    lock = threading.Lock()

    def on_state(state: DeliveryState) -> None:
        with lock:
            states.append(state)

    api = CordonApi(server.url, server.ca_file)
    api.set_token(caller.api._token)  # the same sign-in, on the uploader's own client
    api.set_proof_key(caller.key)
    delivery = Delivery(outbox, api, on_state=on_state, backoff=(0.05, 0.2), park_retry=(1.5, 3.0))
    delivery.start()
    try:
        # Everything but the damaged label arrives; that one is parked, still in the outbox.
        wait_until(lambda: outbox.counts() == (0, 1), 30, "the others delivered")
        wait_until(lambda: delivery.state().parked == 1, 10, "the label parked")
        assert "lbl-good-0001" in _stored_labels(engine)
        assert "lbl-park-0001" not in _stored_labels(engine)
        (kept,) = outbox.pending()
        assert (kept.seq, kept.kind, kept.body["label_id"]) == (2, "label", "lbl-park-0001")
        assert delivery.dropped == 0
        assert _alerts(engine) == ["missing_1"]
        with lock:
            assert any(s.parked == 1 and s.labels == 1 for s in states)
            assert any(s.link is Link.SERVER_ERROR for s in states)  # never "offline"
            assert all(s.link is not Link.OFFLINE for s in states)

        # The key is repaired: the parked label goes on its next retry, late but not lost.
        with engine.begin() as conn:
            conn.execute(
                update(db.projects)
                .where(db.projects.c.id == damaged.project_id)
                .values(wrapped_key=original)
            )
        wait_until(lambda: outbox.counts() == (0, 0), 30, "the parked label delivered")
        assert "lbl-park-0001" in _stored_labels(engine)
        assert delivery.state().parked == 0
        assert _alerts(engine) == ["missing_1"]  # the late arrival is no "sequence_reset"
        # And the sequence goes on from where it was, with no new alert.
        event = AccessEvent(
            AccessAction.PLAYBACK_PAUSED, TaskId(good.task_id), SegmentId(good.segment_id)
        )
        outbox.append("event", event_body(event)).wait(10)
        delivery.wake()
        wait_until(lambda: outbox.counts() == (0, 0), 30, "the next event delivered")
        time.sleep(0.2)
        assert _alerts(engine) == ["missing_1"]
    finally:
        delivery.stop()
        outbox.close()
        api.close()
        caller.api.close()
        engine.dispose()


@pytest.mark.usefixtures("secret_service")
def test_the_annotator_sees_a_parked_annotation(qtbot: QtBot, tmp_path: Path) -> None:
    """The real client: the annotation the server keeps failing on is named, not lost."""
    server = live_server(tmp_path, {"good.wav": (1.0, 8000, 1)})
    try:
        _add_project_to_damage(server, tmp_path)
        engine = server.engine()
        with running_client(server, TappedOutput()) as client:
            tasks = sign_in_window(qtbot, client)
            row = next(i for i, t in enumerate(tasks) if t.project_name == "Damaged")
            open_row(qtbot, client, row)
            _damage_project_key(engine, tasks[row].project_id)
            annotate.mark_segment(client.window, client.controller, 0.1, 0.6)
            annotate.type_text(client.window, "words the server cannot seal")
            annotate.submit(client.window)
            sync = client.window.sync_label
            qtbot.waitUntil(lambda: "set aside after server errors" in sync.text(), timeout=LONG)
            assert sync.text().startswith("Server error — retrying")
            assert "1 annotations" in sync.text()
            assert client.outbox.counts()[1] == 1  # still in the outbox, sealed
        engine.dispose()
    finally:
        server.stop()
