"""Lockdown against the real server: idle lock, curtain, refused copies, capture audit.

The real client on the offscreen platform; the X11-only checks (clipboard seen
from another process, screenshots) are in ``tests/x11``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import QApplication, QMenu, QToolTip
from pytestqt.qtbot import QtBot

from app.lockdown.capture_guard import Protection
from app.lockdown.policy import Policy
from app.main import ClientApp, build
from devtools import annotate
from devtools.audio_tap import TappedOutput
from tests.e2e.client_driver import LONG, open_row, sign_in
from tests.e2e.conftest import LiveServer
from tests.e2e.test_annotate_flow import server_rows

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("secret_service")]


class RecordingGuard:
    """Stands in for the Windows guard: records every handle, fails on request."""

    def __init__(self) -> None:
        self.handles: list[int] = []
        self.fail = False

    def protect(self, handle: int) -> Protection:
        self.handles.append(handle)
        return Protection.FAILED if self.fail else Protection.PROTECTED

    def remote_session(self) -> str | None:
        return None

    def unprotected_reason(self) -> str | None:
        return None


def test_idle_lock_wipes_audio_and_transcript_and_keeps_a_draft_on_the_server(
    qtbot: QtBot, server: LiveServer
) -> None:
    client = build(server.url, server.ca_file, TappedOutput().factory)
    client.window.show()
    try:
        views = _open_first_task(qtbot, client)
        editor = client.window.editor
        qtbot.keyClicks(editor, "idle draft DRAFT-7731")
        assert editor.toPlainText() == "idle draft DRAFT-7731"
        client.lock_filter.last_activity -= client.lockdown.idle_limit_s + 1
        with qtbot.waitSignal(client.controller.locked, timeout=LONG):
            client.lockdown.check_idle()  # the idle timer's slot
        assert not any(v.any() for v in views), "decrypted audio zeroed at lock"
        assert client.controller.opened is None
        assert editor.toPlainText() == ""
        assert not editor.document().isUndoAvailable()
        assert client.window.stack.currentIndex() == 0
        assert client.window.tasks.count() == 0
        qtbot.waitUntil(lambda: not client.api.signed_in, timeout=LONG)

        sign_in(qtbot, client)
        open_row(qtbot, client, 0)  # the local draft and the server's draft agree: no question
        document = client.controller.editor
        assert document is not None
        assert [s.text for s in document.segments] == ["idle draft DRAFT-7731"]
        assert client.window.annotation.table.model().rowCount() == 1
    finally:
        client.shutdown()
    _assert_only_draft(server, "idle draft DRAFT-7731", "idle_locked")


def _open_first_task(qtbot: QtBot, client: ClientApp) -> list[np.ndarray[Any, Any]]:
    """Sign in, open the first task, mark a segment to type into; views of its decrypted
    audio (to check the wipe)."""
    sign_in(qtbot, client)
    open_row(qtbot, client, 0)
    annotate.mark_segment(client.window, client.controller, 0.1, 0.6)
    opened = client.controller.opened
    assert opened is not None
    views = [np.asarray(ch) for ch in opened.audio.channels]
    assert any(v.any() for v in views)
    return views


def _assert_only_draft(server: LiveServer, transcript: str, action: str) -> None:
    """The server holds exactly that draft, and the client reported ``action``."""
    labels, events = server_rows(server)
    stored: list[dict[str, Any]] = [lb["document"] for lb in labels]  # type: ignore[misc]
    assert [lb["draft"] for lb in stored] == [True]
    assert [s["text"] for s in stored[0]["document"]["segments"]] == [transcript]
    assert action in {e["action"] for e in events if e["source"] == "client"}


def test_curtain_pauses_audio_and_every_refusal_is_audited(
    qtbot: QtBot, server: LiveServer
) -> None:
    guard = RecordingGuard()
    client = build(server.url, server.ca_file, TappedOutput().factory, guard=guard)
    window = client.window
    window.show()
    try:
        sign_in(qtbot, client)
        assert window.watermark.identity.startswith("annotator · session ")
        assert client.controller.session_id in window.watermark.identity
        open_row(qtbot, client, 0)
        annotate.mark_segment(window, client.controller, 0.1, 0.6)
        qtbot.keyClick(window.editor, Qt.Key.Key_Space, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda: client.engine.state.value == "playing", timeout=LONG)

        client.lockdown.application_active(False, "focus")
        assert window.curtain.covering
        assert client.engine.state.value == "paused"
        client.lockdown.application_active(True, "focus")
        assert not window.curtain.covering

        notices: list[str] = []
        client.lockdown.notice.connect(notices.append)
        qtbot.keyClicks(window.editor, "secret words")
        qtbot.keyClick(window.editor, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
        qtbot.keyClick(window.editor, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
        assert window.statusBar().currentMessage().startswith("Copying out of Cordon is blocked")
        qtbot.keyClick(window.editor, Qt.Key.Key_X, Qt.KeyboardModifier.ControlModifier)
        assert window.editor.toPlainText() == "secret words", "a refused cut deletes nothing"
        qtbot.keyClick(window.editor, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
        assert window.statusBar().currentMessage().startswith("Pasting into Cordon is blocked")
        qtbot.keyClick(window.tasks, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
        assert len(notices) == 2  # said once each, though copy was refused three times
        qtbot.keyClick(window.editor, Qt.Key.Key_Print)

        # Every top-level window gets the guard: main window, dialog, menu, tooltip.
        window.show_shortcut_sheet()
        menu = QMenu(window)
        menu.addAction("one")
        menu.popup(window.geometry().center())
        QToolTip.showText(window.geometry().center(), "tip", window)
        qtbot.waitUntil(QToolTip.isVisible, timeout=LONG)
        tips = [w for w in QApplication.topLevelWidgets() if w.inherits("QTipLabel")]
        handles = set(guard.handles)
        assert tips
        for top in (window, menu, *tips):
            assert int(top.winId()) in handles
        sheet = [w for w in window.findChildren(object) if type(w).__name__ == "ShortcutSheet"]
        assert sheet and int(sheet[0].winId()) in handles
        guard.fail = True
        menu.hide()
        menu.popup(window.geometry().center())  # re-applied on show; now it fails
        qtbot.waitUntil(lambda: guard.handles.count(int(menu.winId())) >= 2, timeout=LONG)
        menu.hide()
        guard.fail = False
        qtbot.waitUntil(lambda: client.events.pending == 0, timeout=LONG)
    finally:
        client.shutdown()
    _, events = server_rows(server)
    seen = [(e["action"], e["reason"]) for e in events if e["source"] == "client"]
    for expected in [
        ("curtain_shown", "focus"),
        ("curtain_lifted", "focus"),
        ("clipboard_blocked", "copy"),
        ("clipboard_blocked", "cut"),
        ("paste_blocked", "paste"),
        ("capture_attempt", "print_screen"),
        ("capture_guard_failed", "apply_failed"),
    ]:
        assert expected in seen
    assert seen.count(("clipboard_blocked", "copy")) == 2  # the editor and the task list


def test_screen_readers_see_no_content_unless_policy_allows(
    qtbot: QtBot, server: LiveServer
) -> None:
    client = build(server.url, server.ca_file, TappedOutput().factory, policy=Policy.defaults())
    client.window.show()
    try:
        client.window.editor.setPlainText("account 4421 9983")
        iface = QAccessible.queryAccessibleInterface(client.window.editor)
        assert iface is not None
        assert iface.text(QAccessible.Text.Value) == ""
        assert iface.text(QAccessible.Text.Name) == "Transcript"
        assert iface.textInterface() is None
        table = QAccessible.queryAccessibleInterface(client.window.annotation.table)
        assert table is not None and table.text(QAccessible.Text.Name) == "Segments"
        assert table.childCount() == 0 or all(  # no cells, so no segment text
            not (table.child(i) and table.child(i).text(QAccessible.Text.Value))
            for i in range(table.childCount())
        )
    finally:
        client.shutdown()


def test_sign_out_from_the_menu_keeps_a_draft_and_wipes_content(
    qtbot: QtBot, server: LiveServer
) -> None:
    client = build(server.url, server.ca_file, TappedOutput().factory)
    window = client.window
    window.show()
    try:
        assert not window.sign_out_action.isEnabled()  # nothing to sign out of yet
        views = _open_first_task(qtbot, client)
        assert window.sign_out_action.isEnabled()
        qtbot.keyClicks(window.editor, "signed-out draft SO-4410")
        menu = window.findChild(QMenu, "cordonMenu")
        assert menu is not None
        titles = [a.text() for a in menu.actions() if a.isVisible()]
        assert titles == ["Security settings…", "Keyboard shortcuts…", "", "Sign out", "Quit"]
        assert not window.report_action.isVisible()  # for a project's managers only
        with qtbot.waitSignal(client.controller.locked, timeout=LONG) as left:
            window.sign_out_action.trigger()
        assert "signed out" in left.args[0].lower()
        assert not any(v.any() for v in views), "decrypted audio zeroed at sign-out"
        assert window.editor.toPlainText() == ""
        assert window.annotation.table.model().rowCount() == 0
        assert window.stack.currentIndex() == 0 and not window.sign_out_action.isEnabled()
        qtbot.waitUntil(lambda: not client.api.signed_in, timeout=LONG)
    finally:
        client.shutdown()
    _assert_only_draft(server, "signed-out draft SO-4410", "signed_out")
