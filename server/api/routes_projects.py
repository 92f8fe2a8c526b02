"""Project-level routes for a project's managers: the quality report and the listening policy.

A manager holds no content rights: these answer aggregates and settings only. A caller
who is not a member of the project gets 404 (the project is not revealed); a member in
another role 403 ``not_manager``; both are refusals with a leaf.
"""

from __future__ import annotations

from fastapi import APIRouter

from app.wire.report import ReportOut
from app.wire.review import PolicyIn, PolicyOut
from app.wire.schemas import ErrorCode, Role
from server import listen_policy, report
from server.api.errors import ApiError
from server.api.params import ProjectId
from server.api.principal import Ctx, CurrentPrincipal, JsonBody, Principal, membership_role
from server.context import ServerContext

router = APIRouter(prefix="/v1")


def _require_manager(ctx: ServerContext, principal: Principal, project_id: str, why: str) -> None:
    with ctx.engine.connect() as conn:
        role = membership_role(conn, principal.user_id, project_id)
    if role is None:
        raise ApiError(404, ErrorCode.NOT_FOUND, "no such project", reason=why)
    if role is not Role.MANAGER:
        raise ApiError(
            403, ErrorCode.FORBIDDEN, "only a manager of the project does this",
            reason="not_manager", project_id=project_id,
        )  # fmt: skip


@router.get("/projects/{project_id}/report")
def project_report(project_id: ProjectId, principal: CurrentPrincipal, ctx: Ctx) -> ReportOut:
    """The project's quality figures (aggregates only); making it is audited.

    A plain function: FastAPI runs it on its thread pool, off the event loop (opening
    every handed-in document and the agreement libraries take a while).
    """
    _require_manager(ctx, principal, project_id, "report_read")
    return report.project_report(ctx, project_id, principal.actor())


@router.put("/projects/{project_id}/policy", dependencies=[JsonBody])
def set_policy(
    project_id: ProjectId, body: PolicyIn, principal: CurrentPrincipal, ctx: Ctx
) -> PolicyOut:
    """What must have been heard before a hand-in and an accept; audited."""
    _require_manager(ctx, principal, project_id, "policy_set")
    policy = listen_policy.ListenPolicy(body.submit_coverage, body.accept_coverage)
    listen_policy.apply(ctx.engine, project_id, policy, principal.actor())
    return PolicyOut(project_id=project_id, submit_coverage=policy.submit_coverage,
                     accept_coverage=policy.accept_coverage)  # fmt: skip
