"""Security settings: locked keys are greyed out and never saved from the user side."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from app.lockdown.policy import SCHEMA, Policy
from app.ui.policy_dialog import LOCKED_TIP, PolicyDialog


def test_locked_keys_are_disabled_and_left_out_of_the_saved_values(qtbot: QtBot) -> None:
    policy = Policy.merge(
        {"idle_lock_minutes": 3, "screen_reader": False}, {"watermark_opacity": 9}
    )
    dialog = PolicyDialog(policy)
    qtbot.addWidget(dialog)
    assert set(dialog.editors) == {key.name for key in SCHEMA}
    locked = {name for name, editor in dialog.editors.items() if not editor.isEnabled()}
    assert locked == {"idle_lock_minutes", "screen_reader"}
    assert dialog.editors["idle_lock_minutes"].toolTip() == LOCKED_TIP
    with qtbot.waitSignal(dialog.save_requested) as saved:
        dialog._save()
    values = saved.args[0]
    assert "idle_lock_minutes" not in values and "screen_reader" not in values
    assert values["watermark_opacity"] == 9
    assert values["paste_into_editor"] == "in_app"
