"""Labels and access events are never lost: kills, a dead server, and the quit warning.

The fault test runs the real outbox and uploader in a recording process
(``devtools.outbox_driver``) against the real TLS server, kills the recorder
with SIGKILL at 20 random moments and the server at 10, restarting each, and
then checks the server holds every entry exactly once, saw no sequence gap, and
that ``cordon-server audit verify`` passes.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from app.api.client import CordonApi
from app.auth.demo_login import DemoAuthenticator
from app.domain.models import AccessEvent
from app.services.delivery import Delivery
from app.services.device_store import DeviceStore
from app.services.events import event_body
from app.services.outbox import Outbox
from app.services.session import SessionService
from app.wire.schemas import AccessAction
from devtools import annotate
from devtools.audio_tap import TappedOutput
from devtools.outbox_driver import event_id, label_id
from devtools.processes import start, start_server, stop
from server import db
from server.cli import main as server_main
from tests.e2e.client_driver import LONG, open_row, running_client, sign_in
from tests.e2e.conftest import LiveServer, live_server

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("secret_service")]

TOTAL = 10_000
LABEL_EVERY = 500
CLIENT_KILLS = 20
SERVER_KILLS = 10


def restart(server: LiveServer) -> None:
    """Start the server again on the same port and data directory (clients keep their URL)."""
    port = str(urlsplit(server.url).port)
    server.proc, _url = start_server(
        server.data_dir, "--audio-dir", str(server.audio_dir), "--port", port, command="demo"
    )


def rows(server: LiveServer) -> tuple[list[dict[str, object]], list[str]]:
    """Every access event (client-reported and server-observed) and every label id."""
    engine = server.engine()
    try:
        with engine.connect() as conn:
            events = [dict(r._mapping) for r in conn.execute(select(db.access_events))]
            labels = [str(r) for r in conn.execute(select(db.labels.c.id)).scalars()]
    finally:
        engine.dispose()
    return events, labels


def test_every_entry_arrives_exactly_once_through_kills(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed = int(os.environ.get("CORDON_FAULT_SEED", time.time_ns() % 100_000))
    rng = random.Random(seed)  # noqa: S311 - a reproducible fault schedule
    print(f"fault schedule seed {seed}")  # noqa: T201 - to replay a failure
    server = live_server(tmp_path, {"call.wav": (1.0, 8000, 1)})
    cmd = [
        sys.executable, "-m", "devtools.outbox_driver", "--server", server.url,
        "--ca", str(server.ca_file), "--outbox", str(tmp_path / "outbox"),
        "--total", str(TOTAL), "--label-every", str(LABEL_EVERY), "--rate", "700",
    ]  # fmt: skip
    faults = ["client"] * CLIENT_KILLS + ["server"] * SERVER_KILLS
    rng.shuffle(faults)
    driver = start(cmd, stdout=subprocess.PIPE)
    try:
        for fault in faults:
            time.sleep(rng.uniform(0.15, 0.6))
            if fault == "client":
                if driver.poll() is None:
                    os.kill(driver.pid, signal.SIGKILL)
                driver.wait(10)
                driver = start(cmd, stdout=subprocess.PIPE)
            else:
                os.kill(server.proc.pid, signal.SIGKILL)
                server.proc.wait(10)
                restart(server)
        assert driver.stdout is not None
        assert driver.wait(180) == 0
        assert driver.stdout.read().decode().strip().endswith("delivered")
    finally:
        stop(driver)
        server.stop()

    events, labels = rows(server)
    mine = [e for e in events if e["action"] == "playback_seeked" and e["source"] == "client"]
    expected_events = {event_id(s) for s in range(1, TOTAL + 1) if s % LABEL_EVERY}
    assert len(mine) == len(expected_events)  # none twice (the ids are unique anyway)
    assert {e["event_id"] for e in mine} == expected_events  # none lost
    assert sorted(labels) == sorted(label_id(s) for s in range(LABEL_EVERY, TOTAL + 1, LABEL_EVERY))
    assert [e for e in events if e["action"] == "sequence_alert"] == []
    assert server_main(["audit", "verify", "--data-dir", str(server.data_dir)]) == 0
    assert "OK" in capsys.readouterr().out


def test_a_stopped_server_costs_nothing_and_the_outbox_drains_when_it_returns(
    qtbot: QtBot, tmp_path: Path
) -> None:
    server = live_server(tmp_path, {"call.wav": (2.0, 8000, 1)})
    marker = "MARKER-OUTBOX-5531"
    try:
        with running_client(server, TappedOutput()) as client:
            sign_in(qtbot, client)
            open_row(qtbot, client, 0)
            server.stop()
            client.controller.toggle_playback()  # still works: audio is in memory
            client.controller.toggle_playback()
            annotate.mark_segment(client.window, client.controller, 0.2, 1.0)
            annotate.type_text(client.window, f"Offline words {marker}")
            annotate.press(client.window, Qt.Key.Key_1)
            annotate.choose_first(client.window, "outcome")
            with qtbot.waitSignal(client.controller.label_saved, timeout=LONG):
                client.controller.submit()
            qtbot.waitUntil(
                lambda: client.window.sync_label.text().startswith("Server offline"), timeout=LONG
            )
            assert "1 annotations" in client.window.sync_label.text()
            outbox_files = list(client.outbox.files)
            for path in outbox_files:
                assert marker.encode() not in path.read_bytes()
            # Quitting now would leave an annotation here: the window asks first.
            client.window.close()
            box = client.window.findChild(QMessageBox, "quitWarning")
            assert box is not None and box.isVisible() and client.window.isVisible()
            assert "1 annotation not on the server yet" in box.text()
            box.reject()  # stay
            assert client.window.isVisible()
            restart(server)
            with qtbot.waitSignal(client.controller.label_submitted, timeout=LONG) as stored:
                client.controller.retry_delivery()
            assert stored.args[1] == 1
            qtbot.waitUntil(
                lambda: client.window.sync_label.text() == "Server online · all delivered",
                timeout=LONG,
            )
            assert client.events.pending == 0
    finally:
        server.stop()
    events, labels = rows(server)
    assert len(labels) == 1
    actions = [e["action"] for e in events]
    assert actions.count("playback_started") == 1 and actions.count("label_submitted") == 1


def test_an_entry_refused_for_good_is_dropped_and_the_gap_reported(
    server: LiveServer, tmp_path: Path
) -> None:
    api = CordonApi(server.url, server.ca_file)
    session = SessionService(api, DemoAuthenticator(api), DeviceStore("refusal-test"))
    session.sign_in("annotator")
    box = Outbox(tmp_path / "outbox", bytes(32))
    delivery = Delivery(box, api, backoff=(0.05, 0.2))

    def paused(seq: int, action: AccessAction = AccessAction.PLAYBACK_PAUSED) -> dict[str, Any]:
        return event_body(AccessEvent(action, event_id=event_id(seq)))

    box.append("event", paused(1)).wait()
    delivery.start()
    delivery.drain(20)
    # A server-side action can never be reported by a client: 422, for good.
    box.append("event", paused(2, AccessAction.KEY_RELEASED)).wait()
    delivery.drain(20)
    box.append("event", paused(3)).wait()
    assert delivery.drain(20)
    delivery.stop()
    box.close()
    assert delivery.dropped == 1
    events, _labels = rows(server)
    delivered = sorted(str(e["event_id"]) for e in events if e["action"] == "playback_paused")
    assert delivered == sorted([event_id(1), event_id(3)])
    assert [e["reason"] for e in events if e["action"] == "sequence_alert"] == ["missing_1"]
