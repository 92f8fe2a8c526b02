"""Signals between the controller and the window for a project's managers.

The report (Ctrl+Shift+P) and the manage dialog (Ctrl+Shift+G): one dialog per window,
opened on the key and filled from the server's answer; changes go to the controller
and come back as a fresh plan or as the server's words. Only connections here.
"""

from __future__ import annotations

from app.jobs.controller import Controller
from app.ui.main_window import MainWindow
from app.ui.manage_dialog import LOADING, ManageDialog
from app.ui.report_dialog import ReportDialog
from app.wire.report import ReportOut

MANAGER_HINT = (
    "You manage this project: Ctrl+Shift+G (Cordon → Manage project…) assigns work and sets "
    "the policy; Ctrl+Shift+P shows the quality report. Managers see no recordings or "
    "transcripts."
)


def wire_manage(c: Controller, w: MainWindow) -> ManageDialog:
    """Connect the manager's report and desk; the desk dialog is returned (for tests)."""
    desk = ManageDialog(w)
    desk.assign_requested.connect(c.assign_task)
    desk.reassign_requested.connect(c.reassign_task)
    desk.policy_requested.connect(c.set_policy)
    desk.table.blocked.connect(w.dialog_blocked)
    # Back to the window, so its shortcuts act at once (without a window manager
    # nobody else re-activates it).
    desk.finished.connect(lambda _r: w.activateWindow())
    # Signing out or a lock leaves no project plan on screen.
    w.sign_out_requested.connect(desk.close_and_clear)
    c.locked.connect(lambda _why: desk.close_and_clear())

    def manager_hint(tasks: list[object]) -> None:
        managing = bool(c.managed_projects)
        w.report_action.setVisible(managing)
        w.manage_action.setVisible(managing)
        if not tasks and managing:
            w.task_title.setText(MANAGER_HINT)
        elif w.task_title.text() == MANAGER_HINT:  # the next user of this window is no manager
            w.task_title.setText("Choose a task.")

    def open_desk() -> None:
        desk.show_result(LOADING, True)
        desk.open()
        c.load_plan()

    def refused(words: str) -> None:
        if desk.isVisible():
            desk.show_result(words, False)
        else:
            w.show_banner(words)

    actions = {"project_report": c.load_report, "manage_project": open_desk}
    w.action_triggered.connect(lambda a: actions.get(a, lambda: None)())
    c.tasks_loaded.connect(manager_hint)

    def show_report(report: ReportOut) -> None:
        dialog = ReportDialog(report, w)
        dialog.table.blocked.connect(w.dialog_blocked)
        dialog.finished.connect(lambda _r: w.activateWindow())
        dialog.open()

    c.report_loaded.connect(show_report)
    c.report_failed.connect(w.show_banner)
    c.plan_loaded.connect(desk.set_plan)
    c.manage_done.connect(lambda words: desk.show_result(words, True))
    c.manage_failed.connect(refused)
    return desk
