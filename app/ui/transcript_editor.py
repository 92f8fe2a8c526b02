"""The transcript editor: a plain-text editor that exports nothing.

Overriding ``createMimeDataFromSelection`` is the one hook that covers copy,
cut, drag and X11 PRIMARY at once (plain ``QPlainTextEdit`` leaks to PRIMARY on
mere selection). No context menu, so no Copy entry; input-method hints ask for
no prediction or learning. ``QLineEdit`` is never used for content: it has no
such hook.

Copy and paste follow policy. With ``in_app_clipboard`` on, Copy and Cut fill
an :class:`InAppClipboard` (a Python string that never reaches ``QClipboard``)
and Paste inserts from it; ``paste_into_editor`` decides whether the system
clipboard and drops may come *in*. Every refused attempt is reported through
``blocked`` so the controller can audit it.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QMimeData, Qt, Signal
from PySide6.QtGui import QClipboard, QGuiApplication, QKeyEvent, QKeySequence
from PySide6.QtWidgets import QPlainTextEdit, QWidget


class InAppClipboard:
    """Copy/paste inside Cordon only. Cleared at lock and sign-out."""

    def __init__(self) -> None:
        self.text = ""

    def clear(self) -> None:
        self.text = ""


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


def copy_or_cut(event: QKeyEvent) -> str | None:
    """``"copy"`` or ``"cut"`` if the key press is that platform shortcut."""
    if event.matches(QKeySequence.StandardKey.Copy):
        return "copy"
    if event.matches(QKeySequence.StandardKey.Cut):
        return "cut"
    return None


class TranscriptEditor(QPlainTextEdit):
    #: An attempt the policy refused: (access action, reason code).
    blocked = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.in_app: InAppClipboard | None = None  # policy in_app_clipboard
        self.paste_policy = "in_app"  # policy paste_into_editor
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

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        kind = copy_or_cut(event)
        if kind is not None:
            event.accept()
            cursor = self.textCursor()
            if self.in_app is None:
                self.blocked.emit("clipboard_blocked", kind)
            elif cursor.hasSelection():
                # QTextCursor uses U+2029 between paragraphs; keep real newlines.
                self.in_app.text = cursor.selectedText().replace("\u2029", "\n")
                if kind == "cut":
                    cursor.removeSelectedText()
            return
        if event.matches(QKeySequence.StandardKey.Paste) and self.paste_policy != "system":
            event.accept()
            if self.paste_policy == "in_app" and self.in_app is not None:
                self.insertPlainText(self.in_app.text)
            else:
                self.blocked.emit("paste_blocked", "paste")
            return
        super().keyPressEvent(event)

    def createMimeDataFromSelection(self) -> QMimeData:  # noqa: N802 - Qt override
        """Nothing leaves the editor: copy, cut, drag and PRIMARY all get empty data."""
        return QMimeData()

    def canInsertFromMimeData(self, source: QMimeData) -> bool:  # noqa: N802 - Qt override
        """Drops and middle-click paste come in only if policy lets the system clipboard in.

        Our own (empty) drag data is never accepted: a refused drop leaves the
        dragged text where it was instead of deleting it.
        """
        if not source.formats():
            return False
        return self.paste_policy == "system" and super().canInsertFromMimeData(source)

    def insertFromMimeData(self, source: QMimeData) -> None:  # noqa: N802 - Qt override
        if self.paste_policy == "system":
            super().insertFromMimeData(source)
        elif source.formats():
            self.blocked.emit("paste_blocked", "drop")

    def clear_content(self) -> None:
        """Drop the text (Qt's undo stack included)."""
        self.clear()
        self.document().clearUndoRedoStacks()
