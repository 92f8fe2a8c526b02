"""Retention: how long a project keeps audio, labels and drafts, and the job that applies it.

Per project: audio ``N`` days after its recording's tasks were all accepted,
labels ``M`` days after their task was accepted, drafts ``K`` days after they
were saved. A project without its own policy uses its data class's defaults
(``server.data_classes``). What is due becomes one erasure job
(``server.erasure``, scope ``retention``): the same crypto-shredding, the same
leaves and receipt, the same resumption after a crash. The server runs it at
start and then every hour; ``cordon-server retention run`` runs it at once.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from app.wire.schemas import AccessAction, TaskStatus
from server import audit, data_classes, db, erasure, row_security
from server.context import ServerContext
from server.leader_rounds import LeaderRounds
from server.upsert import upsert

logger = logging.getLogger(__name__)
DAY_S = 86_400
#: How often a serving process applies retention (and finishes interrupted erasures).
INTERVAL_S = 3600.0
MAX_DAYS = 36_500


class RetentionError(ValueError):
    """A policy that cannot be set (negative or absurd days)."""

    code = "retention_invalid"


@dataclass(frozen=True)
class Retention:
    audio_days: int | None
    label_days: int | None
    draft_days: int | None
    source: str  # "project" or "class:<name>"

    def describe(self) -> str:
        def days(n: int | None) -> str:
            return "kept" if n is None else f"{n} days"

        return (
            f"audio {days(self.audio_days)} after acceptance, labels {days(self.label_days)} "
            f"after acceptance, drafts {days(self.draft_days)} after saving ({self.source})"
        )


def _check(days: int | None, what: str) -> int | None:
    if days is not None and not 0 <= days <= MAX_DAYS:
        raise RetentionError(f"{what} must be 0 to {MAX_DAYS} days (or 'keep')")
    return days


def set_policy(
    conn: Connection, project_id: str, audio_days: int | None, label_days: int | None,
    draft_days: int | None, actor: audit.Actor,
) -> Retention:  # fmt: skip
    """Set the project's own retention (None keeps that kind forever); audited."""
    values = {
        "audio_days": _check(audio_days, "audio"),
        "label_days": _check(label_days, "labels"),
        "draft_days": _check(draft_days, "drafts"),
        "updated_at": int(time.time()),
    }
    upsert(conn, db.retention_policies, ["project_id"], {"project_id": project_id, **values})
    reason = "retention_" + "_".join(
        f"{k[0]}{'keep' if v is None else v}"
        for k, v in (("audio", audio_days), ("label", label_days), ("draft", draft_days))
    )
    audit.record(conn, actor, AccessAction.GOVERNANCE_CHANGED, reason=reason,
                 project_id=project_id)  # fmt: skip
    return effective(conn, project_id)


def effective(conn: Connection, project_id: str) -> Retention:
    """The project's own policy, or its data class's defaults."""
    row = conn.execute(
        select(db.retention_policies).where(db.retention_policies.c.project_id == project_id)
    ).first()
    if row is not None:
        return Retention(row.audio_days, row.label_days, row.draft_days, "project")
    data_class = data_classes.of_project(conn, project_id)
    c = data_classes.controls(data_class)
    return Retention(c.audio_days, c.label_days, c.draft_days, f"class:{data_class.value}")


def _accepted_at(conn: Connection, project_id: str) -> dict[str, tuple[str, int, bool]]:
    """Accepted tasks of the project: task id -> (segment id, acceptance time, labels erased)."""
    rows = conn.execute(
        select(db.tasks.c.id, db.tasks.c.segment_id, db.tasks.c.erased_at,
               func.max(db.task_transitions.c.created_at))
        .join(db.task_transitions, db.task_transitions.c.task_id == db.tasks.c.id)
        .where(
            db.tasks.c.project_id == project_id,
            db.tasks.c.status == TaskStatus.ACCEPTED.value,
            db.task_transitions.c.to_status == TaskStatus.ACCEPTED.value,
        )
        .group_by(db.tasks.c.id, db.tasks.c.segment_id, db.tasks.c.erased_at)
    ).all()  # fmt: skip
    return {str(r[0]): (str(r[1]), int(r[3]), r[2] is not None) for r in rows}


def _shorter(*days: int | None) -> int | None:
    """The shortest of the periods that are set (None: kept)."""
    known = [d for d in days if d is not None]
    return min(known) if known else None


def _class_days(conn: Connection, segment_id: str) -> data_classes.Controls:
    return data_classes.controls(data_classes.of_segment(conn, segment_id))


def _recording_groups(conn: Connection, segment_ids: set[str]) -> dict[str, list[str]]:
    """Source recording -> itself and every window and context stretch cut from it."""
    groups: dict[str, list[str]] = {}
    for segment_id in sorted(segment_ids):
        source = conn.execute(
            select(db.segment_windows.c.source_segment_id).where(
                db.segment_windows.c.segment_id == segment_id
            )
        ).scalar()
        root = str(source or segment_id)
        if root in groups:
            continue
        cuts = conn.execute(
            select(db.segment_windows.c.segment_id)
            .where(db.segment_windows.c.source_segment_id == root)
            .order_by(db.segment_windows.c.segment_id)
        ).scalars()
        groups[root] = [root, *(str(c) for c in cuts)]
    return groups


def _audio_due(
    conn: Connection, policy: Retention, accepted: dict[str, tuple[str, int, bool]], now: int
) -> list[tuple[str, str]]:
    """A recording's audio is due once every task on it and on every window cut from it
    was accepted, the period after the last acceptance; its cuts go with it."""
    items: list[tuple[str, str]] = []
    last: dict[str, int] = {}
    for segment_id, at, _erased in accepted.values():
        last[segment_id] = max(at, last.get(segment_id, 0))
    for members in _recording_groups(conn, set(last)).values():
        open_tasks = conn.execute(
            select(func.count())
            .select_from(db.tasks)
            .where(
                db.tasks.c.segment_id.in_(members),
                db.tasks.c.status != TaskStatus.ACCEPTED.value,
            )
        ).scalar_one()
        if open_tasks:
            continue
        days = _shorter(policy.audio_days, *(_class_days(conn, m).audio_days for m in members))
        at = max(last.get(m, 0) for m in members)
        if days is None or at > now - days * DAY_S:
            continue
        live = conn.execute(
            select(db.segments.c.id)
            .where(db.segments.c.id.in_(members), db.segments.c.erased_at.is_(None))
            .order_by(db.segments.c.id)
        ).scalars()
        items += [(erasure.AUDIO, str(m)) for m in live]
    return items


def due(conn: Connection, project_id: str, now: int) -> list[tuple[str, str]]:
    """The erasure items the project's retention makes due at ``now``. A recording whose
    data class has a shorter default than the project's retention follows the shorter."""
    policy = effective(conn, project_id)
    accepted = _accepted_at(conn, project_id)
    items = _audio_due(conn, policy, accepted, now)
    for task_id, (segment_id, at, erased) in sorted(accepted.items()):
        days = _shorter(policy.label_days, _class_days(conn, segment_id).label_days)
        if not erased and days is not None and at <= now - days * DAY_S:
            items.append((erasure.LABELS, task_id))
    stale = conn.execute(
        select(db.labels.c.task_id, db.tasks.c.segment_id, func.min(db.labels.c.created_at))
        .join(db.label_revisions, db.label_revisions.c.label_id == db.labels.c.id)
        .join(db.tasks, db.tasks.c.id == db.labels.c.task_id)
        .where(db.labels.c.project_id == project_id, db.label_revisions.c.draft.is_(True))
        .group_by(db.labels.c.task_id, db.tasks.c.segment_id)
        .order_by(db.labels.c.task_id)
    ).all()
    for task_id, segment_id, oldest in stale:
        days = _shorter(policy.draft_days, _class_days(conn, str(segment_id)).draft_days)
        if days is not None and int(oldest) < now - days * DAY_S:
            items.append((erasure.DRAFTS, f"{task_id}@{now - days * DAY_S}"))
    return items


def run(ctx: ServerContext, *, now: int | None = None) -> list[erasure.Receipt]:
    """Finish interrupted erasures, then erase what every project's retention makes due."""
    receipts = erasure.resume(ctx)
    at = int(time.time()) if now is None else now
    with ctx.engine.connect() as conn:
        projects = [
            str(p)
            for p in conn.execute(
                select(db.projects.c.id).where(db.projects.c.erased_at.is_(None))
            ).scalars()
        ]
    for project_id in projects:
        with ctx.engine.connect() as conn:
            items = due(conn, project_id, at)
        if items:
            job = erasure.request(
                ctx, project_id, "retention", str(at), audit.Actor(None), items=items
            )
            receipts.append(erasure.run(ctx, job))
    return receipts


class RetentionThread(LeaderRounds):
    """Applies retention in a serving process: soon after start, then every ``interval_s``."""

    def __init__(self, ctx: ServerContext, interval_s: float = INTERVAL_S) -> None:
        super().__init__("retention", ctx.data, lambda: self._apply(ctx), interval_s)

    @staticmethod
    def _apply(ctx: ServerContext) -> None:
        with row_security.every_project():  # every project's policies and erasures
            receipts = run(ctx)
        if receipts:
            logger.info("retention: %d erasure job(s) finished", len(receipts))
