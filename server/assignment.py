"""Who works on what: creating a task for an annotator, handing it to another, gold top-up.

One place for the rules, used by the admin CLI, the demo and the managers' API:

* a task goes to an **annotator of the segment's project**, and never to someone who
  already has a task on that recording (blind double annotation: two tasks on one
  recording are two independent annotations);
* a task moves to another annotator only before it is handed in, or after it was
  rejected (the new assignee continues its revisions); never once it is in review or
  accepted;
* a project may require N independent annotations per recording: once a recording has
  a task, it gets tasks for other annotators (fewest open tasks first) up to N;
* after each assignment, the annotator's queue is topped up with gold tasks at the
  project's gold rate (:func:`server.gold.due`).

Every assignment is audited (``task_assigned``, reason ``assigned``, ``gold`` or
``reassigned``) in the transaction that makes it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Connection, func, insert, select, update

from app.domain.lifecycle import REASSIGNABLE
from app.wire.schemas import AccessAction, Role, TaskStatus
from server import audit, db, gold
from server.coded_error import CodedError
from server.ingest import new_id
from server.upsert import upsert


@dataclass(frozen=True)
class Assigned:
    task_id: str
    #: Gold tasks the same annotator got right after it (the project's gold rate).
    gold_task_ids: list[str]


class AssignmentError(CodedError):
    """An assignment the rules refuse; ``code`` is stable (the API answers it as the reason)."""


def check_annotator(conn: Connection, project_id: str, user_id: str) -> None:
    role = conn.execute(
        select(db.memberships.c.role).where(
            db.memberships.c.user_id == user_id, db.memberships.c.project_id == project_id
        )
    ).scalar()
    if role != Role.ANNOTATOR.value:
        raise AssignmentError("not_annotator", "the assignee is not an annotator of the project")


def has_task_on(conn: Connection, segment_id: str, user_id: str) -> bool:
    """``user_id`` already has a task on the recording (blind double annotation's rule)."""
    taken = conn.execute(
        select(db.tasks.c.id).where(
            db.tasks.c.segment_id == segment_id, db.tasks.c.assignee_id == user_id
        )
    ).first()
    return taken is not None


def _check_blind(conn: Connection, segment_id: str, user_id: str) -> None:
    if has_task_on(conn, segment_id, user_id):
        raise AssignmentError(
            "already_on_recording", "the assignee already has a task on this recording"
        )


def _insert(
    conn: Connection, project_id: str, segment_id: str, user_id: str, actor: audit.Actor,
    reason: str,
) -> str:  # fmt: skip
    task_id = new_id("tsk")
    conn.execute(
        insert(db.tasks).values(
            id=task_id, project_id=project_id, segment_id=segment_id, assignee_id=user_id,
            status=TaskStatus.ASSIGNED.value, created_at=int(time.time()),
        )
    )  # fmt: skip
    audit.record(
        conn, actor, AccessAction.TASK_ASSIGNED, reason=reason,
        project_id=project_id, task_id=task_id, segment_id=segment_id,
    )  # fmt: skip
    return task_id


def top_up(conn: Connection, project_id: str, user_id: str, actor: audit.Actor) -> list[str]:
    """Gold tasks due to ``user_id`` at the project's rate; their task ids."""
    made = []
    for gold_id, segment_id in gold.due(conn, project_id, user_id):
        task_id = _insert(conn, project_id, segment_id, user_id, actor, "gold")
        gold.mark(conn, task_id, gold_id)
        made.append(task_id)
    return made


def assign(conn: Connection, segment_id: str, user_id: str, actor: audit.Actor) -> Assigned:
    """A new task on ``segment_id`` for ``user_id``; then the gold top-up."""
    seg = conn.execute(select(db.segments).where(db.segments.c.id == segment_id)).first()
    if seg is None:
        raise AssignmentError("unknown_recording", f"no recording {segment_id}")
    if seg.erased_at is not None:
        raise AssignmentError("erased", "the recording's audio was erased")
    check_annotator(conn, seg.project_id, user_id)
    _check_blind(conn, segment_id, user_id)
    task_id = _insert(conn, seg.project_id, segment_id, user_id, actor, "assigned")
    gold_ids = top_up(conn, seg.project_id, user_id, actor)
    for other in fill_recording(conn, seg.project_id, segment_id, actor):
        gold_ids += top_up(conn, seg.project_id, other, actor)
    return Assigned(task_id, gold_ids)


def reassign(conn: Connection, task_id: str, user_id: str, actor: audit.Actor) -> list[str]:
    """Hand ``task_id`` to ``user_id``; the status check is inside the UPDATE."""
    task = conn.execute(select(db.tasks).where(db.tasks.c.id == task_id)).first()
    if task is None:
        raise AssignmentError("unknown_task", f"no task {task_id}")
    if task.assignee_id == user_id:
        return []
    if TaskStatus(task.status) not in REASSIGNABLE:
        raise AssignmentError(
            f"reassign_from_{task.status}",
            f"the task is {task.status.replace('_', ' ')}: it stays with its annotator",
        )
    check_annotator(conn, task.project_id, user_id)
    _check_blind(conn, task.segment_id, user_id)
    moved = conn.execute(
        update(db.tasks)
        .where(db.tasks.c.id == task_id, db.tasks.c.status == task.status)
        .values(assignee_id=user_id)
    ).rowcount
    if moved != 1:
        raise AssignmentError("task_moved", "the task changed meanwhile; look again")
    audit.record(
        conn, actor, AccessAction.TASK_ASSIGNED, reason="reassigned",
        project_id=task.project_id, task_id=task_id, segment_id=task.segment_id,
    )  # fmt: skip
    return top_up(conn, task.project_id, user_id, actor)


def set_gold_rate(conn: Connection, project_id: str, rate: int, actor: audit.Actor) -> list[str]:
    """Store the rate and top up every annotator of the project at once; new gold task ids."""
    gold.store_rate(conn, project_id, rate, actor)
    return top_up_project(conn, project_id, actor)


def top_up_project(conn: Connection, project_id: str, actor: audit.Actor) -> list[str]:
    """:func:`top_up` for every annotator of the project (after a rate or an answer change)."""
    annotators = conn.execute(
        select(db.memberships.c.user_id).where(
            db.memberships.c.project_id == project_id,
            db.memberships.c.role == Role.ANNOTATOR.value,
        )
    ).scalars()
    made: list[str] = []
    for user_id in sorted(annotators):
        made += top_up(conn, project_id, user_id, actor)
    return made


# -- N independent annotations per recording -------------------------------------------
MAX_PER_RECORDING = 5


def load_per_recording(conn: Connection, project_id: str) -> int:
    found = conn.execute(
        select(db.annotation_policies.c.per_recording).where(
            db.annotation_policies.c.project_id == project_id
        )
    ).scalar()
    return int(found or 1)


def set_per_recording(conn: Connection, project_id: str, count: int, actor: audit.Actor) -> int:
    """Store N (audited ``policy_changed``, reason ``annotations_<n>``) and fill every
    recording up to it at once; the number of tasks made."""
    if not 1 <= count <= MAX_PER_RECORDING:
        raise AssignmentError(
            "annotations_invalid", f"annotations per recording are 1 to {MAX_PER_RECORDING}"
        )
    values = {"project_id": project_id, "per_recording": count, "updated_at": int(time.time())}
    upsert(conn, db.annotation_policies, ["project_id"], values)
    audit.record(
        conn, actor, AccessAction.POLICY_CHANGED, reason=f"annotations_{count}",
        project_id=project_id,
    )  # fmt: skip
    assigned = conn.execute(
        select(db.tasks.c.segment_id)
        .outerjoin(db.gold_tasks, db.gold_tasks.c.task_id == db.tasks.c.id)
        .where(db.tasks.c.project_id == project_id, db.gold_tasks.c.task_id.is_(None))
        .distinct()
    ).scalars()
    made = 0
    for segment_id in sorted(assigned):
        for user_id in fill_recording(conn, project_id, segment_id, actor):
            top_up(conn, project_id, user_id, actor)
            made += 1
    return made


def fill_recording(
    conn: Connection, project_id: str, segment_id: str, actor: audit.Actor
) -> list[str]:
    """Tasks on ``segment_id`` for more annotators until it has the project's N (a gold
    recording is left to the gold mix); the new assignees, fewest open tasks first."""
    wanted = load_per_recording(conn, project_id)
    if wanted <= 1 or gold_answer_on(conn, segment_id):
        return []
    erased = conn.execute(
        select(db.segments.c.erased_at).where(db.segments.c.id == segment_id)
    ).scalar()
    if erased is not None:
        return []
    holders = set(
        conn.execute(
            select(db.tasks.c.assignee_id).where(db.tasks.c.segment_id == segment_id)
        ).scalars()
    )
    if not holders or len(holders) >= wanted:
        return []
    open_statuses = [s.value for s in REASSIGNABLE]
    load: dict[str, int] = {
        str(user_id): int(count)
        for user_id, count in conn.execute(
            select(db.tasks.c.assignee_id, func.count())
            .where(db.tasks.c.project_id == project_id, db.tasks.c.status.in_(open_statuses))
            .group_by(db.tasks.c.assignee_id)
        )
    }
    candidates = sorted(
        (
            (load.get(user_id, 0), name, user_id)
            for user_id, name in conn.execute(
                select(db.users.c.id, db.users.c.display_name)
                .join(db.memberships, db.memberships.c.user_id == db.users.c.id)
                .where(
                    db.memberships.c.project_id == project_id,
                    db.memberships.c.role == Role.ANNOTATOR.value,
                )
            )
            if user_id not in holders
        )
    )
    chosen = [user_id for _load, _name, user_id in candidates[: wanted - len(holders)]]
    for user_id in chosen:
        _insert(conn, project_id, segment_id, user_id, actor, "assigned")
    return chosen


def gold_answer_on(conn: Connection, segment_id: str) -> bool:
    return (
        conn.execute(
            select(db.gold_answers.c.id).where(db.gold_answers.c.segment_id == segment_id)
        ).first()
        is not None
    )
