"""Every player and editor action, its default key, and the user's remapping.

One table, so the shortcut sheet, the settings dialog and the window's
``QShortcut``s can never disagree. Remaps are stored with ``QSettings`` under
``shortcuts/<action>``: key bindings are preferences, not content.
Defaults follow transcription tools (ELAN, Express Scribe) and avoid keys a
segment's text needs (Ctrl+Left/Right, Delete); Enter splits the segment being typed, ELAN-style.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QSettings
from PySide6.QtGui import QKeySequence


@dataclass(frozen=True)
class ActionSpec:
    action_id: str
    title: str
    default: str


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("play_pause", "Play / pause", "Ctrl+Space"),
    ActionSpec("skip_back", "Back 2 seconds", "Alt+Left"),
    ActionSpec("skip_forward", "Forward 2 seconds", "Alt+Right"),
    ActionSpec("skip_back_large", "Back 10 seconds", "Alt+Shift+Left"),
    ActionSpec("skip_forward_large", "Forward 10 seconds", "Alt+Shift+Right"),
    ActionSpec("speed_down", "Slower (-0.1x)", "Ctrl+["),
    ActionSpec("speed_up", "Faster (+0.1x)", "Ctrl+]"),
    ActionSpec("speed_reset", "Normal speed", "Ctrl+\\"),
    ActionSpec("loop", "Loop the selected segment on / off", "Ctrl+L"),
    ActionSpec("mark_boundary", "Mark a segment boundary at the playhead", "Alt+Return"),
    ActionSpec("split_segment", "Split the segment here (while typing its text)", "Return"),
    ActionSpec("next_region", "Next segment (plays it)", "Tab"),
    ActionSpec("previous_region", "Previous segment (plays it)", "Shift+Tab"),
    ActionSpec("delete_region", "Delete the selected segment", "Alt+Delete"),
    ActionSpec("zoom_in", "Zoom in", "Ctrl+="),
    ActionSpec("zoom_out", "Zoom out", "Ctrl+-"),
    ActionSpec("zoom_fit", "Show the whole segment", "Ctrl+0"),
    ActionSpec("zoom_selection", "Zoom to the selected segment", "Ctrl+E"),
    ActionSpec("toggle_spectrogram", "Waveform / spectrogram", "Ctrl+G"),
    ActionSpec("focus_fields", "Go to the task fields (Tab moves between them)", "Ctrl+T"),
    ActionSpec("submit", "Submit the task", "Ctrl+Return"),
    ActionSpec("pii_confirm", "Tag the proposed PII span (pattern found)", "Ctrl+Alt+Y"),
    ActionSpec("pii_dismiss", "Dismiss the proposed PII span", "Ctrl+Alt+X"),
    ActionSpec(
        "review_correct", "Review: correct the document (your own revision)", "Ctrl+Shift+E"
    ),
    ActionSpec(
        "review_comment", "Review: comment on the selected words, span or segment", "Ctrl+Shift+M"
    ),
    ActionSpec("review_accept", "Review: accept the task", "Ctrl+Shift+A"),
    ActionSpec("review_reject", "Review: reject the task with a reason", "Ctrl+Shift+R"),
    ActionSpec("review_release", "Review: put the task back in the queue", "Ctrl+Shift+L"),
    ActionSpec("review_filter", "Review: filter the queue (status, annotator)", "Ctrl+Shift+F"),
    ActionSpec("context", "Hear more around a windowed task (ask; again: back)", "Ctrl+Shift+U"),
    ActionSpec("context_asks", "Review: annotators' context asks", "Ctrl+Shift+K"),
    ActionSpec("project_report", "Manager: the project's quality report", "Ctrl+Shift+P"),
    ActionSpec(
        "manage_project", "Manager: assign tasks, set the policy and gold rate", "Ctrl+Shift+G"
    ),
    ActionSpec("shortcut_sheet", "Show this list", "F1"),
    ActionSpec("security_settings", "Security settings", "Ctrl+,"),
)
BY_ID = {spec.action_id: spec for spec in ACTIONS}
#: Actions bound in the segment text editor only (Enter elsewhere opens a task, or a row).
EDITOR_ACTIONS = frozenset({"split_segment"})


class Keymap:
    """The effective key for each action: the user's remap, else the default."""

    def __init__(self, settings: QSettings | None = None) -> None:
        self._settings = settings or QSettings("Cordon", "client")

    def key(self, action_id: str) -> QKeySequence:
        stored = self._settings.value(f"shortcuts/{action_id}")
        text = stored if isinstance(stored, str) and stored else BY_ID[action_id].default
        return QKeySequence(text)

    def set_key(self, action_id: str, sequence: QKeySequence) -> None:
        if action_id not in BY_ID:
            raise KeyError(action_id)
        self._settings.setValue(f"shortcuts/{action_id}", sequence.toString())

    def reset(self) -> None:
        for spec in ACTIONS:
            self._settings.remove(f"shortcuts/{spec.action_id}")

    def conflicts(self) -> list[tuple[str, str]]:
        """Pairs of actions bound to the same key."""
        seen: dict[str, str] = {}
        clashes = []
        for spec in ACTIONS:
            text = self.key(spec.action_id).toString()
            if text and text in seen:
                clashes.append((seen[text], spec.action_id))
            seen.setdefault(text, spec.action_id)
        return clashes
