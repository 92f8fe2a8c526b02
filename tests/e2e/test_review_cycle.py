"""The review cycle with two real clients against the real TLS server, all from the keyboard.

The project keeps its default listening policy. The annotator's hand-in is stopped
until the segment was heard, then submitted; an amendment once the reviewer holds the
task is refused by the server, in words; the reviewer takes it from the queue,
corrects it, comments on the selected words and rejects it with a reason; the
annotator sees the reason and the comment, fixes and resubmits; the reviewer's accept
is stopped until the recording was heard, then accepted. The database holds every
revision (with its author's role and base) and every step; the audit log verifies.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QTextCursor
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from app.domain.review import Review
from app.main import ClientApp
from app.player.playback import PlaybackState
from app.ui.review_panel import ReviewTextDialog
from app.ui.shortcuts import BY_ID
from app.wire.schemas import Role, TaskStatus
from devtools import annotate
from devtools.audio_tap import PacedOutput
from server import db
from server.cli import main as server_main
from server.context import open_context
from server.datadir import DataDir
from tests.e2e.client_driver import LONG, open_row, running_client, sign_in
from tests.e2e.conftest import LiveServer, live_server

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("secret_service")]


def activate(qtbot: QtBot, client: ClientApp) -> None:
    """Bring this client's window to the front: window shortcuts act in the active window."""
    client.window.raise_()
    client.window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is client.window, timeout=LONG)


def key(client: ClientApp, action_id: str) -> None:
    """The action's default key, pressed in the window."""
    combo = QKeySequence(BY_ID[action_id].default)[0]  # type: ignore[index]
    QTest.keyClick(client.window, combo.key(), combo.keyboardModifiers())


def answer_dialog(qtbot: QtBot, client: ClientApp, text: str) -> None:
    """Type ``text`` into the open reason/comment dialog and press Ctrl+Enter... or OK."""
    qtbot.waitUntil(lambda: _dialog(client) is not None, timeout=LONG)
    dialog = _dialog(client)
    assert dialog is not None
    QTest.keyClicks(dialog.editor, text)
    dialog.accept()


def _dialog(client: ClientApp) -> ReviewTextDialog | None:
    found = [d for d in client.window.findChildren(ReviewTextDialog) if d.isVisible()]
    return found[0] if found else None


def _conflict(client: ClientApp) -> QMessageBox | None:
    boxes = [b for b in client.window.findChildren(QMessageBox, "draftConflict") if b.isVisible()]
    return boxes[0] if boxes else None


def wait_review(qtbot: QtBot, client: ClientApp, status: TaskStatus) -> Review:
    qtbot.waitUntil(
        lambda: (
            client.controller.review is not None
            and client.controller.review.status is status
            and not client.controller._review_busy
        ),
        timeout=LONG,
    )
    review = client.controller.review
    assert review is not None
    return review


def coverage_known(qtbot: QtBot, client: ClientApp) -> None:
    """The server's count of what was heard has reached the client (it opens the task)."""
    qtbot.waitUntil(lambda: client.controller._listening.loaded, timeout=LONG)


def refresh(qtbot: QtBot, client: ClientApp) -> None:
    with qtbot.waitSignal(client.controller.tasks_loaded, timeout=LONG):
        client.controller.refresh_tasks()


def select_words(client: ClientApp, start: int, end: int) -> None:
    cursor = client.window.editor.textCursor()
    cursor.setPosition(start)
    cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
    client.window.editor.setTextCursor(cursor)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    files = {"a-call-mono.wav": (4.0, 48000, 1), "b-call-stereo.flac": (3.0, 8000, 2)}
    srv = live_server(tmp_path, files, listening=True)
    yield srv
    srv.stop()


def play_until(qtbot: QtBot, client: ClientApp, seconds: float) -> None:
    """Play (Ctrl+Space, unless playing) from the playhead until it passes ``seconds``; pause."""
    engine = client.controller._engine
    if engine.state is not PlaybackState.PLAYING:
        key_space(client)
    qtbot.waitUntil(
        lambda: (
            engine.position_frames / engine.sample_rate >= seconds
            or engine.state is not PlaybackState.PLAYING
        ),
        timeout=LONG,
    )
    if engine.state is PlaybackState.PLAYING:
        key_space(client)


def key_space(client: ClientApp) -> None:
    QTest.keyClick(client.window, Qt.Key.Key_Space, Qt.KeyboardModifier.ControlModifier)


def test_submit_correct_comment_reject_fix_resubmit_accept(
    qtbot: QtBot, server: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with (
        running_client(server, PacedOutput(), tmp_path / "annotator") as ann,
        running_client(server, PacedOutput(), tmp_path / "reviewer") as rev,
    ):
        activate(qtbot, ann)
        sign_in(qtbot, ann)
        open_row(qtbot, ann, 0)
        annotate.mark_segment(ann.window, ann.controller, 0.5, 2.0)
        annotate.type_text(ann.window, "hello wrold")
        annotate.press(ann.window, Qt.Key.Key_1)  # agent
        annotate.choose_first(ann.window, "outcome")
        # Not heard yet: the hand-in is stopped, the unheard part marked on the waveform.
        coverage_known(qtbot, ann)
        with qtbot.waitSignal(ann.controller.submit_blocked, timeout=LONG) as blocked:
            annotate.submit(ann.window)
        assert blocked.args[0] == "$.coverage" and "Listen first" in blocked.args[1]
        assert ann.controller.required_unheard() == [(500, 2000)]
        assert ann.window.waveform.segment_layer._unheard.tolist() == [[0.5, 2.0]]
        ann.controller.seek_seconds(0.45)
        play_until(qtbot, ann, 2.1)
        assert ann.controller.required_unheard() == []
        with qtbot.waitSignal(ann.controller.label_submitted, timeout=LONG):
            annotate.submit(ann.window)

        # The reviewer's queue holds it; opening it takes it for review, read-only.
        activate(qtbot, rev)
        queue = sign_in(qtbot, rev, "reviewer")
        assert [(t.title, t.status, t.annotator_name) for t in queue] == [
            ("a-call-mono", TaskStatus.SUBMITTED, "Ada (demo annotator)")
        ]
        assert rev.window.queue_filter.isVisible()
        open_row(qtbot, rev, 0)
        review = wait_review(qtbot, rev, TaskStatus.IN_REVIEW)
        assert review.holder_id == review.user_id
        editor = rev.controller.editor
        assert editor is not None and editor.read_only
        assert rev.window.review.isVisible() and not rev.window.submit_button.isEnabled()

        # The annotator, still on the task, amends it: the server refuses, in words; the
        # entry leaves the outbox and the work stays as a local draft.
        activate(qtbot, ann)
        ann.window.editor.moveCursor(QTextCursor.MoveOperation.End)
        QTest.keyClicks(ann.window.editor, " again")
        with qtbot.waitSignal(ann.controller.label_failed, timeout=LONG) as failed:
            annotate.submit(ann.window)
        assert "can no longer be changed by its annotator" in failed.args[0]
        assert "offline" not in failed.args[0].lower()
        assert ann.outbox.counts()[1] == 0
        qtbot.waitUntil(lambda: ann.controller.has_unsaved_work, timeout=LONG)
        activate(qtbot, rev)

        # Correct (Ctrl+Shift+E): fix the word; the diff shows it.
        key(rev, "review_correct")
        assert not editor.read_only
        rev.controller.select_segment(editor.segments[0].id)
        rev.window.editor.selectAll()
        QTest.keyClicks(rev.window.editor, "hello world")
        qtbot.waitUntil(lambda: "wrold" in rev.window.review.diff.toPlainText(), timeout=LONG)
        # Comment on the selected word (Ctrl+Shift+M), then reject with a reason.
        select_words(rev, 6, 11)
        key(rev, "review_comment")
        answer_dialog(qtbot, rev, "Check this word against the audio")
        qtbot.waitUntil(lambda: len(rev.controller.review.comments) == 1, timeout=LONG)
        key(rev, "review_reject")
        answer_dialog(qtbot, rev, "Please listen again to the greeting")
        review = wait_review(qtbot, rev, TaskStatus.REJECTED)
        assert [r.author_role for r in review.revisions] == [Role.ANNOTATOR, Role.REVIEWER]
        assert editor.read_only  # the review ended: reading only

        # The annotator sees the reason and the comment, on the reviewer's revision.
        activate(qtbot, ann)
        refresh(qtbot, ann)
        assert ann.window.tasks.task_at(0).status is TaskStatus.REJECTED
        open_row(qtbot, ann, 1)
        # Its refused amendment is a local draft on revision 1; the server has the
        # reviewer's revision 2: both are offered, and the annotator opens revision 2.
        tasks = ann.window.tasks
        tasks.setCurrentRow(0)
        tasks.setFocus()
        QTest.keyClick(tasks, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: _conflict(ann) is not None, timeout=LONG)
        box = _conflict(ann)
        assert box is not None
        stored = next(b for b in box.buttons() if b.text() == "Open revision 2")
        qtbot.mouseClick(stored, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: ann.controller.editor is not None, timeout=LONG)
        qtbot.waitUntil(lambda: QApplication.activeWindow() is ann.window, timeout=LONG)
        seen = wait_review(qtbot, ann, TaskStatus.REJECTED)
        assert [c.text for c in seen.comments] == ["Check this word against the audio"]
        assert (seen.comments[0].char_start, seen.comments[0].char_end) == (6, 11)
        panel = ann.window.review
        assert panel.isVisible()
        assert panel.reason.text().endswith("Please listen again to the greeting")
        mine = ann.controller.editor
        assert mine is not None and not mine.read_only
        coverage_known(qtbot, ann)  # what was heard in the first round still counts
        assert ann.controller.required_unheard() == []
        ann.controller.select_segment(mine.segments[0].id)
        ann.window.editor.moveCursor(QTextCursor.MoveOperation.End)
        QTest.keyClicks(ann.window.editor, " there")
        with qtbot.waitSignal(ann.controller.label_submitted, timeout=LONG) as stored:
            annotate.submit(ann.window)
        assert stored.args[1] == 3

        # Back in the queue; the reviewer accepts (Ctrl+Shift+A).
        activate(qtbot, rev)
        rev.controller.close_segment()
        # Closing the task takes its review and its coverage off the screen.
        assert not rev.window.review.isVisible() and rev.window.review.comments.count() == 0
        assert rev.window.waveform.segment_layer._unheard.size == 0
        refresh(qtbot, rev)
        open_row(qtbot, rev, 0)
        wait_review(qtbot, rev, TaskStatus.IN_REVIEW)
        coverage_known(qtbot, rev)
        with qtbot.waitSignal(rev.controller.review_failed, timeout=LONG) as refused:
            key(rev, "review_accept")  # the reviewer has not heard the recording
        assert "Listen first" in refused.args[0]
        rev.controller.set_speed(2.0)
        rev.controller.seek_seconds(0.0)
        play_until(qtbot, rev, 4.0)  # to the end, at twice the speed
        qtbot.waitUntil(lambda: rev.controller.accept_shortfall() == [], timeout=LONG)
        said: list[str] = []
        rev.controller.review_failed.connect(said.append)
        key(rev, "review_accept")
        qtbot.waitUntil(
            lambda: (
                bool(said)
                or (
                    rev.controller.review is not None
                    and rev.controller.review.status is TaskStatus.ACCEPTED
                )
            ),
            timeout=LONG,
        )
        assert said == [], said
        wait_review(qtbot, rev, TaskStatus.ACCEPTED)
        QApplication.processEvents()
        task_id = queue[0].task_id

    server.stop()
    ctx = open_context(DataDir(server.data_dir))
    with ctx.engine.connect() as conn:
        revisions = conn.execute(
            select(db.labels.c.revision, db.label_revisions.c.author_role,
                   db.label_revisions.c.base_revision)
            .join(db.label_revisions)
            .where(db.labels.c.task_id == task_id)
            .order_by(db.labels.c.revision)
        ).all()  # fmt: skip
        steps = conn.execute(
            select(db.task_transitions.c.step, db.task_transitions.c.to_status)
            .where(db.task_transitions.c.task_id == task_id)
            .order_by(db.task_transitions.c.seq)
        ).all()
        status = conn.execute(select(db.tasks.c.status).where(db.tasks.c.id == task_id)).scalar()
    assert [tuple(r) for r in revisions] == [
        (1, "annotator", None), (2, "reviewer", 1), (3, "annotator", 2)
    ]  # fmt: skip
    assert [s.step for s in steps] == [
        "submit", "claim", "correct", "reject", "submit", "claim", "accept"
    ]  # fmt: skip
    assert status == "accepted"
    assert server_main(["audit", "verify", "--data-dir", str(server.data_dir)]) == 0
    assert "FAIL" not in capsys.readouterr().out
