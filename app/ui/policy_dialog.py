"""Security settings: every policy key, with the ones the organisation set greyed out.

The annotator may only make a key stricter than its default: each editor
offers only such values (a flag already at its strict side is disabled).

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

from app.lockdown.policy import USER_KEYS, Policy, PolicyKey, PolicyValue

LOCKED_TIP = "Set by your organisation's policy; it cannot be changed here."
TIGHTEN_ONLY_TIP = "Already at its strictest default; only your organisation's policy can relax it."


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
        for key in USER_KEYS:
            editor = self._editor(key, policy.values[key.name])
            locked = policy.locked(key.name)
            if locked:
                editor.setEnabled(False)
                editor.setToolTip(LOCKED_TIP)
            elif editor.isEnabled():
                editor.setToolTip(key.description)
            editor.setObjectName(f"policy_{key.name}")
            label = QLabel(
                key.name.replace("_", " ").capitalize() + (" (locked)" if locked else "")
            )
            label.setToolTip(key.description)
            label.setEnabled(not locked)
            form.addRow(label, editor)
            self.editors[key.name] = editor
        layout.addLayout(form)
        layout.addWidget(
            QLabel(
                "You can make settings stricter than the defaults; only your organisation's\n"
                "policy can relax them. Changes take effect the next time Cordon starts."
            )
        )
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self._save)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _editor(self, key: PolicyKey, value: PolicyValue) -> QCheckBox | QSpinBox | QComboBox:
        """An editor offering only what the annotator may choose: the same or stricter.

        A locked key shows the machine's value (the editor is disabled by the caller).
        """
        locked = self.policy.locked(key.name)
        if key.kind is bool:
            box = QCheckBox()
            box.setChecked(bool(value))
            if not locked and not self.policy.allows(key.name, not value):
                box.setEnabled(False)
                box.setToolTip(TIGHTEN_ONLY_TIP)
            return box
        if key.kind is int:
            spin = QSpinBox()
            low, high = key.minimum or 0, key.maximum or 10_000
            if not locked:
                default = int(key.default)
                low, high = (default, high) if key.stricter == "higher" else (low, default)
            spin.setRange(low, high)
            spin.setValue(int(value))
            return spin
        combo = QComboBox()
        offered = [c for c in key.choices if locked or self.policy.allows(key.name, c)]
        combo.addItems(offered)
        combo.setCurrentText(str(value))
        if not locked and len(offered) == 1:
            combo.setEnabled(False)
            combo.setToolTip(TIGHTEN_ONLY_TIP)
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
