"""The transcript editor: a plain-text editor that exports nothing.

Overriding ``createMimeDataFromSelection`` is the one hook that covers copy,
cut, drag and X11 PRIMARY at once (plain ``QPlainTextEdit`` leaks to PRIMARY on
mere selection). No context menu, so no Copy entry; input-method hints ask for
no prediction or learning. ``QLineEdit`` is never used for content: it has no
such hook.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QMimeData, Qt
from PySide6.QtGui import QClipboard, QGuiApplication, QKeyEvent
from PySide6.QtWidgets import QPlainTextEdit, QWidget


def release_clipboard() -> None:
    """Drop whatever (empty) data Cordon put on the clipboard or the X11 selection.

    The editor's copy and selection place an empty ``QMimeData`` there; if the
    clipboard still owns it when Python shuts down, Qt deletes it after the
    interpreter is gone and the process crashes on exit. Call before quitting.
    """
    clipboard = QGuiApplication.clipboard()
    modes = [(QClipboard.Mode.Clipboard, clipboard.ownsClipboard())]
    if clipboard.supportsSelection():
        modes.append((QClipboard.Mode.Selection, clipboard.ownsSelection()))
    for mode, owned in modes:
        data = clipboard.mimeData(mode)
        # Ours is the empty one (some platforms cannot report ownership); clearing
        # an empty clipboard loses nothing of the user's.
        if owned or data is None or not data.formats():
            clipboard.clear(mode)


class TranscriptEditor(QPlainTextEdit):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("transcriptEditor")
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        self.setInputMethodHints(
            Qt.InputMethodHint.ImhSensitiveData | Qt.InputMethodHint.ImhNoPredictiveText
        )
        self.setTabChangesFocus(True)
        self.setPlaceholderText("Type the transcript here.")

    def event(self, event: QEvent) -> bool:
        """Let Tab / Shift+Tab reach the window's region shortcuts instead of moving focus."""
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and event.key() in (Qt.Key.Key_Tab, Qt.Key.Key_Backtab)
        ):
            event.ignore()
            return False
        return super().event(event)

    def createMimeDataFromSelection(self) -> QMimeData:  # noqa: N802 - Qt override
        """Nothing leaves the editor: copy, cut, drag and PRIMARY all get empty data."""
        return QMimeData()

    def clear_content(self) -> None:
        """Drop the text (Qt's undo stack included)."""
        self.clear()
        self.document().clearUndoRedoStacks()
