"""The reviewer's screen: every review key and button, the panel per role, the diff, comments."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from app.domain.label_document import LabelDocument, Segment
from app.domain.models import ProjectId, SegmentId, Task, TaskId
from app.domain.review import Comment, QueueFilter, Review, Revision, Transition
from app.ui.main_window import MainWindow
from app.ui.review_panel import REVIEW_BUTTONS, ReviewTextDialog
from app.ui.shortcuts import BY_ID
from app.wire.schemas import Role, TaskStatus

REVIEW_KEYS = ["review_correct", "review_comment", "review_accept", "review_reject",
               "review_release"]  # fmt: skip


def _task(role: Role, status: TaskStatus) -> Task:
    return Task(
        TaskId("tsk_1"), ProjectId("prj_1"), "Demo", SegmentId("seg_1"), "call-a", role,
        status, 10.0, 16_000, 1, 1000, annotator_id="usr_a", annotator_name="Ada",
    )  # fmt: skip


def _review(role: Role, status: TaskStatus, holder: str | None, reason: str | None = None
            ) -> Review:  # fmt: skip
    revisions = (Revision(1, "usr_a", Role.ANNOTATOR, None, False, 0),)
    transitions: tuple[Transition, ...] = (
        Transition(1, "submit", TaskStatus.ASSIGNED, TaskStatus.SUBMITTED, "usr_a",
                   Role.ANNOTATOR, 1, 0, None),
    )  # fmt: skip
    if reason is not None:
        transitions += (Transition(2, "reject", TaskStatus.IN_REVIEW, TaskStatus.REJECTED,
                                   "usr_r", Role.REVIEWER, 1, 0, reason),)  # fmt: skip
    comments = (
        Comment("cmt_1", 1, "usr_r", "s1", None, None, 6, 11, "spelling <b>here</b>", 0),
        Comment("cmt_2", 1, "usr_r", None, 16_000, 32_000, None, None, "a gap", 0),
    )
    return Review(_task(role, status), "usr_r", status, holder, revisions, transitions, comments)


BASE = LabelDocument(1, (Segment("s1", 0, 8000, speaker="agent", text="hello wrold"),))
FIXED = LabelDocument(1, (Segment("s1", 0, 8000, speaker="agent", text="hello <i>world</i>"),))


def test_every_review_key_reaches_its_action(window: MainWindow, qtbot: QtBot) -> None:
    window.stack.setCurrentIndex(1)
    seen: list[str] = []
    window.action_triggered.connect(seen.append)
    for action_id in REVIEW_KEYS:
        combo = QKeySequence(BY_ID[action_id].default)[0]  # type: ignore[index]
        QTest.keyClick(window, combo.key(), combo.keyboardModifiers())
        assert seen[-1] == action_id, action_id
    assert len(seen) == len(REVIEW_KEYS)
    assert window.keymap.conflicts() == []


def test_the_filter_key_opens_the_queue_filter(window: MainWindow, qtbot: QtBot) -> None:
    window.stack.setCurrentIndex(1)
    window.show_tasks([replace(_task(Role.REVIEWER, TaskStatus.SUBMITTED))], reviews=True)
    assert window.queue_filter.isVisible()
    chosen: list[QueueFilter] = []
    window.queue_filter.changed.connect(chosen.append)
    combo = QKeySequence(BY_ID["review_filter"].default)[0]  # type: ignore[index]
    QTest.keyClick(window, combo.key(), combo.keyboardModifiers())
    qtbot.waitUntil(lambda: window.queue_filter.status.view().isVisible())  # its list is open
    window.queue_filter.status.hidePopup()
    window.queue_filter.status.setCurrentIndex(3)  # Accepted
    window.queue_filter.status.activated.emit(3)
    window.queue_filter.annotator.setCurrentIndex(1)  # Ada, learnt from the queue
    window.queue_filter.annotator.activated.emit(1)
    assert chosen[-1] == QueueFilter(TaskStatus.ACCEPTED, "usr_a")
    window.show_tasks([], reviews=False)
    assert not window.queue_filter.isVisible()


def test_the_holder_gets_every_action_and_each_button_sends_its_id(
    window: MainWindow, qtbot: QtBot
) -> None:
    window.stack.setCurrentIndex(1)
    panel = window.review
    panel.show_review(_review(Role.REVIEWER, TaskStatus.IN_REVIEW, "usr_r"), base=None,
                      current=BASE, correcting=False, rate=16_000)  # fmt: skip
    assert panel.isVisible()
    assert "in review by you" in panel.status.text() and "Ada" in panel.status.text()
    seen: list[str] = []
    window.action_triggered.connect(seen.append)
    for action_id, _text, _step in REVIEW_BUTTONS:
        button = panel.buttons[action_id]
        assert button.isVisible() and button.isEnabled(), action_id
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert seen == [a for a, _t, _s in REVIEW_BUTTONS]
    assert "Ctrl+Shift+A" in panel.buttons["review_accept"].toolTip()
    # While correcting, "Correct" has nothing more to do.
    panel.show_review(panel.review, base=BASE, current=FIXED, correcting=True, rate=16_000)
    assert not panel.buttons["review_correct"].isEnabled()


def test_another_reviewers_task_and_a_decided_one_offer_nothing(window: MainWindow) -> None:
    window.stack.setCurrentIndex(1)
    panel = window.review
    for status, holder in ((TaskStatus.IN_REVIEW, "usr_other"), (TaskStatus.ACCEPTED, None)):
        panel.show_review(_review(Role.REVIEWER, status, holder), base=None, current=BASE,
                          correcting=False, rate=16_000)  # fmt: skip
        assert not any(b.isEnabled() for b in panel.buttons.values()), status
    assert "by another reviewer" not in panel.status.text()  # accepted: nobody holds it
    panel.show_review(None, base=None, current=None, correcting=False, rate=1)
    assert not panel.isVisible()


def test_the_annotator_reads_the_reason_and_the_comments(window: MainWindow, qtbot: QtBot) -> None:
    window.stack.setCurrentIndex(1)
    panel = window.review
    review = _review(Role.ANNOTATOR, TaskStatus.REJECTED, None, reason="Fix <two> notes")
    panel.show_review(review, base=None, current=BASE, correcting=False, rate=16_000)
    assert not any(b.isVisible() for b in panel.buttons.values())
    assert panel.reason.text() == "Reason given when rejected: Fix <two> notes"
    assert panel.reason.textFormat() is Qt.TextFormat.PlainText
    rows = [panel.comments.item(i).text() for i in range(panel.comments.count())]
    assert rows == [
        "segment at 0:00.00, characters 7-11 (revision 1): spelling <b>here</b>",
        "0:01.00-0:02.00 (revision 1): a gap",
    ]
    chosen: list[Comment] = []
    panel.comment_chosen.connect(chosen.append)
    item = panel.comments.item(1)
    qtbot.mouseClick(panel.comments.viewport(), Qt.MouseButton.LeftButton,
                     pos=panel.comments.visualItemRect(item).center())  # fmt: skip
    assert [c.comment_id for c in chosen] == ["cmt_2"]
    blocked: list[tuple[str, str]] = []
    panel.comments.blocked.connect(lambda a, r: blocked.append((a, r)))
    QTest.keyClick(panel.comments, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert blocked == [("clipboard_blocked", "copy")]


def test_the_diff_shows_words_as_text_and_cannot_be_selected(window: MainWindow) -> None:
    window.stack.setCurrentIndex(1)
    panel = window.review
    panel.show_review(_review(Role.REVIEWER, TaskStatus.IN_REVIEW, "usr_r"), base=BASE,
                      current=FIXED, correcting=True, rate=16_000)  # fmt: skip
    assert panel.diff.isVisible()
    shown = panel.diff.toPlainText()
    assert "Changed segment at 0:00.00" in shown
    assert "wrold" in shown and "<i>world</i>" in shown  # typed markup stays text
    assert panel.diff.textInteractionFlags() == Qt.TextInteractionFlag.NoTextInteraction
    assert panel.diff.contextMenuPolicy() == Qt.ContextMenuPolicy.NoContextMenu


def test_a_reason_is_typed_and_handed_over_then_cleared(window: MainWindow, qtbot: QtBot) -> None:
    answers: list[str] = []
    dialog = ReviewTextDialog(window, "Reject", "Why?", lambda _e: None, answers.append)
    dialog.open()
    qtbot.keyClicks(dialog.editor, "Speaker turns are swapped")
    box = dialog.findChild(QDialogButtonBox)
    assert box is not None
    ok = box.button(QDialogButtonBox.StandardButton.Ok)
    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    assert answers == ["Speaker turns are swapped"]
    assert dialog.editor.toPlainText() == ""
    dialog.deleteLater()
