"""Main window: sign-in page, then task list | waveform, transport, annotation workspace.

Keyboard first (transcribers keep their hands on the keys): every action in
:mod:`app.ui.shortcuts` has a key that works while typing a segment's text
(F1 lists them; they can be remapped), and the project schema's hotkeys set
speakers, labels and PII (:mod:`app.ui.annotation_panel`). Zooming is handled
here, because it changes only the view; everything else goes out as
``action_triggered``.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QFontMetrics, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.domain.comparison import Comparison
from app.domain.models import Task, User
from app.player.waveform_summary import WaveformSummary
from app.services.annotation import DocumentEditor
from app.ui.annotation_panel import AnnotationPanel
from app.ui.comparison_panel import ComparisonPanel
from app.ui.curtain import Curtain
from app.ui.login_page import LoginPage
from app.ui.overview_view import OverviewView
from app.ui.player_bar import PlayerBar
from app.ui.queue_filter import QueueFilterBar
from app.ui.quit_warning import ask_to_quit, sync_words
from app.ui.review_panel import ReviewPanel
from app.ui.shortcut_dialogs import ShortcutEditor, ShortcutSheet
from app.ui.shortcuts import ACTIONS, EDITOR_ACTIONS, Keymap
from app.ui.task_list import TaskList
from app.ui.watermark import Watermark
from app.ui.waveform_view import WaveformView
from app.wire.schemas import Role

#: How long good news (saved, submitted) stays in the banner; errors stay until replaced.
BANNER_GOOD_NEWS_MS = 10_000
#: The waveform keeps at least this height, whatever the panel under it holds.
WAVEFORM_MIN_PX = 160
#: The task list never gets narrower than this (room for a title and its details line).
TASK_LIST_MIN_PX = 280

_SKIPS = {
    "skip_back": -2.0,
    "skip_forward": 2.0,
    "skip_back_large": -10.0,
    "skip_forward_large": 10.0,
}


class MainWindow(QMainWindow):
    submit_requested = Signal()
    close_requested = Signal()
    action_triggered = Signal(str)  # an action id from app.ui.shortcuts
    minimized = Signal()
    sign_out_requested = Signal()
    #: A copy refused in one of the window's dialogs (access action, reason): audited
    #: like one refused in the window.
    dialog_blocked = Signal(str, str)

    def __init__(
        self,
        accounts: list[str],
        server: str,
        keymap: Keymap | None = None,
        watermark_opacity: int = 14,
    ) -> None:
        super().__init__()
        self.keymap = keymap or Keymap()
        self.setWindowTitle("Cordon")
        self.resize(1200, 720)
        self.stack = QStackedWidget()
        self.setCentralWidget(self.stack)
        self.login = LoginPage(accounts, server)
        self.stack.addWidget(self.login)
        work = self._build_work_page()
        self.stack.addWidget(work)
        # Sensitive views: the work page carries the watermark; the curtain covers it all.
        self.watermark = Watermark(work, watermark_opacity)
        self.curtain = Curtain(self.stack)

        self.region_label = QLabel("")
        self.statusBar().addWidget(self.region_label)
        self.draft_label = QLabel("")
        self.draft_label.setObjectName("draftLabel")
        self.statusBar().addWidget(self.draft_label)
        self.progress_label = QLabel("")
        self.progress_label.setObjectName("progressLabel")
        self.statusBar().addWidget(self.progress_label)
        self.user_label = QLabel("")
        self.sync_label = QLabel("")
        self.sync_label.setObjectName("syncLabel")
        self.statusBar().addWidget(self.user_label)
        self.statusBar().addPermanentWidget(self.sync_label)
        # Titles, names and server words are data, never markup: a QLabel would
        # otherwise render a title like "<img src=…>" as rich text.
        for label in (self.banner, self.task_title, self.progress_label, self.user_label):
            label.setTextFormat(Qt.TextFormat.PlainText)
        self.task_title.setWordWrap(True)  # a long hint wraps instead of widening the window

        self._build_menu()
        self.submit_button.clicked.connect(self._request_submit)
        self.player.loop_toggled.connect(lambda: self.action_triggered.emit("loop"))
        self._shortcuts: dict[str, QShortcut] = {}
        self.apply_keymap()
        self._pending_labels = 0
        self._quit_confirmed = False
        self._next_hint = False  # the next task was selected after a submit

    def _build_menu(self) -> None:
        """Settings, shortcuts, sign out and quit, where a new user looks for them.

        The entries carry no key bindings of their own (the window's shortcuts,
        remappable in F1, already do), so nothing is bound twice.
        """
        menu = self.menuBar().addMenu("&Cordon")
        menu.setObjectName("cordonMenu")
        settings = menu.addAction("Security settings…")
        settings.triggered.connect(lambda: self.action_triggered.emit("security_settings"))
        self.report_action = menu.addAction("Project report…")
        self.report_action.setVisible(False)  # shown to a project's managers
        self.report_action.triggered.connect(lambda: self.action_triggered.emit("project_report"))
        self.manage_action = menu.addAction("Manage project…")
        self.manage_action.setVisible(False)  # shown to a project's managers
        self.manage_action.triggered.connect(lambda: self.action_triggered.emit("manage_project"))
        shortcuts = menu.addAction("Keyboard shortcuts…")
        shortcuts.triggered.connect(self.show_shortcut_sheet)
        menu.addSeparator()
        self.sign_out_action = menu.addAction("Sign out")
        self.sign_out_action.setEnabled(False)
        self.sign_out_action.triggered.connect(self.sign_out_requested.emit)
        quit_action = menu.addAction("Quit")
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)

    def _build_work_page(self) -> QWidget:
        work = QWidget()
        outer = QHBoxLayout(work)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        outer.addWidget(splitter)
        splitter.addWidget(self._build_task_column())
        right = QWidget()
        col = QVBoxLayout(right)
        # The banner keeps its room (two lines) whether or not it says something, so
        # nothing below it moves when it appears; good news clears itself.
        self.banner = QLabel("")
        self.banner.setObjectName("banner")
        self.banner.setWordWrap(True)
        self.banner.setFixedHeight(2 * QFontMetrics(self.banner.font()).lineSpacing() + 12)
        col.addWidget(self.banner)
        self._banner_clear = QTimer(self)
        self._banner_clear.setSingleShot(True)
        self._banner_clear.setInterval(BANNER_GOOD_NEWS_MS)
        self._banner_clear.timeout.connect(self.hide_banner)
        self.task_title = QLabel("Choose a task.")
        self.task_title.setObjectName("taskTitle")
        col.addWidget(self.task_title)
        self.waveform = WaveformView()
        self.waveform.setMinimumHeight(WAVEFORM_MIN_PX)  # the work area below never squeezes it
        col.addWidget(self.waveform, 3)
        self.overview = OverviewView()
        col.addWidget(self.overview)
        self.waveform.visible_changed.connect(self.overview.set_window)
        self.overview.window_moved.connect(self._show_window)
        self.overview.centre_requested.connect(self._centre_on)
        self.player = PlayerBar()
        col.addWidget(self.player)
        self.annotation = AnnotationPanel()
        self.comparison = ComparisonPanel()
        #: Under the player: the annotation workspace, or an RLHF comparison.
        self.work_area = QStackedWidget()
        self.work_area.addWidget(self.annotation)
        self.work_area.addWidget(self.comparison)
        #: The selected segment's text (the editor the keyboard lands in).
        self.editor = self.annotation.text
        self.editor.split_requested.connect(lambda: self.action_triggered.emit("split_segment"))
        col.addWidget(self.work_area, 2)
        self.review = ReviewPanel(action_requested=self.action_triggered.emit)
        col.addWidget(self.review, 1)
        row = QHBoxLayout()
        row.addStretch(1)
        self.submit_button = QPushButton("Submit task")
        self.submit_button.setObjectName("submitButton")
        self.submit_button.setEnabled(False)
        row.addWidget(self.submit_button)
        col.addLayout(row)
        splitter.addWidget(right)
        splitter.setSizes([300, 900])
        splitter.setStretchFactor(0, 0)  # a wider window widens the work, not the list
        splitter.setStretchFactor(1, 1)
        return work

    def _build_task_column(self) -> QWidget:
        """The task list, under the review queue's filter (shown to reviewers only)."""
        self.tasks = TaskList()
        self.tasks.setMinimumWidth(TASK_LIST_MIN_PX)
        self.queue_filter = QueueFilterBar()
        left = QWidget()
        col = QVBoxLayout(left)
        col.setContentsMargins(0, 0, 0, 0)
        col.addWidget(self.queue_filter)
        col.addWidget(self.tasks, 1)
        return left

    def apply_keymap(self) -> None:
        """(Re)create one window-wide shortcut per action from the keymap."""
        for shortcut in self._shortcuts.values():
            shortcut.setEnabled(False)
            shortcut.deleteLater()
        self._shortcuts = {}
        for spec in ACTIONS:
            # Enter splits only while typing a segment's text: elsewhere it opens a task.
            in_editor = spec.action_id in EDITOR_ACTIONS
            shortcut = QShortcut(
                self.keymap.key(spec.action_id), self.editor if in_editor else self
            )
            shortcut.setContext(
                Qt.ShortcutContext.WidgetShortcut
                if in_editor
                else Qt.ShortcutContext.WindowShortcut
            )
            shortcut.activated.connect(lambda a=spec.action_id: self._on_action(a))
            self._shortcuts[spec.action_id] = shortcut
        keys = {
            a: s.key().toString(QKeySequence.SequenceFormat.NativeText)
            for a, s in self._shortcuts.items()
        }
        self.player.set_tooltips(keys)
        self.review.set_tooltips(keys)

    def _on_action(self, action_id: str) -> None:
        """The actions that only change this window; the rest go to the controller."""
        view = self.waveform
        local: dict[str, Callable[[], object]] = {
            "play_pause": self.player.play_toggled.emit,
            "zoom_in": lambda: view.zoom(0.5, view.playhead.value()),
            "zoom_out": lambda: view.zoom(2.0, view.playhead.value()),
            "zoom_fit": view.zoom_fit,
            "toggle_spectrogram": lambda: view.set_spectrogram(not view.spectrogram_shown),
            "submit": self._request_submit,
            "shortcut_sheet": self.show_shortcut_sheet,
            "focus_fields": self._focus_fields,
            "review_filter": self.queue_filter.focus,
        }
        tab = action_id in ("next_region", "previous_region")
        if action_id in _SKIPS:
            self.player.skip_requested.emit(_SKIPS[action_id])
        elif action_id in local:
            local[action_id]()
        elif tab and self.annotation.fields_have_focus():  # Tab moves between task fields
            self.annotation.fields.focusNextPrevChild(action_id == "next_region")
        else:
            self.action_triggered.emit(action_id)

    def _focus_fields(self) -> None:
        """Ctrl+T: the task fields, or a comparison's reason (pairwise) or ranking."""
        if self.work_area.currentIndex() == 1:
            self.comparison.focus_input()
        else:
            self.annotation.focus_fields()

    def show_shortcut_sheet(self) -> None:
        sheet = ShortcutSheet(self.keymap, self)
        sheet.change_button.clicked.connect(lambda: self._edit_shortcuts(sheet))
        sheet.open()

    def _edit_shortcuts(self, sheet: ShortcutSheet) -> None:
        sheet.close()
        editor = ShortcutEditor(self.keymap, self)
        editor.accepted.connect(self.apply_keymap)
        editor.open()

    def _show_window(self, start: float, end: float) -> None:
        if end > start:
            self.waveform.setXRange(start, end, padding=0)

    def _centre_on(self, seconds: float) -> None:
        x0, x1 = self.waveform.visible_seconds()
        self._show_window(seconds - (x1 - x0) / 2, seconds + (x1 - x0) / 2)

    def show_document(self, editor: DocumentEditor | None) -> None:
        """The open task's document arrived (or went): fields, hotkeys, segments."""
        comparing = editor is not None and editor.kind != "transcription"
        self.work_area.setCurrentIndex(1 if comparing else 0)
        self.annotation.show_document(None if comparing else editor)
        self.annotation.install_hotkeys(self, self._key_taken)
        self.comparison.show_document(editor if comparing else None)
        self.comparison.install_keys(self, comparing)
        if self.annotation.hotkey_conflicts:
            self.statusBar().showMessage(
                "Project hotkeys already used by your shortcuts: "
                + ", ".join(self.annotation.hotkey_conflicts), BANNER_GOOD_NEWS_MS,
            )  # fmt: skip
        self.draft_label.setText("")
        self.show_segments(editor, None)
        if editor is not None and editor.read_only:
            self.submit_button.setEnabled(False)
            self.submit_button.setToolTip("Open for review: the annotator's document, read-only.")

    def _key_taken(self, key: str) -> bool:
        wanted = QKeySequence(key).toString()
        return any(s.key().toString() == wanted for s in self._shortcuts.values())

    def show_segments(self, editor: DocumentEditor | None, selected: str | None) -> None:
        """Redraw the segments everywhere: waveform, overview, list and text."""
        if editor is None:
            self.waveform.set_segments((), (), 1, ())
            self.overview.set_segments((), (), 1, ())
            self.annotation.show_segments(None, None)
            self.region_label.setText("")
            return
        speakers = [s.name for s in editor.schema.speakers]
        segments, pii = editor.segments, editor.pii
        self.waveform.set_segments(segments, pii, editor.rate, speakers, selected)
        self.overview.set_segments(segments, pii, editor.rate, speakers)
        self.annotation.show_segments(editor, selected)
        self.region_label.setText(f"{len(segments)} segments" if segments else "")

    def show_comparison(self, task: Task, comparison: Comparison) -> None:
        """An RLHF comparison is open: its texts shown, its clips play on request."""
        self.task_title.setText(f"{task.title} — {task.project_name} ({comparison.kind})")
        self.comparison.show_comparison(comparison)
        self.work_area.setCurrentIndex(1)
        self.player.set_enabled(True)
        self.submit_button.setEnabled(task.role is Role.ANNOTATOR)
        self.comparison.ranking.setFocus()

    def show_clip(self, summaries: list[WaveformSummary], sample_rate: int) -> None:
        """The comparison clip being played, in the waveform and overview."""
        self.waveform.set_audio(summaries, sample_rate)
        self.overview.set_audio(summaries, sample_rate)
        self.player.set_duration(summaries[0].length / sample_rate if summaries else 0.0)
        self.player.set_channels(len(summaries))

    def show_segment_text(self, editor: DocumentEditor, selected: str | None) -> None:
        """A keystroke in a segment's text: its list row and the text; no redraw of audio."""
        self.annotation.show_segments(editor, selected)

    def show_draft_saved(self, when: str) -> None:
        self.draft_label.setText(f"Draft saved {when}")

    def zoom_to_region(self, start: float, end: float) -> None:
        self.waveform.zoom_to(start, end)

    # -- state shown --------------------------------------------------------
    def show_locked(self, message: str) -> None:
        """Idle lock: content is gone; back to sign-in."""
        self.tasks.clear()
        self.show_document(None)
        self.show_session_expired(message)

    def show_signed_in(self, user: User) -> None:
        self.hide_banner()  # what the last session was told is not this one's news
        self.user_label.setText(f"Signed in as {user.display_name}")
        self.stack.setCurrentIndex(1)
        self.sign_out_action.setEnabled(True)

    def show_session_expired(self, text: str) -> None:
        """Back to sign-in; the work page (and its transcript) waits behind it."""
        self.user_label.setText("Signed out")
        self.stack.setCurrentIndex(0)
        self.sign_out_action.setEnabled(False)
        self.login.show_error(text)

    def show_tasks(self, tasks: list[Task], reviews: bool = False) -> None:
        """The task list; ``reviews``: the user reviews, so the queue filter is shown."""
        self.queue_filter.show_tasks(tasks, reviews)
        self.tasks.set_tasks(tasks)

    def show_opening(self, task: Task) -> None:
        self.hide_banner()
        self.task_title.setText(f"Opening {task.title}…")
        self.submit_button.setEnabled(False)
        self.player.set_enabled(False)

    def show_progress(self, received: int, total: int) -> None:
        """Download progress in the status bar: the title names the task as soon as it plays."""
        if total:
            done = received >= total
            self.progress_label.setText("" if done else f"Receiving… {100 * received // total} %")

    def show_segment(self, task: Task, summaries: list[WaveformSummary], sample_rate: int) -> None:
        self.task_title.setText(f"{task.title} — {task.project_name}")
        self.overview.set_audio(summaries, sample_rate)
        self.waveform.set_audio(summaries, sample_rate)
        self.player.set_duration(summaries[0].length / sample_rate if summaries else 0.0)
        self.player.set_channels(len(summaries))
        self.player.set_enabled(True)
        self.submit_button.setEnabled(not self.annotation.read_only)
        self.annotation.table.setFocus()

    def refresh_audio(self) -> None:
        """More of the segment has been decoded: redraw both views."""
        self.waveform.refresh()
        self.overview.refresh()

    def show_closed(self) -> None:
        self.progress_label.setText("")
        self.waveform.clear_audio()
        self.overview.clear_audio()
        self.comparison.show_comparison(None)
        self.submit_button.setEnabled(False)
        self.player.set_enabled(False)
        self.player.set_duration(0.0)  # no length of a closed task left on screen
        self.task_title.setText("Choose a task.")

    def show_playback(self, state: str, position: float) -> None:
        self.player.show_state(state, position)
        self.waveform.set_playhead(position, follow=state == "playing")
        self.overview.set_playhead(position)

    def show_submitted(self, revision: int) -> None:
        self.submit_button.setEnabled(True)
        text = f"Annotation stored on the server (revision {revision})."
        if self._next_hint and self.tasks.hasFocus():  # the next task still waits for Enter
            text += " Press Enter to open the next task."
        self.show_banner(text, error=False)

    def show_saved(self) -> None:
        """Saved locally: say so, and put the next task one key (Enter) away."""
        self.submit_button.setEnabled(True)
        text = "Submitted: saved on this workstation (encrypted); uploading…"
        self._next_hint = self.tasks.select_next_open()
        if self._next_hint:
            text += " Press Enter to open the next task."
        self.show_banner(text, error=False)

    def show_sync(self, events: int, labels: int, link: str, parked: int = 0) -> None:
        """Connection state and what waits in the outbox; remembered for the quit warning.

        Parked entries (the server keeps failing on them) are named apart: they are
        safe in the outbox and retried later, but someone may need to look at the server.
        """
        self._pending_labels = labels
        self.sync_label.setText(sync_words(events, labels, link, parked))

    def quit_without_asking(self) -> None:
        """The next close skips the pending-annotations question (SIGTERM, shutdown)."""
        self._quit_confirmed = True

    def show_banner(self, text: str, *, error: bool = True) -> None:
        """An error stays until the next message; good news clears after a while."""
        colour = "#b91c1c" if error else "#15803d"
        self.banner.setStyleSheet(f"color: white; background: {colour}; padding: 6px;")
        self.banner.setText(text)
        if error:
            self._banner_clear.stop()
        else:
            self._banner_clear.start()

    def show_submit_error(self, text: str) -> None:
        self.submit_button.setEnabled(True)
        self.show_banner(text)

    def hide_banner(self) -> None:
        self._banner_clear.stop()
        self.banner.setStyleSheet("")
        self.banner.clear()

    def _request_submit(self) -> None:
        if not self.submit_button.isEnabled():
            return
        self.submit_button.setEnabled(False)
        self.submit_requested.emit()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.WindowStateChange and self.isMinimized():
            self.minimized.emit()
        super().changeEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if self._pending_labels and not self._quit_confirmed:
            event.ignore()  # ask first; the answer closes again or not
            self._ask_to_quit()
            return
        self.close_requested.emit()
        self.waveform.dispose()
        self.overview.dispose()
        super().closeEvent(event)

    def _ask_to_quit(self) -> None:
        """Annotations not yet on the server: say where they are before quitting."""

        def confirmed() -> None:
            self._quit_confirmed = True
            self.close()

        ask_to_quit(self, self._pending_labels, confirmed)
