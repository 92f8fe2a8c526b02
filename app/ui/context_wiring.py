"""Signals between the controller and the window for context around windowed tasks.

Ctrl+Shift+U (annotator): ask, hear a granted stretch, or return to the window;
Ctrl+Shift+K (reviewer): the pending asks. Only connections here.
"""

from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from app.domain.models import Task
from app.jobs.controller import Controller
from app.services.segments import OpenedSegment
from app.ui.context_dialogs import ContextAskDialog, ContextAsksDialog
from app.ui.main_window import MainWindow


def wire_context(c: Controller, w: MainWindow) -> ContextAsksDialog:
    asks = ContextAsksDialog(w)
    asks.decide.connect(c.decide_context)
    asks.asks.blocked.connect(w.dialog_blocked)
    asks.finished.connect(lambda _r: w.activateWindow())
    w.sign_out_requested.connect(asks.close_and_clear)
    c.locked.connect(lambda _why: asks.close_and_clear())
    menu = w.findChild(QMenu, "cordonMenu")
    if menu is not None:  # beside the manager's entries, before the shortcut sheet
        before = next((a for a in menu.actions() if a.text() == "Keyboard shortcuts…"), None)
        hear = QAction("Hear more around this window…", menu)
        pending = QAction("Context asks…", menu)
        menu.insertActions(before, [hear, pending])  # type: ignore[arg-type]
        hear.triggered.connect(lambda: w.action_triggered.emit("context"))
        pending.triggered.connect(lambda: w.action_triggered.emit("context_asks"))
        hear.setVisible(False)  # shown while a windowed task is open
        pending.setVisible(False)  # shown to reviewers
        c.tasks_loaded.connect(lambda _tasks: pending.setVisible(c.reviews))
        c.segment_opened.connect(lambda opened: hear.setVisible(opened.task.windowed))
        c.segment_closed.connect(lambda: hear.setVisible(False))

    def open_asks() -> None:
        asks.show_result("Loading…")
        asks.open()
        c.load_context_asks()

    def ask(max_s: int) -> None:
        configure = w.annotation.fields.configure_editor
        ContextAskDialog(w, max_s, configure, c.ask_context).open()

    def state(words: str) -> None:
        if words:
            w.statusBar().showMessage(words)
        else:
            w.statusBar().clearMessage()

    def refused(words: str) -> None:
        if asks.isVisible():
            asks.show_result(words)
        else:
            w.show_banner(words)

    def windowed_hint(opened: OpenedSegment) -> None:
        task: Task = opened.task
        if task.windowed and task.context_max_s > 0 and not c.in_context:
            w.statusBar().showMessage(
                f"This task is a stretch of a longer recording: Ctrl+Shift+U asks to hear up to "
                f"{task.context_max_s} s either side."
            )

    actions = {"context": c.context_key, "context_asks": open_asks}
    w.action_triggered.connect(lambda a: actions.get(a, lambda: None)())
    c.context_ask_wanted.connect(ask)
    c.context_changed.connect(state)
    c.context_failed.connect(refused)
    c.context_asks_loaded.connect(asks.show_asks)
    c.context_decided.connect(asks.show_result)
    c.segment_opened.connect(windowed_hint)
    return asks
