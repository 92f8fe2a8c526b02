"""RLHF comparisons: the prompt, the outputs, and the judgement — pairwise or ranking.

Every text here is content and is shown in a read-only :class:`TranscriptEditor`
(no copy, no drag, no PRIMARY, no accessible text). Keyboard first:

* pairwise: Ctrl+1 … Ctrl+7 on a scale from "A much better" to "B much better"
  (Ctrl+4 a tie); the reason is typed below;
* ranking: Alt+Up / Alt+Down move the selected output, Alt+T ties it with the one
  above (again: untie), Alt+K keeps the order shown as the ranking;
* Alt+P plays the prompt's audio, Alt+A / Alt+B (pairwise) or Alt+O (the selected
  output, ranking) plays an output's audio.

The panel shows the controller's document and reports what the annotator does.
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QGridLayout,
    QLabel,
    QListWidgetItem,
    QPushButton,
    QRadioButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.domain.comparison import Comparison, Content
from app.services.annotation import DocumentEditor
from app.ui.no_export import NoExportList
from app.ui.transcript_editor import TranscriptEditor

#: The pairwise scale: (choice, strength, words), Ctrl+1 … Ctrl+7.
SCALE = (
    ("a", 3, "A much better"),
    ("a", 2, "A better"),
    ("a", 1, "A slightly better"),
    ("tie", None, "Tie"),
    ("b", 1, "B slightly better"),
    ("b", 2, "B better"),
    ("b", 3, "B much better"),
)
PROMPT = "prompt"


class RankingList(NoExportList):
    """The outputs in rank order. Their first lines are content: nothing leaves the list."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("rankingList")


def _viewer(height: int) -> TranscriptEditor:
    view = TranscriptEditor()
    view.setReadOnly(True)
    view.setPlaceholderText("")
    view.setMaximumHeight(height)
    return view


class ComparisonPanel(QWidget):
    choice_made = Signal(str, object)  # choice, strength (None for a tie)
    reason_changed = Signal(str)
    move_requested = Signal(str, bool)  # output id, up
    tie_requested = Signal(str)
    keep_order_requested = Signal()
    play_requested = Signal(str)  # PROMPT or an output id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("comparisonPanel")
        col = QVBoxLayout(self)
        col.setContentsMargins(0, 0, 0, 0)
        self.prompt = _viewer(90)
        self.prompt.setObjectName("comparisonPrompt")
        self.play_prompt = QPushButton("Play prompt (Alt+P)")
        col.addWidget(QLabel("Prompt"))
        col.addWidget(self.prompt)
        col.addWidget(self.play_prompt)
        self.modes = QStackedWidget()
        col.addWidget(self.modes, 1)
        self._build_pairwise()
        self._build_ranking()
        self.keys = QLabel("")
        self.keys.setStyleSheet("color: #64748b;")
        self.keys.setWordWrap(True)
        col.addWidget(self.keys)
        self.play_prompt.clicked.connect(lambda: self.play_requested.emit(PROMPT))
        self._comparison: Comparison | None = None
        self._editor: DocumentEditor | None = None
        self._updating = False
        self._shortcuts: list[QShortcut] = []

    def _build_pairwise(self) -> None:
        page = QWidget()
        grid = QGridLayout(page)
        self.outputs: dict[str, TranscriptEditor] = {}
        self.play_buttons: dict[str, QPushButton] = {}
        for column, name in enumerate(("A", "B")):
            grid.addWidget(QLabel(f"Output {name}"), 0, column)
            view = _viewer(160)
            view.setObjectName(f"output{name}")
            grid.addWidget(view, 1, column)
            button = QPushButton(f"Play {name} (Alt+{name})")
            button.clicked.connect(partial(self._output_key, name.lower()))
            grid.addWidget(button, 2, column)
            self.outputs[name.lower()] = view
            self.play_buttons[name.lower()] = button
        self.scale = QButtonGroup(self)
        row = QWidget()
        grid.addWidget(row, 3, 0, 1, 2)
        scale_row = QGridLayout(row)
        for i, (_choice, _strength, words) in enumerate(SCALE):
            radio = QRadioButton(f"{words} ({i + 1})")
            self.scale.addButton(radio, i)
            scale_row.addWidget(radio, 0, i)
        self.scale.idClicked.connect(self._scale_clicked)
        self.reason = TranscriptEditor()
        self.reason.setObjectName("preferenceReason")
        self.reason.setPlaceholderText("Why? (the reviewer reads this)")
        self.reason.setMaximumHeight(70)
        self.reason.textChanged.connect(self._reason_typed)
        grid.addWidget(self.reason, 4, 0, 1, 2)
        self.modes.addWidget(page)

    def _build_ranking(self) -> None:
        page = QWidget()
        col = QVBoxLayout(page)
        col.addWidget(QLabel("Ranking, best first (= tied with the one above)"))
        self.ranking = RankingList()
        self.ranking.currentRowChanged.connect(self._show_selected)
        col.addWidget(self.ranking)
        self.selected_output = _viewer(140)
        self.selected_output.setObjectName("selectedOutput")
        col.addWidget(self.selected_output)
        self.play_selected = QPushButton("Play this output (Alt+O)")
        self.play_selected.clicked.connect(self._play_selected)
        col.addWidget(self.play_selected)
        self.ranked_label = QLabel("")
        col.addWidget(self.ranked_label)
        self.modes.addWidget(page)

    def focus_input(self) -> None:
        """Where the keyboard goes for the judgement: the reason, or the ranking."""
        if self.modes.currentIndex() == 0:
            self.reason.setFocus()
        else:
            self.ranking.setFocus()

    def text_editors(self) -> list[TranscriptEditor]:
        return [self.prompt, *self.outputs.values(), self.reason, self.selected_output]

    # -- content and document ---------------------------------------------------------
    def show_comparison(self, comparison: Comparison | None) -> None:
        """The bundle arrived (texts shown; audio plays through the controller)."""
        self._comparison = comparison
        self._updating = True  # clearing is not the annotator typing
        try:
            for view in self.text_editors():
                if view is not self.reason or comparison is None:
                    view.clear_content()
        finally:
            self._updating = False
        if comparison is None:
            self.ranking.clear()
            return
        self._set_text(self.prompt, comparison.prompt)
        self.play_prompt.setEnabled(comparison.prompt.audio is not None)
        if comparison.kind == "pairwise":
            self.modes.setCurrentIndex(0)
            for key, output in zip(("a", "b"), comparison.outputs, strict=False):
                self._set_text(self.outputs[key], output)
                self.play_buttons[key].setEnabled(output.audio is not None)
        else:
            self.modes.setCurrentIndex(1)
        self._hint()
        self.show_document(self._editor)

    @staticmethod
    def _set_text(view: TranscriptEditor, content: Content) -> None:
        text = content.text or ""
        if content.audio is not None:
            text = (text + "\n" if text else "") + "[audio: press Play]"
        view.setPlainText(text)

    def show_document(self, editor: DocumentEditor | None) -> None:
        """Show the judgement held by ``editor`` (a preference or a ranking)."""
        self._editor = editor
        self._updating = True
        try:
            if editor is None or editor.kind == "transcription":
                return
            writable = not editor.read_only
            for button in self.scale.buttons():
                button.setEnabled(writable)
            self.reason.setReadOnly(not writable)
            preference = editor.preference
            chosen = next(
                (i for i, (c, s, _w) in enumerate(SCALE)
                 if preference is not None and (c, s) == (preference.choice, preference.strength)),
                None,
            )  # fmt: skip
            self.scale.setExclusive(False)
            for i, button in enumerate(self.scale.buttons()):
                button.setChecked(i == chosen)
            self.scale.setExclusive(True)
            reason = preference.reason if preference is not None else ""
            if self.reason.toPlainText() != reason:
                self.reason.setPlainText(reason)
            self._show_ranking(editor)
        finally:
            self._updating = False

    def _show_ranking(self, editor: DocumentEditor) -> None:
        comparison = self._comparison
        if comparison is None or editor.kind != "ranking":
            return
        texts = {o.output_id: (o.text or "[audio]") for o in comparison.outputs}
        current = self._selected_output()
        self.ranking.clear()
        for rank, group in enumerate(editor.ranking, start=1):
            for k, output_id in enumerate(group):
                mark = "=" if k else f"{rank}."
                lines = texts.get(output_id, "").splitlines()
                first_line = lines[0][:90] if lines else ""
                item = QListWidgetItem(f"{mark} {output_id}: {first_line}")
                item.setData(Qt.ItemDataRole.UserRole, output_id)
                self.ranking.addItem(item)
                if output_id == current:
                    self.ranking.setCurrentItem(item)
        if self.ranking.currentRow() < 0 and self.ranking.count():
            self.ranking.setCurrentRow(0)
        self.ranked_label.setText(
            "Ranked."
            if editor.ranked
            else "Not ranked yet: move outputs, or Alt+K keeps this order."
        )

    def _selected_output(self) -> str | None:
        item = self.ranking.currentItem()
        return str(item.data(Qt.ItemDataRole.UserRole)) if item is not None else None

    def _show_selected(self, _row: int) -> None:
        comparison, output_id = self._comparison, self._selected_output()
        if comparison is None or output_id is None:
            return
        output = next((o for o in comparison.outputs if o.output_id == output_id), None)
        if output is not None:
            self._set_text(self.selected_output, output)
            self.play_selected.setEnabled(output.audio is not None)

    # -- what the annotator does ---------------------------------------------------------
    def _scale_clicked(self, index: int) -> None:
        if not self._updating:
            choice, strength, _words = SCALE[index]
            self.choice_made.emit(choice, strength)

    def _reason_typed(self) -> None:
        if not self._updating and not self.reason.isReadOnly():
            self.reason_changed.emit(self.reason.toPlainText())

    def _play_selected(self) -> None:
        output_id = self._selected_output()
        if output_id is not None:
            self.play_requested.emit(output_id)

    def _output_key(self, key: str) -> None:
        comparison = self._comparison
        if comparison is not None and comparison.kind == "pairwise":
            index = "ab".index(key)
            if index < len(comparison.outputs):
                self.play_requested.emit(comparison.outputs[index].output_id)

    def _move(self, up: bool) -> None:
        output_id = self._selected_output()
        if output_id is not None:
            self.move_requested.emit(output_id, up)

    def _tie(self) -> None:
        output_id = self._selected_output()
        if output_id is not None:
            self.tie_requested.emit(output_id)

    def install_keys(self, window: QWidget, active: bool) -> None:
        """The comparison keys, as window shortcuts while a comparison is open."""
        for shortcut in self._shortcuts:
            shortcut.setEnabled(False)
            shortcut.deleteLater()
        self._shortcuts = []
        if not active:
            self.keys.setText("")
            return
        keys: list[tuple[str, object]] = [
            (f"Ctrl+{i + 1}", partial(self._pick, i)) for i in range(len(SCALE))
        ]
        keys += [
            ("Alt+P", partial(self.play_requested.emit, PROMPT)),
            ("Alt+A", partial(self._output_key, "a")),
            ("Alt+B", partial(self._output_key, "b")),
            ("Alt+O", self._play_selected),
            ("Alt+Up", partial(self._move, True)),
            ("Alt+Down", partial(self._move, False)),
            ("Alt+T", self._tie),
            ("Alt+K", self.keep_order_requested.emit),
        ]
        for key, action in keys:
            shortcut = QShortcut(QKeySequence(key), window)
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(action)
            self._shortcuts.append(shortcut)
        self._hint()

    def _hint(self) -> None:
        if self._comparison is None:
            self.keys.setText("")
        elif self._comparison.kind == "ranking":
            self.keys.setText(
                "Alt+Up / Alt+Down move · Alt+T tie with the one above · Alt+K keep this order · "
                "Alt+O play · Alt+P play the prompt · Ctrl+T the list · Ctrl+Return submit"
            )
        else:
            self.keys.setText(
                "Ctrl+1 A much better … Ctrl+4 tie … Ctrl+7 B much better · Alt+A / Alt+B play · "
                "Alt+P play the prompt · Ctrl+T the reason · Ctrl+Return submit"
            )

    def _pick(self, index: int) -> None:
        comparison = self._comparison
        if comparison is None or comparison.kind != "pairwise":
            return
        choice, strength, _words = SCALE[index]
        self.choice_made.emit(choice, strength)
