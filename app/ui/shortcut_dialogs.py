"""The shortcut sheet (F1) and the dialog that remaps keys."""

from __future__ import annotations

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QKeySequenceEdit,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.ui.shortcuts import ACTIONS, Keymap


def _fit(table: QTableWidget) -> None:
    table.verticalHeader().hide()
    table.resizeColumnsToContents()
    table.horizontalHeader().setStretchLastSection(True)


MOUSE_HELP = (
    "Mouse on the waveform: click to seek, drag to draw a region, drag a region's body "
    "or edges to move or resize it, Ctrl+drag or middle-drag to pan, wheel to zoom. "
    "On the overview below it: drag the window to pan, its edges to zoom, click to jump."
)


class ShortcutSheet(QDialog):
    """Every action and its key, read-only; 'Change keys…' opens the remap dialog."""

    def __init__(self, keymap: Keymap, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Cordon keyboard shortcuts")
        layout = QVBoxLayout(self)
        self.table = QTableWidget(len(ACTIONS), 2)
        self.table.setHorizontalHeaderLabels(["Action", "Key"])
        for row, spec in enumerate(ACTIONS):
            self.table.setItem(row, 0, QTableWidgetItem(spec.title))
            key = keymap.key(spec.action_id).toString(QKeySequence.SequenceFormat.NativeText)
            self.table.setItem(row, 1, QTableWidgetItem(key))
        _fit(self.table)
        layout.addWidget(self.table)
        self.mouse_help = QLabel(MOUSE_HELP)
        self.mouse_help.setWordWrap(True)
        layout.addWidget(self.mouse_help)
        self.resize(520, 680)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.change_button = buttons.addButton(
            "Change keys…", QDialogButtonBox.ButtonRole.ActionRole
        )
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)


class ShortcutEditor(QDialog):
    """Remap keys; refuses to save two actions on one key."""

    def __init__(self, keymap: Keymap, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Change keyboard shortcuts")
        self._keymap = keymap
        layout = QVBoxLayout(self)
        self.table = QTableWidget(len(ACTIONS), 2)
        self.table.setHorizontalHeaderLabels(["Action", "Key"])
        self.editors: dict[str, QKeySequenceEdit] = {}
        for row, spec in enumerate(ACTIONS):
            self.table.setItem(row, 0, QTableWidgetItem(spec.title))
            edit = QKeySequenceEdit(keymap.key(spec.action_id))
            edit.setMaximumSequenceLength(1)
            self.table.setCellWidget(row, 1, edit)
            self.editors[spec.action_id] = edit
        _fit(self.table)
        layout.addWidget(self.table)
        self.resize(560, 680)
        self.message = QLabel("")
        layout.addWidget(self.message)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults
        )
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        restore = buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults)
        restore.clicked.connect(self.restore_defaults)
        layout.addWidget(buttons)

    def save(self) -> None:
        chosen: dict[str, str] = {}
        for action_id, edit in self.editors.items():
            text = edit.keySequence().toString()
            if text and text in chosen:
                self.message.setText(f"{text} is used twice; choose another key.")
                return
            if text:
                chosen[text] = action_id
        for action_id, edit in self.editors.items():
            self._keymap.set_key(action_id, edit.keySequence())
        self.accept()

    def restore_defaults(self) -> None:
        self._keymap.reset()
        for action_id, edit in self.editors.items():
            edit.setKeySequence(self._keymap.key(action_id))
