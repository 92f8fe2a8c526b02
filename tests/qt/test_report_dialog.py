"""A manager's report: the table per annotator, the agreement line, the plot over time."""

from __future__ import annotations

from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QTableWidgetItem
from pytestqt.qtbot import QtBot

from app.ui.main_window import MainWindow
from app.ui.report_dialog import ReportDialog, agreement_words
from app.ui.shortcuts import BY_ID
from app.wire.report import ReportOut

REPORT = ReportOut.model_validate({
    "project_id": "prj_1", "project_name": "Claims", "generated_at": 1_796_000_000,
    "annotators": [
        {"user_id": "usr_a", "name": "Ada", "assigned": 3, "handed_in": 2, "accepted": 1,
         "rejection_rate": 0.5, "wer_vs_final": 0.125,
         "hand_ins_per_day": [{"day": "2026-11-29", "hand_ins": 1},
                              {"day": "2026-11-30", "hand_ins": 1}],
         "gold_scored": 2, "gold_score": 0.75, "gold_wer": 0.5,
         "gold_running": [{"day": "2026-11-29", "score": 1.0},
                          {"day": "2026-11-30", "score": 0.75}]},
        {"user_id": "usr_b", "name": "Bo", "assigned": 1, "handed_in": 0, "accepted": 0,
         "hand_ins_per_day": []},
    ],
    "agreement": {"der_collar_s": 0.25, "recordings": 1, "wer_mean": 0.2, "cer_mean": 0.1,
                  "der_mean": 0.0, "alpha": {"outcome": None},
                  "pairs": [{"segment_id": "seg_1", "annotators": ["usr_a", "usr_b"],
                             "names": ["Ada", "Bo"], "wer": 0.2, "cer": 0.1, "der": 0.0}]},
})  # fmt: skip


def _text(item: QTableWidgetItem | None) -> str:
    assert item is not None
    return item.text()


def test_the_report_shows_each_annotator_agreement_and_hand_ins(qtbot: QtBot) -> None:
    dialog = ReportDialog(REPORT)
    qtbot.addWidget(dialog)
    assert dialog.windowTitle() == "Quality report — Claims"
    table = dialog.table
    rows = [[_text(table.item(r, c)) for c in range(table.columnCount())]
            for r in range(table.rowCount())]  # fmt: skip
    assert rows == [
        ["Ada", "3", "2", "1", "50.0 %", "12.5 %", "2", "75.0 %"],
        ["Bo", "1", "0", "0", "—", "—", "0", "—"],
    ]
    assert dialog.agreement.text() == (
        "1 double-annotated recording(s): WER 20.0 %, CER 10.0 %, DER 0.0 % (collar 0.25 s); "
        "Krippendorff's alpha: outcome —"
    )
    curves = dialog.plot.getPlotItem().listDataItems()
    assert len(curves) == 1  # Bo handed nothing in: no line
    xs, ys = curves[0].getData()
    assert list(ys) == [1, 1] and xs[1] - xs[0] == 86_400
    gold = dialog.gold_plot.getPlotItem().listDataItems()
    assert len(gold) == 1 and list(gold[0].getData()[1]) == [1.0, 0.75]
    assert not dialog.gold_plot.isHidden()
    none = REPORT.model_copy(update={"agreement": REPORT.agreement.model_copy(
        update={"recordings": 0})})  # fmt: skip
    assert agreement_words(none).startswith("No recording has been handed in by two")


def test_the_report_key_asks_for_it(window: MainWindow) -> None:
    window.stack.setCurrentIndex(1)
    seen: list[str] = []
    window.action_triggered.connect(seen.append)
    combo = QKeySequence(BY_ID["project_report"].default)[0]  # type: ignore[index]
    QTest.keyClick(window, combo.key(), combo.keyboardModifiers())
    assert seen == ["project_report"]
