"""A project's listening policy: what must have been heard before a hand-in or an accept.

The defaults (no row): an annotator hands in only once every segment of the document
was heard; a reviewer accepts only once the whole recording was heard. A project admin
changes them with ``cordon-server project policy``; each change is audited.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, select

from app.wire.schemas import AccessAction
from server import audit, db
from server.upsert import upsert


@dataclass(frozen=True)
class ListenPolicy:
    #: Every segment of a handed-in document must have been heard by its annotator.
    submit_coverage: bool = True
    #: Percent of the recording the accepting reviewer must have heard (0: none).
    accept_coverage: int = 100


DEFAULT = ListenPolicy()


def load(conn: Connection, project_id: str) -> ListenPolicy:
    row = conn.execute(
        select(db.project_policies).where(db.project_policies.c.project_id == project_id)
    ).first()
    if row is None:
        return DEFAULT
    return ListenPolicy(bool(row.submit_coverage), int(row.accept_coverage))


def apply(engine: Engine, project_id: str, policy: ListenPolicy, actor: audit.Actor) -> None:
    """Store ``policy`` for the project, audited in the same transaction."""
    if not 0 <= policy.accept_coverage <= 100:
        raise ValueError("accept coverage is a percentage (0-100)")
    values = {
        "project_id": project_id,
        "submit_coverage": policy.submit_coverage,
        "accept_coverage": policy.accept_coverage,
        "updated_at": int(time.time()),
    }
    with engine.begin() as conn:
        upsert(conn, db.project_policies, ["project_id"], values)
        rule = "segments" if policy.submit_coverage else "none"
        audit.record(
            conn, actor, AccessAction.POLICY_CHANGED,
            reason=f"submit_{rule}_accept_{policy.accept_coverage}", project_id=project_id,
        )  # fmt: skip
