"""The project quality report's JSON: aggregates only, by user id and name.

What ``cordon-server report`` prints and what a project's managers get from
``GET /v1/projects/{id}/report``: counts, rates, error rates and agreement figures —
never a transcript, a label value or a reason.
"""

from __future__ import annotations

from pydantic import Field

from app.wire.base import Count, Id, _Model


class DayCount(_Model):
    day: str  # YYYY-MM-DD (UTC)
    hand_ins: Count


class GoldPoint(_Model):
    """The running gold score at the end of a day: the mean over every gold hand-in so far."""

    day: str  # YYYY-MM-DD (UTC)
    score: float


class AnnotatorFigures(_Model):
    user_id: Id
    name: str
    assigned: Count
    handed_in: Count
    accepted: Count
    #: Rejections per decision (``None``: nothing decided yet).
    rejection_rate: float | None = None
    #: Mean WER of their first hand-in against the accepted revision (``None``: none accepted).
    wer_vs_final: float | None = None
    hand_ins_per_day: list[DayCount]
    #: Gold tasks handed in and scored against their known answer.
    gold_scored: Count = 0
    #: Mean gold score, 0..1: per hand-in the mean of ``1 - WER`` (at least 0) and the
    #: share of the answer's choice fields matched (``None``: no gold task scored).
    gold_score: float | None = None
    #: Mean WER of their gold hand-ins against the answers.
    gold_wer: float | None = None
    gold_running: list[GoldPoint] = Field(default_factory=list)


class PairFigures(_Model):
    segment_id: Id
    annotators: list[Id]
    names: list[str]
    wer: float | None = None
    cer: float | None = None
    der: float | None = None


class AgreementFigures(_Model):
    der_collar_s: float
    recordings: Count
    pairs: list[PairFigures]
    wer_mean: float | None = None
    cer_mean: float | None = None
    der_mean: float | None = None
    #: Krippendorff's alpha (nominal) per choice field (``None``: the data cannot say).
    alpha: dict[str, float | None]


class ReportOut(_Model):
    project_id: Id
    project_name: str
    generated_at: int
    annotators: list[AnnotatorFigures]
    agreement: AgreementFigures
