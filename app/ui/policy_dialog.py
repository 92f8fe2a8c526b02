"""Security settings: every policy key, with the ones the organisation set greyed out.

The dialog only shows and collects values; saving (a file write) is done by the
lockdown controller. Changes take effect the next time Cordon starts, so a
running session never switches protection half-way.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.lockdown.policy import SCHEMA, Policy, PolicyKey, PolicyValue

LOCKED_TIP = "Set by your organisation's policy; it cannot be changed here."


class PolicyDialog(QDialog):
    save_requested = Signal(dict)  # key -> value, unlocked keys only

    def __init__(self, policy: Policy, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("policyDialog")
        self.setWindowTitle("Security settings")
        self.policy = policy
        self.editors: dict[str, QCheckBox | QSpinBox | QComboBox] = {}
        layout = QVBoxLayout(self)
        form = QFormLayout()
        for key in SCHEMA:
            editor = self._editor(key, policy.values[key.name])
            locked = policy.locked(key.name)
            editor.setEnabled(not locked)
            editor.setToolTip(LOCKED_TIP if locked else key.description)
            editor.setObjectName(f"policy_{key.name}")
            label = QLabel(
                key.name.replace("_", " ").capitalize() + (" (locked)" if locked else "")
            )
            label.setToolTip(key.description)
            label.setEnabled(not locked)
            form.addRow(label, editor)
            self.editors[key.name] = editor
        layout.addLayout(form)
        layout.addWidget(QLabel("Changes take effect the next time Cordon starts."))
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self._save)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    @staticmethod
    def _editor(key: PolicyKey, value: PolicyValue) -> QCheckBox | QSpinBox | QComboBox:
        if key.kind is bool:
            box = QCheckBox()
            box.setChecked(bool(value))
            return box
        if key.kind is int:
            spin = QSpinBox()
            spin.setRange(key.minimum or 0, key.maximum or 10_000)
            spin.setValue(int(value))
            return spin
        combo = QComboBox()
        combo.addItems(list(key.choices))
        combo.setCurrentText(str(value))
        return combo

    def values(self) -> dict[str, PolicyValue]:
        """The values of the keys the annotator may change."""
        out: dict[str, PolicyValue] = {}
        for name, editor in self.editors.items():
            if self.policy.locked(name):
                continue
            if isinstance(editor, QCheckBox):
                out[name] = editor.isChecked()
            elif isinstance(editor, QSpinBox):
                out[name] = editor.value()
            else:
                out[name] = editor.currentText()
        return out

    def _save(self) -> None:
        self.save_requested.emit(self.values())
        self.accept()
