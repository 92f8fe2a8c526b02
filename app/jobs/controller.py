"""The controller: the one object widgets talk to.

It owns the services, the playback engine and two job queues — ``network`` for
small API calls (sign-in, task list, stored transcripts) and ``downloads`` for
segment fetch + decrypt + decode. Labels and access events do not use either:
they go into the encrypted outbox and the delivery thread uploads them.
Results come back as signals on the GUI thread. The controller never holds a
widget; ``app.main`` wires widgets to these signals and slots.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal

from app.api import errors as api_errors
from app.api.client import CordonApi
from app.domain.models import AccessEvent, Task, User
from app.domain.review import QueueFilter
from app.jobs.annotation_ops import AnnotationOps
from app.jobs.comparison_ops import ComparisonOps
from app.jobs.context_ops import ContextOps
from app.jobs.job_queue import JobQueue
from app.jobs.listening_ops import ListeningOps
from app.jobs.manage_ops import ManageOps
from app.jobs.pii_ops import PiiSuggester
from app.jobs.playback_ops import PlaybackOps
from app.jobs.review_ops import ReviewOps
from app.jobs.session_ops import DRAIN_ON_EXIT_S, SessionOps, user_message
from app.player.playback import AudioDeviceError, PlaybackEngine, PlaybackState
from app.services.comparisons import ComparisonService
from app.services.delivery import Delivery, DeliveryState
from app.services.drafts import DraftStore
from app.services.events import EventRecorder
from app.services.labels import LabelService
from app.services.outbox import Outbox
from app.services.review import ReviewService
from app.services.segments import (
    OpenedSegment,
    SegmentCancelledError,
    SegmentOpenError,
    SegmentService,
)
from app.services.session import SessionService
from app.wire.schemas import AccessAction, Outcome

logger = logging.getLogger(__name__)

PLAYHEAD_MS = 16
DECODE_REDRAW_MS = 100


class Controller(
    AnnotationOps,
    ComparisonOps,
    ReviewOps,
    ListeningOps,
    PlaybackOps,
    ManageOps,
    ContextOps,
    SessionOps,  # after the others: its stand-ins for their methods must not win
    QObject,
):
    signed_in = Signal(object)  # User
    sign_in_failed = Signal(str)
    session_expired = Signal(str)
    tasks_loaded = Signal(list)  # list[Task]
    tasks_failed = Signal(str)
    segment_opening = Signal(object)  # Task
    segment_progress = Signal(int, int)  # bytes received, total
    segment_opened = Signal(object)  # OpenedSegment: first audio decoded, playable
    segment_decoding = Signal(object)  # OpenedSegment: more of it decoded (redraw)
    segment_complete = Signal(object)  # OpenedSegment: verified and decoded to the end
    comparison_opened = Signal(object)  # OpenedComparison: an RLHF bundle, in memory
    segment_failed = Signal(str)
    segment_closed = Signal()
    playback_changed = Signal(str, float)  # state, position seconds
    label_saved = Signal(str)  # task id: on this workstation's disk, upload pending
    label_submitted = Signal(str, int)  # task id, revision: stored by the server
    label_failed = Signal(str)
    submit_blocked = Signal(str, str)  # JSON path of the first problem, words for it
    document_loaded = Signal(object)  # DocumentEditor of the open task, or None
    document_changed = Signal()  # the open document was edited
    segments_changed = Signal(object, object)  # DocumentEditor, selected segment id or None
    segment_text_changed = Signal(object, object)  # the same, after a keystroke in a text
    span_tagged = Signal()  # the span marked on the waveform became a PII tag
    draft_conflict = Signal(object)  # WorkChoice: a local draft on an older revision
    draft_saved = Signal(float)  # when the local draft was last sealed to disk
    unheard_changed = Signal(list)  # [(start s, end s)]: required audio not heard yet
    report_loaded = Signal(object)  # ReportOut: a managed project's quality figures
    report_failed = Signal(str)
    plan_loaded = Signal(object)  # ProjectTasksOut: a managed project's tasks and policy
    manage_failed = Signal(str)  # an assignment or policy change refused, in words
    manage_done = Signal(str)  # an assignment or policy change made, in words
    context_changed = Signal(str)  # what the context around a window is doing ("" : back)
    context_failed = Signal(str)  # a context ask or decision refused or failed, in words
    context_ask_wanted = Signal(int)  # the annotator may ask now: up to this many seconds
    context_asks_loaded = Signal(list)  # [PendingContextOut]: a reviewer's pending asks
    context_decided = Signal(str)  # a reviewer's decision taken, in words
    review_loaded = Signal(object)  # Review of the open task, or None
    review_failed = Signal(str)  # a review step refused or failed, in words
    review_done = Signal(str)  # a review step taken, in words
    player_settings_changed = Signal(float, float, bool)  # speed, volume, looping
    delivery_changed = Signal(int, int, str, int)  # events, labels pending; link; parked
    locked = Signal(str)  # why: the session was locked and content wiped
    wiped = Signal(str)  # this workstation was revoked: content zeroed, keys being deleted
    wipe_done = Signal(object)  # WipeReport (or None): keys and files deleted
    _revoked_from_worker = Signal()  # push channel or a 403 device_revoked, any thread
    _signed_out_from_worker = Signal()  # push channel: the person was disabled
    _wiped_from_worker = Signal(object)  # WipeReport, wipe thread -> GUI thread
    _ready_from_worker = Signal(object)  # decoder thread -> GUI thread
    _delivery_from_worker = Signal(object)  # DeliveryState, delivery thread -> GUI thread
    _label_from_worker = Signal(object)  # LabelResult, delivery thread -> GUI thread
    _saved_from_worker = Signal(str, int, object)  # task, generation, OutboxWriteError | None
    _draft_saved_from_worker = Signal(float)  # drafts thread -> GUI thread
    _auth_from_worker = Signal(object)  # AuthenticationError from the delivery thread

    def __init__(
        self,
        api: CordonApi,
        session: SessionService,
        segments: SegmentService,
        comparisons: ComparisonService,
        labels: LabelService,
        events: EventRecorder,
        engine: PlaybackEngine,
        outbox: Outbox,
        drafts: DraftStore,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._api = api
        self._session = session
        self._segments = segments
        self._comparisons = comparisons
        self._labels = labels
        self._events = events
        self._outbox = outbox
        self._drafts = drafts
        self._delivery = Delivery(
            outbox,
            api,
            on_state=self._delivery_from_worker.emit,
            on_label=self._label_from_worker.emit,
            on_auth_error=self._auth_from_worker.emit,
        )
        self._engine = engine
        self._network = JobQueue("cordon-network", api.close, self)
        self._downloads = JobQueue("cordon-downloads", api.close, self)
        #: The server's PII proposals for the document being edited.
        self.pii = PiiSuggester(
            api, self._network, lambda: (self._editable(), self._editor_task),
            self._segments_changed, self,
        )  # fmt: skip
        self._opened: OpenedSegment | None = None
        self._opening: tuple[Task, threading.Event] | None = None
        self._channel_gains: list[float] = []
        self._locked = False  # locked; the worker drops the token after the queued uploads
        self._shut_down = False
        self._last_state: tuple[str, float] = ("stopped", 0.0)
        self._ready_from_worker.connect(self._on_ready)
        self._delivery_from_worker.connect(self._on_delivery_state)
        self._label_from_worker.connect(self._on_label_result)
        self._init_annotation()
        self._init_comparisons()
        self._init_context()
        self._init_listening()
        self._review_service = ReviewService(api)
        self._queue_filter = QueueFilter()
        self._init_review()
        self._auth_from_worker.connect(self._expire_session)
        self._init_session()
        self._delivery.start()
        self._playhead_timer = self._timer(PLAYHEAD_MS, self._poll_playback)
        self._decode_timer = self._timer(DECODE_REDRAW_MS, self._poll_decoding)

    def _timer(self, interval_ms: int, slot: Any) -> QTimer:
        timer = QTimer(self)
        timer.setInterval(interval_ms)
        timer.timeout.connect(slot)
        timer.start()
        return timer

    # -- session --------------------------------------------------------------
    @property
    def user(self) -> User | None:
        return self._session.user

    def _user_id(self) -> str:
        user = self._session.user
        return user.user_id if user is not None else ""

    @property
    def accounts(self) -> list[str]:
        return self._session.authenticator.accounts

    @property
    def opened(self) -> OpenedSegment | None:
        return self._opened

    @property
    def is_signed_in(self) -> bool:
        return self._session.user is not None and not self._locked

    @property
    def session_id(self) -> str:
        credentials = self._session.credentials
        return credentials.session_id if credentials else ""

    def refresh_tasks(self) -> None:
        """Reload the task list (not after shutdown: a label acknowledged while the
        client was closing asked for a refresh from a stopped queue)."""
        if self._shut_down:
            return
        queue = self._queue_filter
        self._network.submit(
            "tasks", lambda: self._session.tasks(queue), self.tasks_loaded.emit, self._tasks_error
        )

    @property
    def reviews(self) -> bool:
        """The user reviews at least one project (the task list shows their queue)."""
        return self._session.reviews

    @property
    def managed_projects(self) -> list[str]:
        """Projects whose quality report the user may read (a manager's)."""
        return self._session.managed_projects

    def filter_queue(self, queue: QueueFilter) -> None:
        """Show the review queue by status and annotator (the server filters it)."""
        self._queue_filter = queue
        self.refresh_tasks()

    def _tasks_error(self, exc: Exception) -> None:
        if isinstance(exc, api_errors.AuthenticationError):
            self._expire_session(exc)
        else:
            self.tasks_failed.emit(user_message(exc))

    # -- segments -------------------------------------------------------------
    def _current_task_id(self) -> str | None:
        task = self._current_task()
        return task.task_id if task is not None else None

    def _current_task(self) -> Task | None:
        """The task opening or open: a segment or a comparison."""
        if self._opening is not None:
            return self._opening[0]
        if self._opened is not None:
            return self._opened.task
        return self._comparison.task if self._comparison is not None else None

    def open_task(self, task: Task) -> None:
        """Close what is open (or still opening), then stream ``task`` on the download worker.

        The task already open (or opening) is left as it is: a second click on it must
        not reload it and throw away what was typed.
        """
        if self._shut_down or self._current_task_id() == task.task_id:
            return
        self.close_segment()
        cancel = threading.Event()
        self._opening = (task, cancel)
        self._channel_gains = []
        self.segment_opening.emit(task)
        self._load_work(task)
        self._load_review(task)
        self._load_coverage(task)
        if task.is_comparison:
            self._open_comparison(task, cancel)
            return
        self._downloads.submit(
            f"open:{task.task_id}",
            lambda: self._segments.open(
                task, self._ready_from_worker.emit, self.segment_progress.emit, cancel
            ),
            self._on_complete,
            lambda exc: self._on_open_error(task, cancel, exc),
        )

    def _on_ready(self, opened: OpenedSegment) -> None:
        opening = self._opening
        if self._shut_down or opened.cancelled or opening is None or opening[0] is not opened.task:
            opened.close()
            return
        self._opening = None
        self._opened = opened
        try:
            self._engine.load(opened.audio)
        except AudioDeviceError as exc:
            self.record(AccessAction.AUDIO_DEVICE_FAILED, Outcome.FAILED, "no_output")
            self.segment_opened.emit(opened)
            self.segment_failed.emit(exc.user_message)
            return
        self.segment_opened.emit(opened)

    def _on_complete(self, opened: OpenedSegment) -> None:
        if opened is self._opened:
            self.segment_complete.emit(opened)
        else:
            opened.close()  # superseded or cancelled meanwhile

    def _on_open_error(self, task: Task, cancel: threading.Event, exc: Exception) -> None:
        if self._opening is not None and self._opening[1] is cancel:  # this attempt, not a reopen
            self._opening = None
        if isinstance(exc, SegmentCancelledError):
            return
        if self._opened is not None and self._opened.task is task and not cancel.is_set():
            self.close_segment()  # failed after playback had started: nothing unverified stays
        if isinstance(exc, SegmentOpenError) and isinstance(
            exc.__cause__, api_errors.AuthenticationError
        ):
            self._expire_session(exc.__cause__)
            return
        if not isinstance(exc, SegmentOpenError):
            logger.error("opening a segment failed: %s", type(exc).__name__)
        self.segment_failed.emit(user_message(exc))

    def _poll_decoding(self) -> None:
        opened = self._opened
        if opened is not None and not opened.complete:
            self.segment_decoding.emit(opened)

    def close_segment(self) -> None:
        """Cancel what is opening; stop playback and zero what is open."""
        if self._opening is not None:
            self._opening[1].set()
            self._opening = None
        self._drop_context()
        self._drop_editor()
        self._drop_review()
        self._drop_listening()
        if self._close_comparison():
            return
        opened = self._opened
        if opened is None:
            return
        self.record(AccessAction.SEGMENT_CLOSED)
        self._opened = None
        self._engine.unload()
        opened.close()
        self.segment_closed.emit()

    # -- playback -------------------------------------------------------------
    def _position_ms(self) -> int:
        rate = self._engine.sample_rate
        return int(self._engine.position_frames * 1000 / rate) if rate else 0

    def record(
        self, action: AccessAction, outcome: Outcome = Outcome.OK, reason: str | None = None
    ) -> None:
        """Record an access event about the open segment (if any): ids, never content."""
        task = self._opened.task if self._opened else None
        if task is None and self._comparison is not None:
            task = self._comparison.task
        position = self._position_ms() if task else None
        self._events.record(
            AccessEvent(
                action,
                task.task_id if task else None,
                task.segment_id if task else None,
                position,
                outcome,
                reason,
            )
        )
        if task is not None and task.task_id == self._listening.task_id and position is not None:
            self._listening.note(action.value, position, reason)
            self._emit_unheard()

    def pause(self) -> None:
        """Pause if playing (the curtain came down, or the session is locking)."""
        if self._engine.state is PlaybackState.PLAYING:
            self._engine.pause()
            self.record(AccessAction.PLAYBACK_PAUSED)

    # -- delivery -------------------------------------------------------------
    def _on_delivery_state(self, state: DeliveryState) -> None:
        self.delivery_changed.emit(state.events, state.labels, state.link.value, state.parked)

    def retry_delivery(self) -> None:
        """Try the server now instead of waiting out the backoff (it may be back)."""
        self._delivery.wake()

    @property
    def pending_labels(self) -> int:
        """Transcripts saved here but not yet stored by the server."""
        return self._outbox.counts()[1]

    # -- shutdown -------------------------------------------------------------
    def shutdown(self) -> None:
        """Zero content, try a last upload, stop the workers, close the outbox. Runs once."""
        if self._shut_down:
            return
        self._shut_down = True
        self.cancel_sign_in()  # a sign-in waiting for the browser must not hold the exit
        self._watch.stop()
        for timer in (self._playhead_timer, self._decode_timer, self._renewal):
            timer.stop()
        self.close_segment()
        self._drafts.close()  # the last draft is on disk before the process ends
        if self._api.signed_in and not self._locked:
            self._delivery.drain(DRAIN_ON_EXIT_S)  # what is left waits, encrypted, for next time
        self._delivery.stop()
        downloads_stopped = self._downloads.stop()
        network_stopped = self._network.stop()
        self._outbox.close()
        stopped = downloads_stopped and network_stopped
        # Deliver results that finished meanwhile: a late segment is closed (zeroed) here.
        QCoreApplication.sendPostedEvents()
        self._engine.close()
        if not stopped:
            logger.error("a worker did not stop in time; it is left to finish")
