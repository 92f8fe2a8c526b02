"""A project manager's work: the quality report, who works on what, and the project policy.

A manager holds no content rights, so nothing here opens audio or a document: each call
is one small request on the network worker, answered by a signal on the GUI thread. A
change (an assignment, a reassignment, a policy) is followed by a fresh plan, so the
dialog always shows what the server now holds; a refusal comes back in the server's
words (``already_on_recording`` reads "the assignee already has a task on this
recording"), never as "offline".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import SignalInstance

from app.api.client import CordonApi
from app.jobs.review_ops import refusal_words
from app.wire.manage import AssignIn, PolicyIn, ReassignIn


class ManageOps:
    # Provided by Controller.
    _api: CordonApi
    _network: Any
    report_loaded: SignalInstance
    report_failed: SignalInstance
    plan_loaded: SignalInstance
    manage_failed: SignalInstance
    manage_done: SignalInstance

    @property
    def managed_projects(self) -> list[str]:
        raise NotImplementedError

    def _managed(self, failed: SignalInstance, what: str) -> str | None:
        projects = self.managed_projects
        if not projects:
            failed.emit(f"You manage no project: there is no {what} to show.")
            return None
        return projects[0]

    def load_report(self) -> None:
        """The first managed project's quality report, fetched on the network worker."""
        project = self._managed(self.report_failed, "report")
        if project is None:
            return
        self._network.submit(
            "report", lambda: self._api.project_report(project), self.report_loaded.emit,
            lambda exc: self.report_failed.emit(refusal_words(exc)),
        )  # fmt: skip

    def load_plan(self) -> None:
        """The first managed project's tasks, recordings, annotators and policy."""
        project = self._managed(self.manage_failed, "project")
        if project is None:
            return
        self._network.submit(
            "plan", lambda: self._api.project_tasks(project), self.plan_loaded.emit,
            lambda exc: self.manage_failed.emit(refusal_words(exc)),
        )  # fmt: skip

    def _change(self, name: str, call: Callable[[str], Any], done: Callable[[Any], str]) -> None:
        project = self._managed(self.manage_failed, "project")
        if project is None:
            return

        def finished(result: Any) -> None:
            self.manage_done.emit(done(result))
            self.load_plan()

        self._network.submit(
            name, lambda: call(project), finished,
            lambda exc: self.manage_failed.emit(refusal_words(exc)),
        )  # fmt: skip

    def assign_task(
        self, segment_id: str, assignee_id: str, window: tuple[float, float] | None = None
    ) -> None:
        """A new task on a recording — or only ``window`` (start s, end s) of it — for an
        annotator (never a second one on the same recording)."""
        start, end = window if window is not None else (None, None)
        body = AssignIn(segment_id=segment_id, assignee_id=assignee_id, start_s=start, end_s=end)
        self._change("assign", lambda p: self._api.assign(p, body), _assigned_words)

    def reassign_task(self, task_id: str, assignee_id: str) -> None:
        """Hand a task that is not handed in (or was rejected) to another annotator."""
        body = ReassignIn(assignee_id=assignee_id)
        self._change("reassign", lambda p: self._api.reassign(p, task_id, body), _reassigned_words)

    def set_policy(self, policy: PolicyIn) -> None:
        """Listening before hand-in and accept, and the gold rate (audited on the server)."""
        self._change("policy", lambda p: self._api.set_policy(p, policy), _policy_words)


def _gold(added: int) -> str:
    return f" {added} gold task(s) were mixed in at the project's rate." if added else ""


def _assigned_words(result: Any) -> str:
    return "The task was assigned." + _gold(result.gold_tasks_added)


def _reassigned_words(result: Any) -> str:
    return "The task was handed over." + _gold(result.gold_tasks_added)


def _policy_words(result: Any) -> str:
    more = result.tasks_added
    tasks = f" {more} task(s) were assigned to reach the annotations per recording." if more else ""
    return "The policy was saved." + tasks + _gold(result.gold_tasks_added)
