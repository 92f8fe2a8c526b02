"""Praat TextGrid (long text format): interval tiers per speaker, segment label and PII.

Built with praatio's Textgrid and IntervalTier (which refuse overlapping
intervals, so overlaps are spread over ``<speaker>-2`` and so on, see
:mod:`server.exports.tiers`) and serialised with praatio's text builder rather
than ``Textgrid.save``, which takes a file path: a transcript must not pass
through a temp file. Times are seconds (``frame / rate``); the grid runs from 0
to the source's length. Gaps are filled with empty intervals, as Praat expects
a tier to tile the time line, so a segment without text reads back as a blank
interval. praatio trims whitespace around interval texts. Channels are not
represented: Praat tiers have none.
"""

from __future__ import annotations

from praatio.data_classes.interval_tier import IntervalTier
from praatio.data_classes.textgrid import Textgrid, _tgToDictionary
from praatio.utilities import textgrid_io

from app.domain.project_schema import ProjectSchema
from server.exports.items import ExportItem
from server.exports.tiers import layout


def textgrid_bytes(item: ExportItem, schema: ProjectSchema) -> bytes:
    """The item's document as a TextGrid in Praat's long text format (UTF-8 bytes)."""
    rate = item.sample_rate
    doc = item.document
    # A document never reaches past its source; if one did, the grid grows to hold it.
    last = max([item.frames, 1, *(s.end for s in doc.segments), *(p.end for p in doc.pii)])
    xmax = last / rate
    grid = Textgrid(0.0, xmax)
    for tier in layout(doc, schema, lambda start, end: (start / rate, end / rate)):
        grid.addTier(IntervalTier(tier.name, list(tier.entries), 0.0, xmax))
    text: str = textgrid_io.getTextgridAsStr(
        _tgToDictionary(grid),
        "long_textgrid",
        includeBlankSpaces=True,
        minTimestamp=0.0,
        maxTimestamp=xmax,
        # Never drop a short interval: every segment is kept.
        minimumIntervalLength=None,
    )
    return text.encode("utf-8")
