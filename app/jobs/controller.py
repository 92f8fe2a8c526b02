"""The controller: the one object widgets talk to.

It owns the services, the playback engine and two job queues — ``network`` for
small API calls (sign-in, task list, labels, events) and ``downloads`` for
segment fetch + decrypt + decode, so a label never waits behind a download.
Results come back as signals on the GUI thread. The controller never holds a
widget; ``app.main`` wires widgets to these signals and slots.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from app.api import errors as api_errors
from app.api.client import CordonApi
from app.auth.authenticator import AuthError
from app.domain.models import AccessEvent, Task, User
from app.jobs.job_queue import JobQueue
from app.player.playback import AudioDeviceError, PlaybackEngine, PlaybackState
from app.services.device_store import KeyringUnavailableError
from app.services.events import EventRecorder, EventUploader
from app.services.labels import LabelService, new_label_id
from app.services.segments import OpenedSegment, SegmentOpenError, SegmentService
from app.services.session import SessionService
from app.wire.schemas import AccessAction, Outcome

logger = logging.getLogger(__name__)

EVENT_FLUSH_MS = 200
PLAYHEAD_MS = 16


def user_message(exc: Exception) -> str:
    """Words for the annotator; never a traceback, never content."""
    text = getattr(exc, "user_message", None)
    if isinstance(text, str):
        return text
    return "Something went wrong. The problem was recorded."


class Controller(QObject):
    signed_in = Signal(object)  # User
    sign_in_failed = Signal(str)
    tasks_loaded = Signal(list)  # list[Task]
    tasks_failed = Signal(str)
    segment_opening = Signal(object)  # Task
    segment_progress = Signal(int, int)  # bytes received, total
    segment_opened = Signal(object)  # OpenedSegment
    segment_failed = Signal(str)
    segment_closed = Signal()
    playback_changed = Signal(str, float)  # state, position seconds
    label_submitted = Signal(str, int)  # task id, revision
    label_failed = Signal(str)
    transcript_loaded = Signal(str, str)  # task id, text
    events_state_changed = Signal(int, bool)  # pending, server reachable

    def __init__(
        self,
        api: CordonApi,
        session: SessionService,
        segments: SegmentService,
        labels: LabelService,
        events: EventRecorder,
        engine: PlaybackEngine,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._api = api
        self._session = session
        self._segments = segments
        self._labels = labels
        self._events = events
        self._uploader = EventUploader(api, events)
        self._engine = engine
        self._network = JobQueue("cordon-network", api.close, self)
        self._downloads = JobQueue("cordon-downloads", api.close, self)
        self._opened: OpenedSegment | None = None
        self._opening: Task | None = None
        self._label_id: str | None = None
        self._reachable = True
        self._flush_running = False
        self._last_state: tuple[str, float] = ("stopped", 0.0)
        self._flush_timer = QTimer(self)
        self._flush_timer.setInterval(EVENT_FLUSH_MS)
        self._flush_timer.timeout.connect(self.flush_events)
        self._flush_timer.start()
        self._playhead_timer = QTimer(self)
        self._playhead_timer.setInterval(PLAYHEAD_MS)
        self._playhead_timer.timeout.connect(self._poll_playback)
        self._playhead_timer.start()

    # -- session --------------------------------------------------------------
    @property
    def user(self) -> User | None:
        return self._session.user

    @property
    def accounts(self) -> list[str]:
        return self._session.authenticator.accounts

    @property
    def opened(self) -> OpenedSegment | None:
        return self._opened

    def sign_in(self, account: str) -> None:
        self._network.submit(
            "sign-in",
            lambda: self._session.sign_in(account),
            self._on_signed_in,
            self._on_sign_in_error,
        )

    def _on_signed_in(self, user: User) -> None:
        self.signed_in.emit(user)
        self.refresh_tasks()

    def _on_sign_in_error(self, exc: Exception) -> None:
        if not isinstance(exc, AuthError | api_errors.ApiError | KeyringUnavailableError):
            logger.error("sign-in failed: %s", type(exc).__name__)
        self.sign_in_failed.emit(user_message(exc))

    def refresh_tasks(self) -> None:
        self._network.submit(
            "tasks",
            self._session.tasks,
            self.tasks_loaded.emit,
            lambda exc: self.tasks_failed.emit(user_message(exc)),
        )

    # -- segments -------------------------------------------------------------
    def open_task(self, task: Task) -> None:
        """Close what is open, then fetch and decode ``task`` on the download worker."""
        if self._opening is not None:
            return
        self.close_segment()
        self._opening = task
        self._label_id = None
        self.segment_opening.emit(task)
        self._downloads.submit(
            f"open:{task.task_id}",
            lambda: self._segments.open(task, self.segment_progress.emit),
            self._on_opened,
            self._on_open_error,
        )
        self._network.submit(
            f"label:{task.task_id}",
            lambda: self._labels.latest(task),
            lambda text: self.transcript_loaded.emit(task.task_id, text or ""),
            lambda exc: logger.info("no stored transcript: %s", type(exc).__name__),
        )

    def _on_opened(self, opened: OpenedSegment) -> None:
        self._opening = None
        self._opened = opened
        try:
            self._engine.load(opened.audio)
        except AudioDeviceError as exc:
            self._record(AccessAction.AUDIO_DEVICE_FAILED, Outcome.FAILED, "no_output")
            self.segment_opened.emit(opened)
            self.segment_failed.emit(exc.user_message)
            return
        self.segment_opened.emit(opened)

    def _on_open_error(self, exc: Exception) -> None:
        self._opening = None
        if not isinstance(exc, SegmentOpenError):
            logger.error("opening a segment failed: %s", type(exc).__name__)
        self.segment_failed.emit(user_message(exc))

    def close_segment(self) -> None:
        """Stop playback and zero the decoded audio."""
        opened, self._opened = self._opened, None
        self._engine.unload()
        if opened is not None:
            self._record(AccessAction.SEGMENT_CLOSED)
            opened.close()
            self.segment_closed.emit()

    # -- playback -------------------------------------------------------------
    def _position_ms(self) -> int:
        rate = self._engine.sample_rate
        return int(self._engine.position_frames * 1000 / rate) if rate else 0

    def _record(
        self, action: AccessAction, outcome: Outcome = Outcome.OK, reason: str | None = None
    ) -> None:
        task = self._opened.task if self._opened else None
        self._events.record(
            AccessEvent(
                action,
                task.task_id if task else None,
                task.segment_id if task else None,
                self._position_ms() if task else None,
                outcome,
                reason,
            )
        )

    def toggle_playback(self) -> None:
        if not self._engine.loaded:
            return
        if self._engine.state is PlaybackState.PLAYING:
            self._engine.pause()
            self._record(AccessAction.PLAYBACK_PAUSED)
        else:
            self._engine.play()
            self._record(AccessAction.PLAYBACK_STARTED)
        self._poll_playback()

    def seek_seconds(self, seconds: float) -> None:
        if not self._engine.loaded:
            return
        self._engine.seek(int(max(0.0, seconds) * self._engine.sample_rate))
        self._record(AccessAction.PLAYBACK_SEEKED)
        self._poll_playback()

    def skip_seconds(self, delta: float) -> None:
        rate = self._engine.sample_rate
        if rate:
            self.seek_seconds(self._engine.position_frames / rate + delta)

    def _poll_playback(self) -> None:
        rate = self._engine.sample_rate
        state = (self._engine.state.value, self._engine.position_frames / rate if rate else 0.0)
        if state != self._last_state:
            self._last_state = state
            self.playback_changed.emit(*state)

    # -- labels ---------------------------------------------------------------
    def submit_transcript(self, text: str) -> None:
        opened = self._opened
        if opened is None:
            self.label_failed.emit("Open a task before submitting.")
            return
        task = opened.task
        label_id = self._label_id or new_label_id()
        self._label_id = label_id

        def done(ack: Any) -> None:
            self._label_id = None
            self.label_submitted.emit(task.task_id, ack.revision)
            self.refresh_tasks()

        self._network.submit(
            f"submit:{task.task_id}",
            lambda: self._labels.submit(task, label_id, text),
            done,
            lambda exc: self.label_failed.emit(user_message(exc)),
        )

    def transcript_edited(self) -> None:
        """A new edit after a failed submit is a new label, not a retry of the old one."""
        self._label_id = None

    # -- events ---------------------------------------------------------------
    def flush_events(self) -> None:
        if self._flush_running or not self._events.pending:
            self.events_state_changed.emit(self._events.pending, self._reachable)
            return
        self._flush_running = True
        self._network.submit("events", self._uploader.flush, self._on_flushed, self._on_flush_error)

    def _on_flushed(self, _sent: int) -> None:
        self._flush_running = False
        self._reachable = True
        self.events_state_changed.emit(self._events.pending, True)

    def _on_flush_error(self, exc: Exception) -> None:
        self._flush_running = False
        self._reachable = not isinstance(exc, api_errors.NetworkError)
        logger.info("event upload deferred: %s", type(exc).__name__)
        self.events_state_changed.emit(self._events.pending, self._reachable)

    @property
    def pending_events(self) -> int:
        return self._events.pending

    # -- shutdown -------------------------------------------------------------
    def shutdown(self) -> None:
        """Zero content, try a last event upload, stop the workers."""
        self._flush_timer.stop()
        self._playhead_timer.stop()
        self.close_segment()
        if self._events.pending and self._api.signed_in:
            self._network.submit("events-final", self._uploader.flush)
        self._downloads.stop()
        self._network.stop()
        self._engine.close()
