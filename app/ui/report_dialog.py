"""A project's quality report for its managers: a table per annotator, hand-ins and the
running gold score over time.

Aggregates only (the server sends no text, label value or reason). The plot has no
menus and no export, like every Cordon plot.
"""

from __future__ import annotations

import calendar
import time

import pyqtgraph as pg
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.ui.no_export import NoExportTable
from app.ui.plot_setup import CHANNEL_COLOURS
from app.wire.report import ReportOut

DAY_S = 86_400
COLUMNS = ("Annotator", "Assigned", "Handed in", "Accepted", "Rejection rate", "WER vs final",
           "Gold tasks", "Gold score")  # fmt: skip


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def agreement_words(report: ReportOut) -> str:
    a = report.agreement
    if not a.recordings:
        return "No recording has been handed in by two annotators yet."
    alpha = ", ".join(
        f"{name} {'—' if value is None else f'{value:.2f}'}" for name, value in a.alpha.items()
    )
    return (
        f"{a.recordings} double-annotated recording(s): WER {_rate(a.wer_mean)}, "
        f"CER {_rate(a.cer_mean)}, DER {_rate(a.der_mean)} (collar {a.der_collar_s:g} s)"
        + (f"; Krippendorff's alpha: {alpha}" if alpha else "")
    )


class ReportDialog(QDialog):
    def __init__(self, report: ReportOut, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("reportDialog")
        self.setWindowTitle(f"Quality report — {report.project_name}")
        self.resize(900, 600)
        col = QVBoxLayout(self)
        made = time.strftime("%Y-%m-%d %H:%M", time.localtime(report.generated_at))
        col.addWidget(QLabel(f"Made {made}. Aggregates only: no text, labels or reasons."))
        self.table = NoExportTable(len(report.annotators), len(COLUMNS))
        self.table.setObjectName("reportTable")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        for row, person in enumerate(report.annotators):
            cells = (person.name or person.user_id, str(person.assigned), str(person.handed_in),
                     str(person.accepted), _rate(person.rejection_rate),
                     _rate(person.wer_vs_final), str(person.gold_scored),
                     _rate(person.gold_score))  # fmt: skip
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        col.addWidget(self.table)
        self.agreement = QLabel(agreement_words(report))
        self.agreement.setObjectName("reportAgreement")
        self.agreement.setWordWrap(True)
        col.addWidget(self.agreement)
        self.plot = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem()})
        self.plot.setObjectName("reportPlot")
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.setLabel("left", "hand-ins per day")
        self.plot.addLegend()
        for i, person in enumerate(report.annotators):
            days = [
                calendar.timegm(time.strptime(d.day, "%Y-%m-%d")) for d in person.hand_ins_per_day
            ]
            counts = [d.hand_ins for d in person.hand_ins_per_day]
            if days:
                colour = CHANNEL_COLOURS[i % len(CHANNEL_COLOURS)]
                self.plot.plot(days, counts, pen=pg.mkPen(colour, width=2), symbol="o",
                               symbolBrush=colour, name=person.name or person.user_id)  # fmt: skip
        all_days = [calendar.timegm(time.strptime(d.day, "%Y-%m-%d"))
                    for p in report.annotators for d in p.hand_ins_per_day]  # fmt: skip
        if all_days:  # whole days either side, so one day of data still reads as a date
            self.plot.setXRange(min(all_days) - DAY_S, max(all_days) + DAY_S)
            top = max(d.hand_ins for p in report.annotators for d in p.hand_ins_per_day)
            self.plot.setYRange(0, top + 1)
        col.addWidget(self.plot, 1)
        self.gold_plot = self._gold_plot(report)
        col.addWidget(self.gold_plot, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        col.addWidget(buttons)

    @staticmethod
    def _gold_plot(report: ReportOut) -> pg.PlotWidget:
        """Each annotator's running gold score, day by day (hidden while there is none)."""
        plot = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem()})
        plot.setObjectName("reportGoldPlot")
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.setLabel("left", "gold score (running)")
        plot.addLegend()
        plot.setYRange(0, 1)
        days = []
        for i, person in enumerate(report.annotators):
            xs = [calendar.timegm(time.strptime(p.day, "%Y-%m-%d")) for p in person.gold_running]
            if xs:
                days += xs
                colour = CHANNEL_COLOURS[i % len(CHANNEL_COLOURS)]
                plot.plot(xs, [p.score for p in person.gold_running], symbol="s",
                          pen=pg.mkPen(colour, width=2), symbolBrush=colour,
                          name=person.name or person.user_id)  # fmt: skip
        if days:
            plot.setXRange(min(days) - DAY_S, max(days) + DAY_S)
        plot.setVisible(bool(days))
        return plot
