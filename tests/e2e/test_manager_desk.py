"""A project manager at the real client against the real TLS server, from the keyboard.

The manager signs in (no task, no recording), opens the desk with Ctrl+Shift+G,
assigns a recording to the second annotator (Alt+A), is refused a second task on the
same recording in the server's words, hands one of the first annotator's tasks over
(Alt+H), sets the policy with a gold rate (Alt+P), and reads the report
(Ctrl+Shift+P). The database holds what the desk showed; every change is audited.
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
from app.ui.manage_dialog import ManageDialog
from app.ui.report_dialog import ReportDialog
from devtools.audio_tap import TappedOutput
from server import db, gold, listen_policy
from server.context import open_context
from server.datadir import DataDir
from tests.e2e.client_driver import LONG, running_client, sign_in
from tests.e2e.conftest import LiveServer, live_server
from tests.e2e.test_review_cycle import activate, key
from tests.fixtures import segment_title

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("secret_service")]
ALT = Qt.KeyboardModifier.AltModifier


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    files = {"a-call-mono.wav": (2.0, 16000, 1), "b-call-stereo.flac": (2.0, 8000, 2)}
    srv = live_server(tmp_path, files)
    yield srv
    srv.stop()


def _desk(client: ClientApp) -> ManageDialog:
    found = client.window.findChildren(ManageDialog)
    assert len(found) == 1
    return found[0]


def _rows(desk: ManageDialog) -> list[tuple[str, str, str]]:
    t = desk.table
    cells = [[t.item(r, c) for c in range(3)] for r in range(t.rowCount())]
    return [tuple(i.text() if i else "" for i in row) for row in cells]  # type: ignore[misc]


def _tasks(server: LiveServer) -> list[tuple[str, str]]:
    ctx = open_context(DataDir(server.data_dir))
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            select(db.tasks.c.segment_id, db.users.c.username).join(
                db.users, db.users.c.id == db.tasks.c.assignee_id
            )
        ).all()
    return sorted((segment_title(ctx, r.segment_id), r.username) for r in rows)


def test_a_manager_assigns_hands_over_sets_policy_and_reads_the_report(
    qtbot: QtBot, server: LiveServer, tmp_path: Path
) -> None:
    with running_client(server, TappedOutput(), tmp_path / "manager") as mgr:
        assert sign_in(qtbot, mgr, "manager") == []
        assert "Ctrl+Shift+G" in mgr.window.task_title.text()
        assert mgr.window.manage_action.isVisible()
        activate(qtbot, mgr)
        desk = _desk(mgr)
        with qtbot.waitSignal(mgr.controller.plan_loaded, timeout=LONG):
            key(mgr, "manage_project")
        qtbot.waitUntil(desk.assign_button.isEnabled, timeout=LONG)
        assert _rows(desk) == [("a-call-mono", "Ada (demo annotator)", "assigned"),
                               ("b-call-stereo", "Ada (demo annotator)", "assigned")]  # fmt: skip
        desk.activateWindow()
        qtbot.waitUntil(desk.isActiveWindow, timeout=LONG)
        desk.recording.setCurrentIndex(0)  # a-call-mono
        desk.assign_to.setCurrentIndex(desk.assign_to.findText("Bo (demo annotator)"))
        with qtbot.waitSignal(mgr.controller.plan_loaded, timeout=LONG):
            QTest.keyClick(desk, Qt.Key.Key_A, ALT)
        assert desk.outcome.text() == "The task was assigned."
        assert ("a-call-mono", "Bo (demo annotator)", "assigned") in _rows(desk)
        # The same again: refused by the server, in its words; nothing changes.
        with qtbot.waitSignal(mgr.controller.manage_failed, timeout=LONG):
            QTest.keyClick(desk, Qt.Key.Key_A, ALT)
        assert desk.outcome.text() == "The assignee already has a task on this recording."
        assert desk.outcome.property("refused") is True
        # Ada's other task goes to Bo.
        row = _rows(desk).index(("b-call-stereo", "Ada (demo annotator)", "assigned"))
        desk.table.selectRow(row)
        desk.handover_to.setCurrentIndex(desk.handover_to.findText("Bo (demo annotator)"))
        with qtbot.waitSignal(mgr.controller.plan_loaded, timeout=LONG):
            QTest.keyClick(desk, Qt.Key.Key_H, ALT)
        assert desk.outcome.text() == "The task was handed over."
        assert _tasks(server) == [("a-call-mono", "annotator"), ("a-call-mono", "annotator2"),
                                  ("b-call-stereo", "annotator2")]  # fmt: skip
        desk.submit_coverage.setChecked(True)
        desk.accept_coverage.setValue(75)
        desk.gold_rate.setValue(20)
        with qtbot.waitSignal(mgr.controller.plan_loaded, timeout=LONG):
            QTest.keyClick(desk, Qt.Key.Key_P, ALT)
        assert desk.outcome.text() == "The policy was saved."
        ctx = open_context(DataDir(server.data_dir))
        with ctx.engine.connect() as conn:
            project = conn.execute(select(db.projects.c.id)).scalar_one()
            assert listen_policy.load(conn, project) == listen_policy.ListenPolicy(True, 75)
            assert gold.load_rate(conn, project) == 20
            reasons = conn.execute(
                select(db.access_events.c.reason).where(
                    db.access_events.c.action == "task_assigned",
                    db.access_events.c.user_id.is_not(None),
                )
            ).scalars()
            assert sorted(reasons) == ["assigned", "reassigned"]
        desk.reject()
        activate(qtbot, mgr)
        with qtbot.waitSignal(mgr.controller.report_loaded, timeout=LONG):
            key(mgr, "project_report")
        qtbot.waitUntil(lambda: bool(mgr.window.findChildren(ReportDialog)), timeout=LONG)
        report = mgr.window.findChildren(ReportDialog)[0]
        names = [report.table.item(r, 0).text() for r in range(report.table.rowCount())]  # type: ignore[union-attr]
        assert names == ["Ada (demo annotator)", "Bo (demo annotator)"]
        report.reject()
        # The next person at this window is no manager: no desk, no manager's hint.
        with qtbot.waitSignal(mgr.controller.locked, timeout=LONG):
            mgr.window.sign_out_action.trigger()
        assert desk.table.rowCount() == 0 and mgr.window.user_label.text() == "Signed out"
        sign_in(qtbot, mgr, "reviewer")
        assert "You manage" not in mgr.window.task_title.text()
        assert not mgr.window.manage_action.isVisible()
