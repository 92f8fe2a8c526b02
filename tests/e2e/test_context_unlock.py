"""Context around a windowed task with real clients against the real TLS server.

Bo has seconds 3-6 of a ten-second call. Ctrl+Shift+U asks (two seconds either side, a
typed reason); the grant is fetched, decrypted and played in place of the window
(seconds 1-8 of the call), and Ctrl+Shift+U returns to the window. Its
playback events reach the server verified and naming the stretch, and do not count as
the window heard. Then, with approval required, an ask waits until the reviewer grants
it from the keyboard (Ctrl+Shift+K, Alt+G), and Bo hears it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from app.main import ClientApp
from app.ui.context_dialogs import ContextAskDialog, ContextAsksDialog
from devtools.audio_tap import TappedOutput
from server import db
from server.cli import main as server_main
from server.context import open_context
from server.datadir import DataDir
from tests.e2e.client_driver import LONG, open_row, running_client, sign_in
from tests.e2e.conftest import LiveServer, live_server
from tests.e2e.test_review_cycle import activate, key

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("secret_service")]
RATE = 16_000
WHY = "The caller refers to an earlier part of the call."


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    srv = live_server(tmp_path, {"long-call.wav": (10.0, RATE, 1)})
    for window in ("3:6", "6:9"):
        assert server_main(["task", "assign", "--data-dir", str(srv.data_dir), "--project",
                            "Demo call centre", "--title", "long-call", "--to", "annotator2",
                            f"--window={window}"]) == 0  # fmt: skip
    yield srv
    srv.stop()


def _ask(qtbot: QtBot, client: ClientApp, seconds: int) -> None:
    """Ctrl+Shift+U, then the reason and the seconds in the dialog that opens."""
    key(client, "context")
    qtbot.waitUntil(lambda: _dialog(client) is not None, timeout=LONG)
    dialog = _dialog(client)
    assert dialog is not None
    dialog.seconds.setValue(seconds)
    QTest.keyClicks(dialog.editor, WHY)
    dialog.accept()


def _dialog(client: ClientApp) -> ContextAskDialog | None:
    found = [d for d in client.window.findChildren(ContextAskDialog) if d.isVisible()]
    return found[0] if found else None


def _frames(client: ClientApp) -> int:
    """Frames of the audio the engine plays now (the window's, or the context's)."""
    audio = client.controller._engine._audio
    return audio.frames if audio is not None else 0


def _rows(server: LiveServer, query: object) -> list[object]:
    ctx = open_context(DataDir(server.data_dir))
    with ctx.engine.connect() as conn:
        return list(conn.execute(query))  # type: ignore[call-overload]


def test_bo_hears_the_context_granted_at_once_then_one_a_reviewer_grants(
    qtbot: QtBot, server: LiveServer, tmp_path: Path
) -> None:
    with running_client(server, TappedOutput(), tmp_path / "bo") as bo:
        tasks = sign_in(qtbot, bo, "annotator2")
        assert [t.title for t in tasks] == ["long-call 00:03-00:06", "long-call 00:06-00:09"]
        open_row(qtbot, bo, 0)
        assert _frames(bo) == 3 * RATE
        assert "Ctrl+Shift+U" in bo.window.statusBar().currentMessage()
        activate(qtbot, bo)
        _ask(qtbot, bo, 2)
        qtbot.waitUntil(lambda: bo.controller.in_context, timeout=LONG)
        assert _frames(bo) == 7 * RATE  # 1-8 s of the call: the window and 2 s either side
        assert (
            bo.window.statusBar()
            .currentMessage()
            .startswith("Playing the context: 2 s before and 2 s after the window")
        )
        activate(qtbot, bo)
        QTest.keyClick(bo.window, Qt.Key.Key_Space, Qt.KeyboardModifier.ControlModifier)
        key(bo, "context")  # back to the window
        assert not bo.controller.in_context and _frames(bo) == 3 * RATE
        qtbot.waitUntil(lambda: bo.outbox.counts() == (0, 0), timeout=LONG)
        (cut,) = _rows(
            server, select(db.context_requests.c.segment_id, db.context_requests.c.status)
        )
        assert cut[1] == "granted"  # type: ignore[index]
        played = _rows(server, select(db.access_events.c.segment_id, db.access_events.c.verified)
                       .where(db.access_events.c.reason == "context"))  # fmt: skip
        assert played and {tuple(p) for p in played} == {(cut[0], True)}  # type: ignore[arg-type,index]
        coverage = bo.controller._api.coverage(tasks[0].task_id)
        assert coverage.heard == []  # the stretch played is not the window heard

        # With approval required, the next ask waits for a reviewer.
        approval = ["project", "policy", "--data-dir", str(server.data_dir),
                    "--project", "Demo call centre", "--context-approval", "yes"]  # fmt: skip
        assert server_main(approval) == 0
        open_row(qtbot, bo, 1)
        activate(qtbot, bo)
        _ask(qtbot, bo, 1)
        qtbot.waitUntil(
            lambda: "a reviewer of the project decides" in bo.window.statusBar().currentMessage(),
            timeout=LONG,
        )
        with running_client(server, TappedOutput(), tmp_path / "reviewer") as rev:
            sign_in(qtbot, rev, "reviewer")
            activate(qtbot, rev)
            desk = rev.window.findChildren(ContextAsksDialog)[0]
            with qtbot.waitSignal(rev.controller.context_asks_loaded, timeout=LONG):
                key(rev, "context_asks")
            assert desk.asks.count() == 1
            item = desk.asks.item(0)
            assert item is not None and WHY in item.text() and "Bo (demo annotator)" in item.text()
            desk.activateWindow()
            qtbot.waitUntil(desk.isActiveWindow, timeout=LONG)
            with qtbot.waitSignal(rev.controller.context_asks_loaded, timeout=LONG):
                QTest.keyClick(desk, Qt.Key.Key_G, Qt.KeyboardModifier.AltModifier)
            assert desk.asks.count() == 0 and desk.outcome.text() == "Nothing is pending."
        activate(qtbot, bo)
        key(bo, "context")
        qtbot.waitUntil(lambda: bo.controller.in_context, timeout=LONG)
        assert _frames(bo) == 5 * RATE  # 5-10 s: clamped at the call's end
