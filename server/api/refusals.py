"""Record what the server refused, after the refused request's transaction is gone.

One request, one transaction: a route refuses by raising
:class:`~server.api.errors.ApiError`, which rolls its transaction back (an
idempotency claim included) and releases SQLite's write lock. Only then, in
the error handler, is the ``access_refused`` event and its audit leaf
committed — in a transaction of its own that nothing else of the request
holds, so it cannot wait on the request's own lock (which once stalled every
writer for the busy timeout and turned a 404 into a 503).

Who is recorded: a caller the server could authenticate. A request without a
valid token is answered 401 and logged by count only: anyone can send those,
and recording them would let an anonymous client grow the audit log without
limit. If the record itself cannot be written, the refusal still stands (the
answer is the same 4xx — nothing was done) and the log says so by reason code.
"""

from __future__ import annotations

import logging

from fastapi import Request
from sqlalchemy.exc import SQLAlchemyError

from server import audit
from server.api.errors import Refusal
from server.api.principal import get_context, principal_if_any

logger = logging.getLogger(__name__)


def record_after_rollback(request: Request, record: Refusal) -> bool:
    """Commit ``record`` for the request's caller; ``False`` if nobody or not written."""
    principal = principal_if_any(request)
    if principal is None:
        return False
    ctx = get_context(request)
    try:
        with ctx.transaction() as conn:
            audit.record(
                conn,
                principal.actor(),
                record.action,
                outcome=record.outcome,
                reason=record.reason[:64],
                project_id=record.project_id,
                task_id=record.task_id,
                segment_id=record.segment_id,
            )
    except (audit.AuditUnavailableError, SQLAlchemyError) as exc:
        logger.error("refusal %s was not audited: %s", record.reason, type(exc).__name__)
        return False
    return True
