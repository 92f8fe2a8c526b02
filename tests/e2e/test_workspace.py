"""The annotation workspace with the real client and server: nothing typed is ever lost.

Switching tasks keeps every edit; ``kill -9`` mid-edit loses nothing; a
draft made on an older revision than the server's newest is offered next to
it; on a stereo call a segment made while one channel is soloed belongs to it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from app.domain.label_document import to_wire
from app.services.device_store import state_dir
from devtools import annotate
from devtools.audio_tap import TappedOutput
from devtools.documents import demo_document
from devtools.processes import start, stop
from tests.e2e.client_driver import LONG, open_row, running_client, sign_in
from tests.e2e.conftest import LiveServer
from tests.e2e.test_annotate_flow import files_containing
from tests.e2e.test_refusals import sign_in as api_sign_in
from tests.gestures import drag, point_at

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("secret_service")]


def _drafts_dir() -> Path:
    return state_dir() / "outbox"


def test_switching_tasks_and_back_keeps_every_edit(qtbot: QtBot, server: LiveServer) -> None:
    with running_client(server, TappedOutput()) as client:
        window, controller = client.window, client.controller
        sign_in(qtbot, client)
        open_row(qtbot, client, 0)
        annotate.mark_segment(window, controller, 0.2, 1.0)
        annotate.type_text(window, "first task SWITCH-1111")
        annotate.press(window, Qt.Key.Key_1)
        annotate.press(window, Qt.Key.Key_G)
        open_row(qtbot, client, 1)  # at once: no autosave delay to wait for
        assert controller.editor is not None and len(controller.editor) == 0
        annotate.mark_segment(window, controller, 0.5, 1.5)
        annotate.type_text(window, "second task SWITCH-2222")
        open_row(qtbot, client, 0)
        first = controller.editor
        assert first is not None
        (segment,) = first.segments
        assert (segment.text, segment.speaker, segment.label("intent")) == (
            "first task SWITCH-1111", "agent", ("greeting",),
        )  # fmt: skip
        open_row(qtbot, client, 1)
        second = controller.editor
        assert second is not None
        assert [s.text for s in second.segments] == ["second task SWITCH-2222"]
        drafts_dir = client.outbox.directory / "drafts"
    # Both drafts are on disk, sealed: neither text is readable there.
    assert len(list(drafts_dir.glob("*.draft"))) == 2
    assert files_containing([drafts_dir], [b"SWITCH-1111", b"SWITCH-2222"], skip=[]) == []


def test_kill_9_mid_edit_then_the_draft_is_back(qtbot: QtBot, server: LiveServer) -> None:
    marker = "KILLED-MID-EDIT-5150"
    cmd = [
        sys.executable, "-m", "devtools.scripted_session", "--server", server.url,
        "--ca", str(server.ca_file), "--marker", marker, "--edit-only",
    ]  # fmt: skip
    proc = start(cmd, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if b"draft saved" in line:
                break
        assert proc.poll() is None, "the editing client ended early"
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(20) == -signal.SIGKILL
    finally:
        stop(proc)
    assert files_containing([_drafts_dir()], [marker.encode()], skip=[]) == []
    with running_client(server, TappedOutput()) as client:
        sign_in(qtbot, client)
        open_row(qtbot, client, 0)
        editor = client.controller.editor
        assert editor is not None
        assert [s.text for s in editor.segments] == [marker]
        assert client.controller.has_unsaved_work  # restored, not yet on the server


def test_a_newer_server_revision_is_offered_next_to_the_draft(
    qtbot: QtBot, server: LiveServer
) -> None:
    with running_client(server, TappedOutput()) as client:
        window, controller = client.window, client.controller
        tasks = sign_in(qtbot, client)
        open_row(qtbot, client, 0)
        annotate.mark_segment(window, controller, 0.2, 1.0)
        annotate.type_text(window, "my local words")
        open_row(qtbot, client, 1)  # leaves a local draft made on no revision
        # Meanwhile the same annotator submits from another workstation.
        other = api_sign_in(server, "annotator")
        other.api.submit_label(tasks[0].task_id, "lbl-other-0001",
                               to_wire(demo_document("words from elsewhere")))  # fmt: skip
        other.api.close()
        with qtbot.waitSignal(controller.draft_conflict, timeout=LONG):
            window.tasks.setCurrentRow(0)
            qtbot.keyClick(window.tasks, Qt.Key.Key_Return)
        box = window.findChild(QMessageBox, "draftConflict")
        assert box is not None and box.isVisible()
        assert "Server revision 1: 1 segments, 3 words" in box.text()
        assert "based on no earlier revision): 1 segments, 3 words" in box.text()
        assert controller.editor is None  # nothing is chosen for the annotator
        keep = next(b for b in box.buttons() if b.text() == "Continue my draft")
        qtbot.mouseClick(keep, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: controller.editor is not None, timeout=LONG)
        editor = controller.editor
        assert editor is not None
        assert [s.text for s in editor.segments] == ["my local words"]
        # Submitting it now records that it was made on revision 1.
        window.activateWindow()  # the question is gone: the keys are the window's again
        qtbot.waitUntil(window.isActiveWindow, timeout=LONG)
        qtbot.keyClick(window.editor, Qt.Key.Key_Tab)  # select its segment
        annotate.press(window, Qt.Key.Key_1)
        annotate.choose_first(window, "outcome")
        failures: list[str] = []
        controller.label_failed.connect(failures.append)
        controller.submit_blocked.connect(lambda _path, words: failures.append(words))
        with qtbot.waitSignal(controller.label_submitted, timeout=LONG) as stored:
            annotate.submit(window)
        assert failures == []
        assert stored.args[1] == 2
        assert controller._base_revision == 2


def test_a_segment_made_while_one_channel_is_soloed_belongs_to_it(
    qtbot: QtBot, server: LiveServer
) -> None:
    with running_client(server, TappedOutput()) as client:
        window, controller = client.window, client.controller
        sign_in(qtbot, client)
        open_row(qtbot, client, 1)  # the stereo call
        assert controller.opened is not None and controller.opened.audio.channel_count == 2
        qtbot.mouseClick(window.player.channel_buttons[0], Qt.MouseButton.LeftButton)  # mute L
        right = annotate.mark_segment(window, controller, 0.2, 1.0)
        qtbot.mouseClick(window.player.channel_buttons[0], Qt.MouseButton.LeftButton)  # both
        controller.seek_seconds(2.0)  # ELAN-style: the next boundary closes the next segment
        annotate.press(window, Qt.Key.Key_Return)
        both = controller.selected_segment.id if controller.selected_segment else ""
        annotate.press(window, Qt.Key.Key_1)  # agent: a both-channel segment moves left
        editor = controller.editor
        assert editor is not None
        channels = {s.id: s.channel for s in editor.segments}
        assert channels == {right: 1, both: 0}
        rows = window.annotation.table.model()
        assert [rows.index(r, 2).data() for r in range(2)] == ["— (R)", "Agent (L)"]
        # Shift+drag marks an audio span; a PII key tags exactly it (inside the selected one).
        view = window.waveform
        view.zoom_fit()
        qtbot.wait(50)
        drag(qtbot, view.viewport(), point_at(view, 1.4), point_at(view, 1.8),
             modifiers=Qt.KeyboardModifier.ShiftModifier)  # fmt: skip
        assert len(editor) == 2  # no new segment
        annotate.press(window, Qt.Key.Key_D, annotate.CTRL | annotate.ALT)  # date of birth
        (span,) = editor.pii
        rate = controller.opened.audio.sample_rate
        pixel = len(controller.opened.audio.channels[0]) / view.width()
        assert abs(span.start - 1.4 * rate) < 2 * pixel and abs(span.end - 1.8 * rate) < 2 * pixel
        assert (span.category, span.segment) == ("date_of_birth", both)
