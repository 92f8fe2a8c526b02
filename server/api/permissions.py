"""Who may do what: one table, enforced here, printed in ``docs/security.md``.

A role is held per project (``memberships``); a *server administrator* is a
person, not a project role, and holds no content rights at all. Content —
audio, transcripts, labels, comments — is reached only through a task, and
only by the task's annotator (their own) or a reviewer of the project (handed
in); that per-task rule is ``task_access.may_access``, which asks this table
whether the role may annotate or review.

=================  ========================================================
capability          what it allows
=================  ========================================================
``annotate``        hear and label one's own tasks; ask for context
``review``          replay, correct, comment, accept/reject handed-in tasks
``plan``            read the quality report and the task plan, assign and
                    hand over tasks, set the project's policies (no content)
``administer``      everything ``plan`` allows, and set who has which role in
                    the project (no content)
``read_audit``      read the project's audit log checkpoints and proofs
=================  ========================================================
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Connection, select

from app.wire.schemas import ErrorCode, Role
from server import db
from server.api.errors import ApiError
from server.api.principal import Principal, membership_role


class Capability(StrEnum):
    ANNOTATE = "annotate"
    REVIEW = "review"
    PLAN = "plan"
    ADMINISTER = "administer"
    READ_AUDIT = "read_audit"


GRANTS: dict[Role, frozenset[Capability]] = {
    Role.ANNOTATOR: frozenset({Capability.ANNOTATE}),
    Role.REVIEWER: frozenset({Capability.REVIEW}),
    Role.MANAGER: frozenset({Capability.PLAN}),
    Role.PROJECT_ADMIN: frozenset({Capability.PLAN, Capability.ADMINISTER}),
    Role.AUDITOR: frozenset({Capability.READ_AUDIT}),
}

#: The roles that ever see content (through tasks only).
CONTENT = frozenset(
    r for r, caps in GRANTS.items() if caps & {Capability.ANNOTATE, Capability.REVIEW}
)

#: The audit reason when the caller lacks the capability.
_REASONS = {
    Capability.ANNOTATE: "not_annotator",
    Capability.REVIEW: "not_reviewer",
    Capability.PLAN: "not_manager",
    Capability.ADMINISTER: "not_project_admin",
    Capability.READ_AUDIT: "not_auditor",
}
#: The answer when the caller lacks the capability, by capability.
_WORDS = {
    Capability.ANNOTATE: "only the project's annotators do this",
    Capability.REVIEW: "only the project's reviewers do this",
    Capability.PLAN: "only a manager or administrator of the project does this",
    Capability.ADMINISTER: "only an administrator of the project does this",
    Capability.READ_AUDIT: "no audit log you may read",
}


def may(role: Role | None, capability: Capability) -> bool:
    return role is not None and capability in GRANTS[role]


def require(
    conn: Connection,
    principal: Principal,
    project_id: str,
    capability: Capability,
    unknown_reason: str | None = None,
) -> Role:
    """The caller's role in the project if it grants ``capability``; else 404 or 403.

    A caller with no role in the project gets 404 (its existence is not
    revealed); one with another role 403 — except for the audit log, where both
    get the same 404, so nobody can probe which projects exist. ``unknown_reason``
    names the attempt in the audit record of a caller who is not a member.
    """
    role = membership_role(conn, principal.user_id, project_id)
    if may(role, capability):
        assert role is not None  # noqa: S101 - may() is False for None
        return role
    reason = _REASONS[capability]
    if capability is Capability.READ_AUDIT:
        raise ApiError(404, ErrorCode.NOT_FOUND, _WORDS[capability], reason=reason)
    if role is None:
        why = unknown_reason or reason
        raise ApiError(404, ErrorCode.NOT_FOUND, "no such project", reason=why)
    raise ApiError(
        403, ErrorCode.FORBIDDEN, _WORDS[capability], reason=reason, project_id=project_id
    )


def is_server_admin(conn: Connection, user_id: str) -> bool:
    row = conn.execute(
        select(db.server_admins.c.user_id).where(db.server_admins.c.user_id == user_id)
    ).first()
    return row is not None


def require_server_admin(conn: Connection, principal: Principal) -> None:
    """A server administrator, or 404 (the admin API is not revealed to others)."""
    if not is_server_admin(conn, principal.user_id):
        raise ApiError(404, ErrorCode.NOT_FOUND, "not found", reason="not_server_admin")
