"""Gold tasks: recordings with a known answer, mixed into annotators' queues unannounced.

A project's manager (or the server administrator) makes a *gold answer* from a task a
reviewer accepted, or from an answer file, and sets a *gold rate*: the percent of each
annotator's tasks that are gold tasks. :mod:`server.assignment` tops a queue up with
gold tasks as real tasks are assigned. A gold task is an ordinary task row — its
marker lives in ``gold_tasks``, which no annotator-facing answer reads — so nothing an
annotator receives tells it apart. Its hand-ins are scored against the answer at once
(WER and CER with jiwer, the task's choice fields by equality) and never reach a
reviewer's queue; each annotator's running score is in the project report.

The answer is sealed under the project key like a label, bound to kind ``gold`` and its
segment; it is opened in memory only to score.
"""

from __future__ import annotations

import json
import secrets
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, func, insert, select, update

from app.domain.document_check import check_document
from app.domain.label_document import LabelDocument, from_wire, read_stored, to_json_dict
from app.domain.project_schema import ProjectSchema
from app.wire.label_document import LabelDocumentWire
from app.wire.schemas import AccessAction, TaskStatus
from server import agreement, audit, comparisons, db, project_schemas, segment_meta, task_keys
from server.api import task_lifecycle
from server.ingest import new_id
from server.upsert import upsert
from server.vault import KeyVault as Vault

KIND = "gold"


class GoldError(Exception):
    """A gold answer that cannot be made (no accepted revision, already gold, ...)."""


@dataclass(frozen=True)
class GoldAnswer:
    """A gold answer as its managers see it: ids and counts, no content."""

    gold_id: str
    segment_id: str
    title: str
    source_task_id: str | None
    created_at: int
    retired: bool
    tasks: int
    scored: int


@dataclass(frozen=True)
class Score:
    """One gold hand-in against its answer."""

    wer: float | None
    cer: float | None
    fields_matched: int
    fields_total: int

    @property
    def score(self) -> float | None:
        """The mean of ``1 - WER`` (at least 0) and the share of choice fields right."""
        parts = []
        if self.wer is not None:
            parts.append(max(0.0, 1.0 - self.wer))
        if self.fields_total:
            parts.append(self.fields_matched / self.fields_total)
        return round(statistics.fmean(parts), 4) if parts else None


# -- the rate ----------------------------------------------------------------------------
def load_rate(conn: Connection, project_id: str) -> int:
    """Percent of an annotator's tasks that are gold (0: none, the default)."""
    rate = conn.execute(
        select(db.gold_policies.c.rate_percent).where(db.gold_policies.c.project_id == project_id)
    ).scalar()
    return int(rate or 0)


def store_rate(conn: Connection, project_id: str, rate: int, actor: audit.Actor) -> None:
    """Set the gold rate (audited as ``policy_changed``, reason ``gold_<percent>``)."""
    if not 0 <= rate <= 50:
        raise GoldError("the gold rate is a percentage from 0 to 50")
    values = {"project_id": project_id, "rate_percent": rate, "updated_at": int(time.time())}
    upsert(conn, db.gold_policies, ["project_id"], values)
    audit.record(
        conn, actor, AccessAction.POLICY_CHANGED, reason=f"gold_{rate}", project_id=project_id
    )


def due(conn: Connection, project_id: str, user_id: str) -> list[tuple[str, str]]:
    """(gold id, segment id) of the gold tasks ``user_id`` should get now, at the rate.

    With rate r %, the user's gold tasks make up at most r % of all their tasks in the
    project: one more is due once ``(gold + 1) * (100 - r) <= real * r``. Each comes from
    an answer whose recording the user has no task on (so never their own source task),
    chosen at random.
    """
    rate = load_rate(conn, project_id)
    if rate <= 0:
        return []
    own = conn.execute(
        select(db.tasks.c.segment_id, db.gold_tasks.c.gold_id)
        .outerjoin(db.gold_tasks, db.gold_tasks.c.task_id == db.tasks.c.id)
        .where(db.tasks.c.project_id == project_id, db.tasks.c.assignee_id == user_id)
    ).all()
    gold = sum(1 for row in own if row.gold_id is not None)
    real = len(own) - gold
    seen = {row.segment_id for row in own}
    pool = [
        (str(row.id), str(row.segment_id))
        for row in conn.execute(
            select(db.gold_answers.c.id, db.gold_answers.c.segment_id)
            .join(db.segments, db.segments.c.id == db.gold_answers.c.segment_id)
            .where(
                db.gold_answers.c.project_id == project_id,
                db.gold_answers.c.retired_at.is_(None),
                db.segments.c.erased_at.is_(None),  # no audio to hear any more
            )
        )
        if row.segment_id not in seen
    ]
    out: list[tuple[str, str]] = []
    while pool and (gold + len(out) + 1) * (100 - rate) <= real * rate:
        out.append(pool.pop(secrets.randbelow(len(pool))))
    return out


def mark(conn: Connection, task_id: str, gold_id: str) -> None:
    conn.execute(insert(db.gold_tasks).values(task_id=task_id, gold_id=gold_id))


def gold_id_of(conn: Connection, task_id: str) -> str | None:
    """The answer a task is scored against; ``None`` for every ordinary task."""
    found = conn.execute(
        select(db.gold_tasks.c.gold_id).where(db.gold_tasks.c.task_id == task_id)
    ).scalar()
    return str(found) if found is not None else None


# -- answers -----------------------------------------------------------------------------
def _store_answer(
    conn: Connection, vault: Vault, project: Any, segment_id: str, document: LabelDocument,
    source_task_id: str | None, actor: audit.Actor,
) -> str:  # fmt: skip
    taken = conn.execute(
        select(db.gold_answers.c.id).where(db.gold_answers.c.segment_id == segment_id)
    ).scalar()
    if taken is not None:
        raise GoldError(f"the recording already has gold answer {taken}")
    gold_id = new_id("gld")
    data = json.dumps({"document": to_json_dict(document)}).encode("utf-8")
    sealed = vault.seal_record(project.id, project.wrapped_key, KIND, segment_id, gold_id, data)
    conn.execute(
        insert(db.gold_answers).values(
            id=gold_id, project_id=project.id, segment_id=segment_id,
            source_task_id=source_task_id, sealed_document=sealed, created_at=int(time.time()),
        )
    )  # fmt: skip
    audit.record(
        conn, actor, AccessAction.GOLD_CHANGED,
        reason="from_task" if source_task_id else "from_file",
        project_id=project.id, task_id=source_task_id, segment_id=segment_id,
    )  # fmt: skip
    return gold_id


def add_from_task(conn: Connection, vault: Vault, task_id: str, actor: audit.Actor) -> str:
    """The accepted document of ``task_id`` becomes its recording's gold answer."""
    task = conn.execute(select(db.tasks).where(db.tasks.c.id == task_id)).first()
    if task is None:
        raise GoldError(f"no task {task_id}")
    if task.status != TaskStatus.ACCEPTED.value:
        raise GoldError("only an accepted task's document can be a gold answer")
    if gold_id_of(conn, task_id) is not None:
        raise GoldError("a gold task cannot be the source of a gold answer")
    project = conn.execute(select(db.projects).where(db.projects.c.id == task.project_id)).one()
    document = _final_document(conn, vault, project, task)
    return _store_answer(conn, vault, project, task.segment_id, document, task_id, actor)


def read_answer(conn: Connection, segment_id: str, raw: bytes) -> LabelDocument:
    """An answer file (a label document, JSON) checked like a final hand-in on the segment."""
    try:
        wire = LabelDocumentWire.model_validate_json(raw)
    except ValidationError as exc:
        raise GoldError(f"not a label document: {exc.errors()[0]['msg']}") from exc
    seg = conn.execute(select(db.segments).where(db.segments.c.id == segment_id)).one()
    loaded = project_schemas.load(conn, seg.project_id, wire.schema_version)
    if loaded is None:
        raise GoldError(f"the project has no schema version {wire.schema_version}")
    compared = comparisons.outputs_of(conn, segment_id)
    document = from_wire(wire)
    problems = check_document(
        document, loaded[0], frames=int(seg.frames), channels=int(seg.channels), final=True,
        kind=compared.kind, outputs=compared.output_ids,
    )  # fmt: skip
    if problems:
        raise GoldError(f"{problems[0].path}: {problems[0].message}")
    return document


def add_answer(
    conn: Connection, vault: Vault, segment_id: str, document: LabelDocument, actor: audit.Actor
) -> str:
    """``document`` (already checked against the schema and the audio) is the answer."""
    seg = conn.execute(select(db.segments).where(db.segments.c.id == segment_id)).one()
    project = conn.execute(select(db.projects).where(db.projects.c.id == seg.project_id)).one()
    return _store_answer(conn, vault, project, segment_id, document, None, actor)


def retire(conn: Connection, gold_id: str, actor: audit.Actor) -> None:
    """Hand the answer out no more; what was handed in stays scored."""
    row = conn.execute(select(db.gold_answers).where(db.gold_answers.c.id == gold_id)).first()
    if row is None:
        raise GoldError(f"no gold answer {gold_id}")
    if row.retired_at is not None:
        return
    conn.execute(
        update(db.gold_answers)
        .where(db.gold_answers.c.id == gold_id)
        .values(retired_at=int(time.time()))
    )
    audit.record(
        conn, actor, AccessAction.GOLD_CHANGED, reason="retired",
        project_id=row.project_id, segment_id=row.segment_id,
    )  # fmt: skip


def answers(conn: Connection, vault: Vault, project_id: str) -> list[GoldAnswer]:
    tasks = (
        select(db.gold_tasks.c.gold_id, func.count().label("n"))
        .group_by(db.gold_tasks.c.gold_id)
        .subquery()
    )
    scored = (
        select(db.gold_tasks.c.gold_id, func.count().label("n"))
        .join(db.gold_scores, db.gold_scores.c.task_id == db.gold_tasks.c.task_id)
        .group_by(db.gold_tasks.c.gold_id)
        .subquery()
    )
    rows = conn.execute(
        select(
            db.gold_answers,
            db.segments.c.title,
            db.segments.c.sealed_title,
            db.segments.c.erased_at.label("segment_erased_at"),
            db.projects.c.wrapped_key.label("project_key"),
            tasks.c.n.label("tasks"),
            scored.c.n.label("scored"),
        )
        .join(db.segments, db.segments.c.id == db.gold_answers.c.segment_id)
        .join(db.projects, db.projects.c.id == db.gold_answers.c.project_id)
        .outerjoin(tasks, tasks.c.gold_id == db.gold_answers.c.id)
        .outerjoin(scored, scored.c.gold_id == db.gold_answers.c.id)
        .where(db.gold_answers.c.project_id == project_id)
        .order_by(db.gold_answers.c.created_at, db.gold_answers.c.id)
    ).all()
    out = []
    for r in rows:
        out.append(GoldAnswer(
            str(r.id), str(r.segment_id),
            segment_meta.opened_title(
                vault, project_id, r.project_key, str(r.segment_id), r.title, r.sealed_title,
                r.segment_erased_at,
            ),
            r.source_task_id, int(r.created_at),
            r.retired_at is not None, int(r.tasks or 0), int(r.scored or 0),
        ))  # fmt: skip
    return out


def _final_document(conn: Connection, vault: Vault, project: Any, task: Any) -> LabelDocument:
    """The newest handed-in revision of an accepted task: what the reviewer accepted."""
    revision = task_lifecycle.newest_handed_in(conn, task.id)
    row = conn.execute(
        select(db.labels).where(db.labels.c.task_id == task.id, db.labels.c.revision == revision)
    ).first()
    if row is None:
        raise GoldError("the task has no handed-in revision")
    frames = conn.execute(
        select(db.segments.c.frames).where(db.segments.c.id == task.segment_id)
    ).scalar_one()
    stored = task_keys.open_stored_label(vault, project, task, row)
    return read_stored(stored, int(frames))


# -- scoring -----------------------------------------------------------------------------
def compare(answer: LabelDocument, hand_in: LabelDocument, choice_fields: Sequence[str]) -> Score:
    """``hand_in`` against ``answer``: WER/CER of the transcripts, and the choice fields
    the answer fills that the hand-in fills the same way."""
    filled = [name for name in choice_fields if answer.field_value(name) is not None]
    matched = sum(1 for name in filled if hand_in.field_value(name) == answer.field_value(name))
    return Score(
        agreement.wer(answer, hand_in), agreement.cer(answer, hand_in), matched, len(filled)
    )


def score_hand_in(
    conn: Connection, vault: Vault, gold_id: str, task: Any, user_id: str, revision: int,
    hand_in: LabelDocument, schema: ProjectSchema,
) -> Score:  # fmt: skip
    """Score a gold task's hand-in, replacing the score of its earlier hand-in if any."""
    row = conn.execute(select(db.gold_answers).where(db.gold_answers.c.id == gold_id)).one()
    project = conn.execute(select(db.projects).where(db.projects.c.id == row.project_id)).one()
    opened = vault.open_record(
        project.id, project.wrapped_key, KIND, row.segment_id, gold_id, row.sealed_document
    )
    frames = conn.execute(
        select(db.segments.c.frames).where(db.segments.c.id == row.segment_id)
    ).scalar_one()
    answer = read_stored(json.loads(opened), int(frames))
    choices = [f.name for f in schema.task_labels if f.kind == "choice"]
    result = compare(answer, hand_in, choices)
    values = {
        "task_id": task.id, "user_id": user_id, "revision": revision,
        "wer": result.wer, "cer": result.cer, "fields_matched": result.fields_matched,
        "fields_total": result.fields_total, "score": result.score,
        "scored_at": int(time.time()),
    }  # fmt: skip
    upsert(conn, db.gold_scores, ["task_id"], values)
    return result
