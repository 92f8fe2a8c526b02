"""Keyboard-first: shortcuts work while typing in the transcript."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.domain.models import User
from app.ui import main_window
from app.ui.main_window import MainWindow
from tests.qt.conftest import show_document

CTRL = Qt.KeyboardModifier.ControlModifier
ALT = Qt.KeyboardModifier.AltModifier


def focus_editor(window: MainWindow, qtbot: QtBot) -> None:
    show_document(window)
    window.submit_button.setEnabled(True)
    window.activateWindow()
    window.editor.setFocus()
    qtbot.waitUntil(window.editor.hasFocus)


def test_play_and_skip_shortcuts_while_typing(window: MainWindow, qtbot: QtBot) -> None:
    focus_editor(window, qtbot)
    qtbot.keyClicks(window.editor, "hello")
    with qtbot.waitSignal(window.player.play_toggled, timeout=1000):
        qtbot.keyClick(window.editor, Qt.Key.Key_Space, CTRL)
    with qtbot.waitSignal(window.player.skip_requested, timeout=1000) as back:
        qtbot.keyClick(window.editor, Qt.Key.Key_Left, ALT)
    assert back.args == [-2.0]
    with qtbot.waitSignal(window.player.skip_requested, timeout=1000) as fwd:
        qtbot.keyClick(window.editor, Qt.Key.Key_Right, ALT)
    assert fwd.args == [2.0]
    assert window.editor.toPlainText() == "hello"
    # Ctrl+Left stays word navigation for the editor, not a player shortcut.
    with qtbot.assertNotEmitted(window.player.skip_requested):
        qtbot.keyClick(window.editor, Qt.Key.Key_Left, CTRL)
    assert window.editor.textCursor().position() == 0


def test_ctrl_return_submits_the_text_once(window: MainWindow, qtbot: QtBot) -> None:
    focus_editor(window, qtbot)
    qtbot.keyClicks(window.editor, "the caller asked for a refill")
    with qtbot.waitSignal(window.submit_requested, timeout=1000) as sent:
        qtbot.keyClick(window.editor, Qt.Key.Key_Return, CTRL)
    assert sent.args == []
    assert not window.submit_button.isEnabled()  # no double submit while in flight
    with qtbot.assertNotEmitted(window.submit_requested):
        qtbot.keyClick(window.editor, Qt.Key.Key_Return, CTRL)


def test_login_page_asks_for_the_chosen_account(window: MainWindow, qtbot: QtBot) -> None:
    window.login.account.setCurrentText("reviewer")
    with qtbot.waitSignal(window.login.sign_in_requested, timeout=1000) as req:
        qtbot.mouseClick(window.login.sign_in_button, Qt.MouseButton.LeftButton)
    assert req.args == ["reviewer"]
    assert not window.login.sign_in_button.isEnabled()
    window.login.show_error("Cannot reach the Cordon server.")
    assert window.login.sign_in_button.isEnabled()
    assert "Cannot reach" in window.login.message.text()


def test_enter_signs_in_from_the_keyboard(window: MainWindow, qtbot: QtBot) -> None:
    window.login.account.setCurrentText("annotator")
    window.login.setFocus()
    with qtbot.waitSignal(window.login.sign_in_requested, timeout=1000) as req:
        qtbot.keyClick(window.login, Qt.Key.Key_Return)
    assert req.args == ["annotator"]


def work_page(qtbot: QtBot, width: int, height: int) -> MainWindow:
    """A fresh window of that size, showing the work page (as after sign-in)."""
    window = MainWindow(["annotator"], "https://cordon.test")
    qtbot.addWidget(window)
    window.resize(width, height)
    window.stack.setCurrentIndex(1)
    window.show()
    qtbot.waitExposed(window)
    return window


def test_the_banner_never_moves_the_work_and_good_news_clears_itself(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(main_window, "BANNER_GOOD_NEWS_MS", 100)
    window = work_page(qtbot, 1000, 700)

    def waveform_top() -> int:
        QApplication.processEvents()
        return int(window.waveform.mapTo(window, window.waveform.rect().topLeft()).y())

    before = waveform_top()
    window.show_banner("The server refused a transcript: two lines of words, " * 4)
    assert waveform_top() == before
    qtbot.wait(300)
    assert window.banner.text() != ""  # an error stays
    window.show_submitted(3)
    assert waveform_top() == before and "revision 3" in window.banner.text()
    qtbot.waitUntil(lambda: window.banner.text() == "", timeout=2000)  # good news clears
    assert waveform_top() == before


def test_a_new_sign_in_does_not_show_the_last_sessions_banner(qtbot: QtBot) -> None:
    """A reviewer's refusal stayed on screen for the manager who signed in after them."""
    window = work_page(qtbot, 1000, 700)
    window.show_banner("You manage no project: there is no report to show.")
    window.show_session_expired("You signed out.")
    window.show_signed_in(User("u_mo", "manager", "Mo"))
    assert window.banner.text() == ""


def test_the_task_list_keeps_its_width_when_a_long_stereo_call_opens(qtbot: QtBot) -> None:
    window = work_page(qtbot, 900, 600)
    QApplication.processEvents()
    width = window.tasks.width()
    window.player.set_channels(2)  # agent / customer buttons appear
    window.player.set_duration(7200.0)
    window.player.show_state("playing", 3599.99)  # "59:59.99 / 2:00:00.00"
    QApplication.processEvents()
    assert window.tasks.width() == width


def test_titles_and_server_words_are_shown_as_text_never_as_markup(qtbot: QtBot) -> None:
    window = work_page(qtbot, 1000, 700)
    for label, show in (
        (window.task_title, window.task_title.setText),
        (window.banner, window.show_banner),
        (window.login.message, window.login.show_error),
    ):
        show("x")
        plain_width = label.sizeHint().width()
        show("<b>x</b><img src='/etc/hostname'>")
        # As markup this would draw one bold "x"; as text every character shows.
        assert label.sizeHint().width() > 5 * plain_width, label.objectName()
