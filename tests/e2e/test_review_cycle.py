"""The review cycle with two real clients against the real TLS server, all from the keyboard.

The annotator submits; the reviewer takes it from the queue, corrects it, comments on
the selected words and rejects it with a reason; the annotator sees the reason and
the comment, fixes and resubmits; the reviewer accepts. The database then holds every
revision (with its author's role and base) and every step, and the audit log verifies.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QTextCursor
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from app.domain.review import Review
from app.main import ClientApp
from app.ui.review_panel import ReviewTextDialog
from app.ui.shortcuts import BY_ID
from app.wire.schemas import Role, TaskStatus
from devtools import annotate
from devtools.audio_tap import TappedOutput
from server import db
from server.cli import main as server_main
from server.context import open_context
from server.datadir import DataDir
from tests.e2e.client_driver import LONG, open_row, running_client, sign_in
from tests.e2e.conftest import LiveServer

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


def refresh(qtbot: QtBot, client: ClientApp) -> None:
    with qtbot.waitSignal(client.controller.tasks_loaded, timeout=LONG):
        client.controller.refresh_tasks()


def select_words(client: ClientApp, start: int, end: int) -> None:
    cursor = client.window.editor.textCursor()
    cursor.setPosition(start)
    cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
    client.window.editor.setTextCursor(cursor)


def test_submit_correct_comment_reject_fix_resubmit_accept(
    qtbot: QtBot, server: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with (
        running_client(server, TappedOutput(), tmp_path / "annotator") as ann,
        running_client(server, TappedOutput(), tmp_path / "reviewer") as rev,
    ):
        activate(qtbot, ann)
        sign_in(qtbot, ann)
        open_row(qtbot, ann, 0)
        annotate.mark_segment(ann.window, ann.controller, 0.5, 2.0)
        annotate.type_text(ann.window, "hello wrold")
        annotate.press(ann.window, Qt.Key.Key_1)  # agent
        annotate.choose_first(ann.window, "outcome")
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
        open_row(qtbot, ann, 0)
        seen = wait_review(qtbot, ann, TaskStatus.REJECTED)
        assert [c.text for c in seen.comments] == ["Check this word against the audio"]
        assert (seen.comments[0].char_start, seen.comments[0].char_end) == (6, 11)
        panel = ann.window.review
        assert panel.isVisible()
        assert panel.reason.text().endswith("Please listen again to the greeting")
        mine = ann.controller.editor
        assert mine is not None and not mine.read_only
        assert mine.segments[0].text == "hello world"
        ann.controller.select_segment(mine.segments[0].id)
        ann.window.editor.moveCursor(QTextCursor.MoveOperation.End)
        QTest.keyClicks(ann.window.editor, " there")
        with qtbot.waitSignal(ann.controller.label_submitted, timeout=LONG) as stored:
            annotate.submit(ann.window)
        assert stored.args[1] == 3

        # Back in the queue; the reviewer accepts (Ctrl+Shift+A).
        activate(qtbot, rev)
        rev.controller.close_segment()
        refresh(qtbot, rev)
        open_row(qtbot, rev, 0)
        wait_review(qtbot, rev, TaskStatus.IN_REVIEW)
        key(rev, "review_accept")
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
