"""Agreement between annotations of the same recording, with the well-kept libraries.

WER and CER between transcripts (``jiwer``), diarization error rate between the
speaker turns with a stated collar (``pyannote.metrics``), and Krippendorff's alpha for
a categorical task field across annotators (``krippendorff``) — none of the arithmetic
is ours. A transcript is the document's segment texts in time order; speaker turns are
its segments labelled by speaker. Figures only: no text leaves this module.

``pyannote`` pulls pandas, scipy and scikit-learn (about a second to import), so it is
imported when a diarization figure is asked for, never by the client.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import jiwer
import krippendorff
import numpy as np

from app.domain.label_document import LabelDocument

#: The collar (seconds, total width around each reference boundary) DER is computed with.
DER_COLLAR_S = 0.25


def transcript(doc: LabelDocument) -> str:
    """The segment texts in time order, one space apart (the words jiwer compares)."""
    ordered = sorted(doc.segments, key=lambda s: (s.start, s.end, s.id))
    return " ".join(" ".join(s.text.split()) for s in ordered if s.text.strip())


def wer(reference: LabelDocument, hypothesis: LabelDocument) -> float | None:
    """Word error rate of ``hypothesis`` against ``reference`` (``None``: no reference words)."""
    ref, hyp = transcript(reference), transcript(hypothesis)
    if not ref:
        return None
    return float(jiwer.wer(ref, hyp or ""))


def cer(reference: LabelDocument, hypothesis: LabelDocument) -> float | None:
    ref, hyp = transcript(reference), transcript(hypothesis)
    if not ref:
        return None
    return float(jiwer.cer(ref, hyp or ""))


def der(
    reference: LabelDocument, hypothesis: LabelDocument, rate: int, collar: float = DER_COLLAR_S
) -> float | None:
    """Diarization error rate of the speaker turns (``None``: the reference has none)."""
    from pyannote.core import Annotation, Segment  # noqa: PLC0415 - heavy, server only
    from pyannote.metrics.diarization import DiarizationErrorRate  # noqa: PLC0415

    def turns(doc: LabelDocument) -> Annotation:
        annotation = Annotation()
        for seg in doc.segments:
            annotation[Segment(seg.start / rate, seg.end / rate), seg.id] = seg.speaker or "?"
        return annotation

    ref = turns(reference)
    if not ref:
        return None
    with warnings.catch_warnings():  # "uem approximated by the extents": that is what we want
        warnings.simplefilter("ignore", UserWarning)
        return float(DiarizationErrorRate(collar=collar)(ref, turns(hypothesis)))


def field_alpha(values: Sequence[Sequence[str | None]]) -> float | None:
    """Krippendorff's alpha (nominal) of one choice field: ``values[coder][unit]``.

    ``None`` where a coder gave no value. ``None`` as a result when the data cannot say
    (fewer than two values per unit anywhere, or a single category throughout).
    """
    categories = sorted({v for row in values for v in row if v is not None})
    if len(categories) < 2:
        return None
    index = {c: float(i) for i, c in enumerate(categories)}
    data = np.array(
        [[index[v] if v is not None else np.nan for v in row] for row in values], dtype=float
    )
    paired = int(np.sum(np.sum(~np.isnan(data), axis=0) >= 2))
    if paired == 0:
        return None
    result = float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))
    return None if math.isnan(result) else result
