"""Main window: sign-in page, then task list | waveform, transport, transcript.

Keyboard first (transcribers keep their hands on the keys): Ctrl+Space play or
pause, Alt+Left / Alt+Right skip 2 s, Ctrl+Return submit — all work while
typing in the transcript.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
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

from app.domain.models import Task, User
from app.player.waveform_summary import WaveformSummary
from app.ui.login_page import LoginPage
from app.ui.player_bar import PlayerBar
from app.ui.task_list import TaskList
from app.ui.transcript_editor import TranscriptEditor
from app.ui.waveform_view import WaveformView


class MainWindow(QMainWindow):
    submit_requested = Signal(str)
    close_requested = Signal()

    def __init__(self, accounts: list[str], server: str) -> None:
        super().__init__()
        self.setWindowTitle("Cordon")
        self.resize(1200, 720)
        self.stack = QStackedWidget()
        self.setCentralWidget(self.stack)
        self.login = LoginPage(accounts, server)
        self.stack.addWidget(self.login)

        work = QWidget()
        outer = QHBoxLayout(work)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        outer.addWidget(splitter)
        self.tasks = TaskList()
        splitter.addWidget(self.tasks)
        right = QWidget()
        col = QVBoxLayout(right)
        self.banner = QLabel("")
        self.banner.setObjectName("banner")
        self.banner.setWordWrap(True)
        self.banner.hide()
        col.addWidget(self.banner)
        self.task_title = QLabel("Choose a task.")
        self.task_title.setObjectName("taskTitle")
        col.addWidget(self.task_title)
        self.waveform = WaveformView()
        col.addWidget(self.waveform, 3)
        self.player = PlayerBar()
        col.addWidget(self.player)
        self.editor = TranscriptEditor()
        self.editor.setEnabled(False)
        col.addWidget(self.editor, 2)
        row = QHBoxLayout()
        row.addStretch(1)
        self.submit_button = QPushButton("Submit transcript")
        self.submit_button.setObjectName("submitButton")
        self.submit_button.setEnabled(False)
        row.addWidget(self.submit_button)
        col.addLayout(row)
        splitter.addWidget(right)
        splitter.setSizes([300, 900])
        self.stack.addWidget(work)

        self.user_label = QLabel("")
        self.sync_label = QLabel("")
        self.sync_label.setObjectName("syncLabel")
        self.statusBar().addWidget(self.user_label)
        self.statusBar().addPermanentWidget(self.sync_label)

        self.submit_button.clicked.connect(self._request_submit)
        self._shortcuts = [
            self._shortcut("Ctrl+Space", self.player.play_toggled.emit),
            self._shortcut("Alt+Left", lambda: self.player.skip_requested.emit(-2.0)),
            self._shortcut("Alt+Right", lambda: self.player.skip_requested.emit(2.0)),
            self._shortcut("Ctrl+Return", self._request_submit),
        ]

    def _shortcut(self, keys: str, slot: object) -> QShortcut:
        shortcut = QShortcut(QKeySequence(keys), self)
        shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
        shortcut.activated.connect(slot)
        return shortcut

    # -- state shown --------------------------------------------------------
    def show_signed_in(self, user: User) -> None:
        self.user_label.setText(f"Signed in as {user.display_name}")
        self.stack.setCurrentIndex(1)

    def show_session_expired(self, text: str) -> None:
        """Back to sign-in; the work page (and its transcript) waits behind it."""
        self.stack.setCurrentIndex(0)
        self.login.show_error(text)

    def show_tasks(self, tasks: list[Task]) -> None:
        self.tasks.set_tasks(tasks)

    def show_opening(self, task: Task) -> None:
        self.hide_banner()
        self.task_title.setText(f"Opening {task.title}…")
        self.editor.clear_content()
        self.editor.setEnabled(False)
        self.submit_button.setEnabled(False)
        self.player.set_enabled(False)

    def show_progress(self, received: int, total: int) -> None:
        if total:
            self.task_title.setText(f"Downloading… {100 * received // total} %")

    def show_segment(self, task: Task, summaries: list[WaveformSummary], sample_rate: int) -> None:
        self.task_title.setText(f"{task.title} — {task.project_name}")
        self.waveform.set_audio(summaries, sample_rate)
        self.player.set_duration(summaries[0].length / sample_rate if summaries else 0.0)
        self.player.set_enabled(True)
        self.editor.setEnabled(True)
        self.submit_button.setEnabled(True)
        self.editor.setFocus()

    def show_transcript(self, text: str) -> None:
        if not self.editor.toPlainText():
            self.editor.setPlainText(text)

    def show_closed(self) -> None:
        self.waveform.clear_audio()
        self.editor.clear_content()
        self.editor.setEnabled(False)
        self.submit_button.setEnabled(False)
        self.player.set_enabled(False)
        self.task_title.setText("Choose a task.")

    def show_playback(self, state: str, position: float) -> None:
        self.player.show_state(state, position)
        self.waveform.set_playhead(position)

    def show_submitted(self, revision: int) -> None:
        self.submit_button.setEnabled(True)
        self.show_banner(f"Transcript saved on the server (revision {revision}).", error=False)

    def show_sync(self, pending: int, reachable: bool) -> None:
        state = "online" if reachable else "offline — retrying"
        self.sync_label.setText(f"Server {state} · {pending} events pending")

    def show_banner(self, text: str, *, error: bool = True) -> None:
        colour = "#b91c1c" if error else "#15803d"
        self.banner.setStyleSheet(f"color: white; background: {colour}; padding: 6px;")
        self.banner.setText(text)
        self.banner.show()

    def show_submit_error(self, text: str) -> None:
        self.submit_button.setEnabled(True)
        self.show_banner(text)

    def hide_banner(self) -> None:
        self.banner.hide()

    def _request_submit(self) -> None:
        if not self.submit_button.isEnabled():
            return
        self.submit_button.setEnabled(False)
        self.submit_requested.emit(self.editor.toPlainText())

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        self.close_requested.emit()
        super().closeEvent(event)
