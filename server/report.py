"""A project's quality report: per annotator and across double-annotated recordings.

Aggregates only — counts, rates, error rates and agreement figures, by user id and
name; never a transcript, a label value or a reason. The server administrator runs it
(``cordon-server report --project P``) on the data directory, and a project's managers
get it from ``GET /v1/projects/{id}/report``; it opens the sealed documents in memory to
compute the figures. Running it is audited
(``report_made``): it read every handed-in document of the project.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from app.domain.label_document import LabelDocument, read_stored
from app.domain.lifecycle import REVIEWABLE, Step
from app.wire.report import ReportOut
from app.wire.schemas import AccessAction, Role, TaskStatus
from server import agreement, audit, db, project_schemas, task_keys
from server.context import ServerContext


@dataclass(frozen=True)
class _Revision:
    revision: int
    author_id: str
    role: str
    draft: bool
    document: LabelDocument


def _open(ctx: ServerContext, conn: Connection, project: Any, task: Any) -> list[_Revision]:
    rows = conn.execute(
        select(db.labels, db.label_revisions.c.author_role, db.label_revisions.c.draft)
        .outerjoin(db.label_revisions)
        .where(db.labels.c.task_id == task.id)
        .order_by(db.labels.c.revision)
    ).all()
    frames = conn.execute(
        select(db.segments.c.frames).where(db.segments.c.id == task.segment_id)
    ).scalar_one()
    out = []
    for row in rows:
        stored = task_keys.open_stored_label(ctx.vault, project, task, row)
        out.append(
            _Revision(
                row.revision,
                row.author_id,
                row.author_role or Role.ANNOTATOR.value,
                bool(row.draft if row.draft is not None else stored.get("draft", False)),
                read_stored(stored, int(frames)),
            )
        )
    return out


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 4) if values else None


def project_report(ctx: ServerContext, project_id: str, actor: audit.Actor) -> ReportOut:
    """The report (see the module docstring); its making is recorded."""
    with ctx.engine.connect() as conn:
        project = conn.execute(select(db.projects).where(db.projects.c.id == project_id)).one()
        names = {
            str(uid): str(name)
            for uid, name in conn.execute(select(db.users.c.id, db.users.c.display_name))
        }
        tasks = conn.execute(
            select(db.tasks)
            .where(db.tasks.c.project_id == project_id)
            .order_by(db.tasks.c.created_at, db.tasks.c.id)  # the same report on every engine
        ).all()
        scores = conn.execute(
            select(db.gold_scores)
            .join(db.tasks, db.tasks.c.id == db.gold_scores.c.task_id)
            .where(db.tasks.c.project_id == project_id)
            .order_by(db.gold_scores.c.scored_at, db.gold_scores.c.task_id)
        ).all()
        gold_tasks = set(
            conn.execute(
                select(db.gold_tasks.c.task_id)
                .join(db.tasks, db.tasks.c.id == db.gold_tasks.c.task_id)
                .where(db.tasks.c.project_id == project_id)
            ).scalars()
        )
        steps = defaultdict(list)
        for row in conn.execute(
            select(db.task_transitions)
            .join(db.tasks, db.tasks.c.id == db.task_transitions.c.task_id)
            .where(db.tasks.c.project_id == project_id)
            .order_by(db.task_transitions.c.task_id, db.task_transitions.c.seq)
        ):
            steps[row.task_id].append(row)
        revisions = {t.id: _open(ctx, conn, project, t) for t in tasks}
        rates = {
            str(sid): int(rate)
            for sid, rate in conn.execute(select(db.segments.c.id, db.segments.c.sample_rate))
        }
        loaded = project_schemas.load(
            conn, project_id, project_schemas.current_version(conn, project_id)
        )
    report = ReportOut.model_validate({
        "project_id": project_id,
        "project_name": project.name,
        "generated_at": int(time.time()),
        "annotators": _with_gold(_annotators(tasks, steps, revisions, names), scores),
        "agreement": _agreement(
            [t for t in tasks if t.id not in gold_tasks], revisions, rates, names,
            loaded[0] if loaded else None,
        ),
    })  # fmt: skip
    with ctx.engine.begin() as conn:
        audit.record(conn, actor, AccessAction.REPORT_MADE, project_id=project_id)
    return report


def _annotators(
    tasks: Sequence[Any], steps: dict[str, list[Any]], revisions: dict[str, list[_Revision]],
    names: dict[str, str],
) -> list[dict[str, Any]]:  # fmt: skip
    """Throughput, rejection rate and WER against the accepted revision, per annotator."""
    by_user: dict[str, list[Any]] = defaultdict(list)
    for task in tasks:
        by_user[task.assignee_id].append(task)
    out = []
    for user_id, own in sorted(by_user.items(), key=lambda kv: (names.get(kv[0], ""), kv[0])):
        per_day: dict[str, int] = defaultdict(int)
        rejects = decisions = 0
        wers = []
        for task in own:
            for step in steps[task.id]:
                if step.step == Step.SUBMIT.value:
                    per_day[time.strftime("%Y-%m-%d", time.gmtime(step.created_at))] += 1
                if step.step in (Step.ACCEPT.value, Step.REJECT.value):
                    decisions += 1
                    rejects += step.step == Step.REJECT.value
            handed = [r for r in revisions[task.id] if not r.draft]
            mine = [r for r in handed if r.role == Role.ANNOTATOR.value]
            if task.status == TaskStatus.ACCEPTED.value and mine:
                figure = agreement.wer(handed[-1].document, mine[0].document)
                if figure is not None:
                    wers.append(figure)
        out.append({
            "user_id": user_id, "name": names.get(user_id, ""),
            "assigned": len(own),
            "handed_in": sum(1 for t in own if TaskStatus(t.status) in REVIEWABLE),
            "accepted": sum(1 for t in own if t.status == TaskStatus.ACCEPTED.value),
            "rejection_rate": round(rejects / decisions, 4) if decisions else None,
            "wer_vs_final": _mean(wers),
            "hand_ins_per_day": [{"day": d, "hand_ins": n} for d, n in sorted(per_day.items())],
        })  # fmt: skip
    return out


def _with_gold(figures: list[dict[str, Any]], scores: Sequence[Any]) -> list[dict[str, Any]]:
    """Each annotator's gold figures: the mean score and WER, and the score day by day."""
    by_user: dict[str, list[Any]] = defaultdict(list)
    for row in scores:  # in the order they were scored
        by_user[row.user_id].append(row)
    for figure in figures:
        own = by_user.get(figure["user_id"], [])
        marks = [float(r.score) for r in own if r.score is not None]
        running: dict[str, float] = {}
        seen: list[float] = []
        for row in own:
            if row.score is not None:
                seen.append(float(row.score))
                day = time.strftime("%Y-%m-%d", time.gmtime(row.scored_at))
                running[day] = round(statistics.fmean(seen), 4)
        figure.update({
            "gold_scored": len(own),
            "gold_score": _mean(marks),
            "gold_wer": _mean([float(r.wer) for r in own if r.wer is not None]),
            "gold_running": [{"day": d, "score": v} for d, v in sorted(running.items())],
        })  # fmt: skip
    return figures


def _agreement(
    tasks: Sequence[Any], revisions: dict[str, list[_Revision]], rates: dict[str, int],
    names: dict[str, str], schema: Any,
) -> dict[str, Any]:  # fmt: skip
    """Pairwise WER/CER/DER and per-field alpha over recordings annotated more than once."""
    by_segment: dict[str, list[tuple[str, LabelDocument]]] = defaultdict(list)
    for task in tasks:
        handed = [r for r in revisions[task.id] if not r.draft and r.role == Role.ANNOTATOR.value]
        if handed:
            by_segment[task.segment_id].append((task.assignee_id, handed[-1].document))
    pairs: list[dict[str, Any]] = []
    units: list[list[tuple[str, LabelDocument]]] = []
    for segment_id, docs in sorted(by_segment.items()):
        if len({user for user, _doc in docs}) < 2:
            continue
        units.append(docs)
        for i in range(len(docs)):
            for j in range(i + 1, len(docs)):
                (a, doc_a), (b, doc_b) = docs[i], docs[j]
                pairs.append({
                    "segment_id": segment_id, "annotators": [a, b],
                    "names": [names.get(a, ""), names.get(b, "")],
                    "wer": agreement.wer(doc_a, doc_b), "cer": agreement.cer(doc_a, doc_b),
                    "der": agreement.der(doc_a, doc_b, rates[segment_id]),
                })  # fmt: skip
    fields = {}
    choices = [f.name for f in schema.task_labels if f.kind == "choice"] if schema else []
    coders = sorted({user for docs in units for user, _doc in docs})
    for name in choices:
        values = [
            [next((_value(doc, name) for who, doc in docs if who == coder), None) for docs in units]
            for coder in coders
        ]
        fields[name] = agreement.field_alpha(values)
    return {
        "der_collar_s": agreement.DER_COLLAR_S,
        "recordings": len(units),
        "pairs": pairs,
        "wer_mean": _mean([p["wer"] for p in pairs if p["wer"] is not None]),
        "cer_mean": _mean([p["cer"] for p in pairs if p["cer"] is not None]),
        "der_mean": _mean([p["der"] for p in pairs if p["der"] is not None]),
        "alpha": fields,
    }


def _value(doc: LabelDocument, name: str) -> str | None:
    value = doc.field_value(name)
    return value if isinstance(value, str) else None
