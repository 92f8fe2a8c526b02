"""Signals between the controller's PII proposals and the annotation panel's strip."""

from __future__ import annotations

from PySide6.QtGui import QKeySequence

from app.jobs.controller import Controller
from app.services.annotation import DocumentEditor
from app.ui.main_window import MainWindow


def wire_pii_suggestions(c: Controller, w: MainWindow) -> None:
    """Proposals follow the document and its typing; the strip confirms or dismisses."""
    strip = w.annotation.suggestions
    c.pii.changed.connect(strip.show_suggestions)
    c.document_loaded.connect(c.pii.document_loaded)

    def typed(_editor: DocumentEditor, selected: str | None) -> None:
        c.pii.text_changed(selected)

    c.segment_text_changed.connect(typed)
    strip.confirm_requested.connect(c.pii.confirm)
    strip.dismiss_requested.connect(c.pii.dismiss)
    actions = {"pii_confirm": strip.confirm_chosen, "pii_dismiss": strip.dismiss_chosen}
    w.action_triggered.connect(lambda action_id: actions.get(action_id, lambda: None)())
    native = QKeySequence.SequenceFormat.NativeText
    strip.set_tooltips({a: w.keymap.key(a).toString(native) for a in actions})
