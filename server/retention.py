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
import threading
import time
from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from app.wire.schemas import AccessAction, TaskStatus
from server import audit, data_classes, db, erasure
from server.context import ServerContext
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


def _accepted_at(conn: Connection, project_id: str) -> dict[str, tuple[str, int]]:
    """Accepted, unerased tasks of the project: task id -> (segment id, acceptance time)."""
    rows = conn.execute(
        select(db.tasks.c.id, db.tasks.c.segment_id, func.max(db.task_transitions.c.created_at))
        .join(db.task_transitions, db.task_transitions.c.task_id == db.tasks.c.id)
        .where(
            db.tasks.c.project_id == project_id,
            db.tasks.c.status == TaskStatus.ACCEPTED.value,
            db.tasks.c.erased_at.is_(None),
            db.task_transitions.c.to_status == TaskStatus.ACCEPTED.value,
        )
        .group_by(db.tasks.c.id, db.tasks.c.segment_id)
    ).all()
    return {str(r[0]): (str(r[1]), int(r[2])) for r in rows}


def due(conn: Connection, project_id: str, now: int) -> list[tuple[str, str]]:
    """The erasure items the project's retention makes due at ``now``."""
    policy = effective(conn, project_id)
    items: list[tuple[str, str]] = []
    accepted = _accepted_at(conn, project_id)
    if policy.audio_days is not None:
        limit = now - policy.audio_days * DAY_S
        by_segment: dict[str, int] = {}
        for segment_id, at in accepted.values():
            by_segment[segment_id] = max(at, by_segment.get(segment_id, 0))
        for segment_id, at in sorted(by_segment.items()):
            open_tasks = conn.execute(
                select(func.count())
                .select_from(db.tasks)
                .where(
                    db.tasks.c.segment_id == segment_id,
                    db.tasks.c.status != TaskStatus.ACCEPTED.value,
                )
            ).scalar_one()
            erased = conn.execute(
                select(db.segments.c.erased_at).where(db.segments.c.id == segment_id)
            ).scalar()
            if at <= limit and open_tasks == 0 and erased is None:
                items.append((erasure.AUDIO, segment_id))
    if policy.label_days is not None:
        limit = now - policy.label_days * DAY_S
        items += [(erasure.LABELS, t) for t, (_, at) in sorted(accepted.items()) if at <= limit]
    if policy.draft_days is not None:
        before = now - policy.draft_days * DAY_S
        stale = conn.execute(
            select(db.labels.c.task_id)
            .join(db.label_revisions, db.label_revisions.c.label_id == db.labels.c.id)
            .where(
                db.labels.c.project_id == project_id,
                db.label_revisions.c.draft.is_(True),
                db.labels.c.created_at < before,
            )
            .group_by(db.labels.c.task_id)
            .order_by(db.labels.c.task_id)
        ).scalars()
        items += [(erasure.DRAFTS, f"{t}@{before}") for t in stale]
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


class RetentionThread:
    """Applies retention in a serving process: soon after start, then every ``interval_s``."""

    def __init__(self, ctx: ServerContext, interval_s: float = INTERVAL_S) -> None:
        self._ctx = ctx
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cordon-retention", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        delay = 0.5
        while not self._stop.wait(delay):
            try:
                receipts = run(self._ctx)
                if receipts:
                    logger.info("retention: %d erasure job(s) finished", len(receipts))
            except Exception:  # a failed round is retried next round
                logger.exception("retention round failed; retried in %.0f s", self._interval)
            delay = self._interval

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
