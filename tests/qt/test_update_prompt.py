"""The update prompt and the update jobs: only a yes installs, checks never block the GUI."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import pytest
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QApplication, QMainWindow
from pytestqt.qtbot import QtBot

from app.jobs.controller import Controller
from app.jobs.update_ops import UpdateOps
from app.services.update_install import UpdateInstaller
from app.services.updates import UpdateChecker, UpdateOffer, UpdateRefusedError
from app.ui.update_prompt import UpdatePrompt, wire_updates


class FakeChecker(UpdateChecker):
    """Answers with a downloaded offer (or raises), recording the thread it ran on."""

    def __init__(self, tmp: Path, error: UpdateRefusedError | None = None) -> None:
        super().__init__("https://127.0.0.1:1", tmp, tmp, tmp, lambda _c: None,
                         platform="linux-deb")  # fmt: skip
        self.tmp, self.error = tmp, error
        self.threads: list[str] = []

    def check(self, *, download: bool = True) -> UpdateOffer | None:
        self.threads.append(threading.current_thread().name)
        if self.error is not None:
            raise self.error
        folder = self.tmp / f"dl-{len(self.threads)}"
        folder.mkdir()
        (folder / "cordon-0.2.0.deb").write_bytes(b"deb")
        file = folder / "cordon-0.2.0.deb" if download else None
        return UpdateOffer("0.2.0", "linux-deb/cordon-0.2.0.deb", 3, file, folder)


class Runner:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, command: Sequence[str]) -> int:
        self.calls.append(list(command))
        return 0


def test_the_prompt_answers_yes_only_for_install(qtbot: QtBot) -> None:
    prompt = UpdatePrompt("0.2.0")
    answers: list[bool] = []
    prompt.answered.connect(answers.append)
    prompt.show()
    qtbot.waitExposed(prompt)
    assert "0.2.0" in prompt.text()
    qtbot.mouseClick(prompt.install, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: answers == [True])
    closed = UpdatePrompt("0.2.0")
    closed.answered.connect(answers.append)
    closed.show()
    qtbot.waitExposed(closed)
    qtbot.keyClick(closed, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: answers == [True, False])


class FakeController(QObject):
    signed_in = Signal(object)


def test_ask_checks_off_the_gui_thread_and_installs_after_a_yes(
    qtbot: QtBot, tmp_path: Path
) -> None:
    checker, runner = FakeChecker(tmp_path), Runner()
    ops = UpdateOps(checker, UpdateInstaller("ask", "linux-deb", runner))
    window = QMainWindow()
    controller = FakeController()
    wire_updates(ops, cast(Controller, controller), window)
    try:
        controller.signed_in.emit(object())  # checks start after sign-in
        qtbot.waitUntil(lambda: _prompt() is not None, timeout=5000)
        assert checker.threads and checker.threads[0] != threading.current_thread().name
        assert runner.calls == []  # nothing runs before the person answers
        prompt = _prompt()
        assert prompt is not None
        qtbot.mouseClick(prompt.install, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: len(runner.calls) == 1, timeout=5000)
        assert runner.calls[0][:4] == ["pkexec", "apt-get", "install", "-y"]
    finally:
        assert ops.stop()
        window.close()


def _prompt() -> UpdatePrompt | None:
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, UpdatePrompt) and widget.isVisible():
            return widget
    return None


def test_a_declined_update_is_deleted_and_never_installed(qtbot: QtBot, tmp_path: Path) -> None:
    checker, runner = FakeChecker(tmp_path), Runner()
    ops = UpdateOps(checker, UpdateInstaller("ask", "linux-deb", runner))
    try:
        with qtbot.waitSignal(ops.offered, timeout=5000) as offered:
            ops.check_now()
        offer = offered.args[0]
        file = offer.file
        ops.answer(offer, False)
        qtbot.waitUntil(lambda: not file.exists(), timeout=5000)
        assert runner.calls == []
    finally:
        assert ops.stop()


def test_never_only_reports_and_refusals_keep_the_version(qtbot: QtBot, tmp_path: Path) -> None:
    runner = Runner()
    ops = UpdateOps(FakeChecker(tmp_path), UpdateInstaller("never", "linux-deb", runner))
    refusing = UpdateOps(
        FakeChecker(tmp_path / "r", UpdateRefusedError("rollback", "older metadata")),
        UpdateInstaller("automatic", "linux-deb", runner),
    )
    try:
        with qtbot.waitSignal(ops.notice, timeout=5000) as notice:
            ops.check_now()
        assert "0.2.0 is available" in notice.args[0]
        with qtbot.waitSignal(refusing.refused, timeout=5000) as refused:
            refusing.check_now()
        assert refused.args == ["rollback"]
        assert runner.calls == []
    finally:
        assert ops.stop() and refusing.stop()


def test_an_offer_arriving_after_stop_is_discarded_not_asked(qtbot: QtBot, tmp_path: Path) -> None:
    """Cordon began to quit while the check ran: no prompt, no install, no file left."""
    checker = FakeChecker(tmp_path)
    runner = Runner()
    ops = UpdateOps(checker, UpdateInstaller("ask", "linux-deb", runner))
    asked: list[UpdateOffer] = []
    ops.offered.connect(asked.append)
    ops.stop()
    late = checker.check(download=True)
    assert late is not None and late.file is not None and late.file.exists()
    ops._found(late)
    ops.answer(late, True)
    assert asked == [] and runner.calls == [] and late.file is None
    assert not (tmp_path / "dl-1").exists()


def test_a_cancelled_checker_checks_no_more_and_reports_nothing(tmp_path: Path) -> None:
    reports: list[str] = []
    checker = UpdateChecker("https://127.0.0.1:1", tmp_path, tmp_path, tmp_path, reports.append)
    checker.cancel()
    with pytest.raises(UpdateRefusedError) as caught:
        checker.check()
    assert caught.value.code == "cancelled" and reports == []
