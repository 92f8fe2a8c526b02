"""Security settings: locked keys are greyed out, never saved, and nothing can be loosened."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QSpinBox
from pytestqt.qtbot import QtBot

from app.lockdown.policy import USER_KEYS, Policy
from app.ui.policy_dialog import LOCKED_TIP, TIGHTEN_ONLY_TIP, PolicyDialog


def test_locked_keys_are_disabled_and_left_out_of_the_saved_values(qtbot: QtBot) -> None:
    policy = Policy.merge(
        {"idle_lock_minutes": 3, "screen_reader": False}, {"watermark_opacity": 29}
    )
    dialog = PolicyDialog(policy)
    qtbot.addWidget(dialog)
    assert set(dialog.editors) == {key.name for key in USER_KEYS}
    locked = {name for name, editor in dialog.editors.items() if editor.toolTip() == LOCKED_TIP}
    assert locked == {"idle_lock_minutes", "screen_reader"}
    assert not any(dialog.editors[name].isEnabled() for name in locked)
    with qtbot.waitSignal(dialog.save_requested) as saved:
        dialog._save()
    values = saved.args[0]
    assert "idle_lock_minutes" not in values and "screen_reader" not in values
    assert values["watermark_opacity"] == 29
    assert values["paste_into_editor"] == "in_app"


def test_only_values_at_least_as_strict_as_the_default_are_offered(qtbot: QtBot) -> None:
    dialog = PolicyDialog(Policy.defaults())
    qtbot.addWidget(dialog)
    editors = dialog.editors
    # Flags already at their strict default cannot be flipped by the annotator.
    for name in ("in_app_clipboard", "curtain_on_focus_loss", "screen_reader"):
        assert not editors[name].isEnabled() and editors[name].toolTip() == TIGHTEN_ONLY_TIP
    opacity, idle = editors["watermark_opacity"], editors["idle_lock_minutes"]
    assert isinstance(opacity, QSpinBox) and isinstance(idle, QSpinBox)
    assert (opacity.minimum(), opacity.maximum()) == (14, 60)
    assert (idle.minimum(), idle.maximum()) == (1, 10)
    opacity.setValue(0)  # typed below the floor: clamped, never saved looser
    assert opacity.value() == 14
    paste, remote = editors["paste_into_editor"], editors["remote_session"]
    assert isinstance(paste, QComboBox) and isinstance(remote, QComboBox)
    assert [paste.itemText(i) for i in range(paste.count())] == ["none", "in_app"]
    assert not remote.isEnabled()
    with qtbot.waitSignal(dialog.save_requested) as saved:
        dialog._save()
    for name, value in saved.args[0].items():
        assert Policy.defaults().allows(name, value), name


def test_the_machine_policy_can_relax_and_then_it_is_shown_locked(qtbot: QtBot) -> None:
    dialog = PolicyDialog(Policy.merge({"remote_session": "allow", "watermark_opacity": 0}, {}))
    qtbot.addWidget(dialog)
    remote = dialog.editors["remote_session"]
    assert isinstance(remote, QComboBox) and remote.currentText() == "allow"
    assert not remote.isEnabled() and remote.toolTip() == LOCKED_TIP
    opacity = dialog.editors["watermark_opacity"]
    assert isinstance(opacity, QSpinBox) and opacity.value() == 0
