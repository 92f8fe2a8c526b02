"""Record what the server refused, after the refused request's transaction is gone.

One request, one transaction: a route refuses by raising
:class:`~server.api.errors.ApiError`, which rolls its transaction back (an
idempotency claim included) and releases SQLite's write lock. Only then, in
the error handler, is the ``access_refused`` event and its audit leaf
committed — in a transaction of its own that nothing else of the request
holds, so it cannot wait on the request's own lock (which once stalled every
writer for the busy timeout and turned a 404 into a 503).

Who is recorded: a caller the server could authenticate (a token that was good
but came with a bad proof counts: it is recorded under the token's user). A
request without a valid token is answered 401 and logged by count only: anyone
can send those, and recording them would let an anonymous client grow the audit
log without limit. Refused *sign-ins* are the exception security teams need (a
forged or replayed identity token): they are recorded by client address, at most
:data:`ANONYMOUS_PER_MINUTE` per address and :data:`ANONYMOUS_TOTAL_PER_MINUTE` in
all, and counted in the log beyond that. If the record itself cannot be written,
the refusal still stands (the answer is the same 4xx — nothing was done) and the
log says so by reason code.
"""

from __future__ import annotations

import logging
import threading
import time

from fastapi import Request
from sqlalchemy.exc import SQLAlchemyError

from server import audit
from server.api.errors import Refusal
from server.api.principal import get_context, principal_if_any

logger = logging.getLogger(__name__)


ANONYMOUS_PER_MINUTE = 20
ANONYMOUS_TOTAL_PER_MINUTE = 200


class AnonymousLimit:
    """How many anonymous refusals may still be recorded this minute (per address, in all)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._minute = -1
        self._counts: dict[str, int] = {}
        self._total = 0

    def allow(self, address: str, now: float | None = None) -> bool:
        minute = int((time.time() if now is None else now) // 60)
        with self._lock:
            if minute != self._minute:
                self._minute, self._counts, self._total = minute, {}, 0
            used = self._counts.get(address, 0)
            if used >= ANONYMOUS_PER_MINUTE or self._total >= ANONYMOUS_TOTAL_PER_MINUTE:
                return False
            self._counts[address] = used + 1
            self._total += 1
            return True


_ANONYMOUS = AnonymousLimit()


def record_after_rollback(request: Request, record: Refusal) -> bool:
    """Commit ``record`` for the request's caller; ``False`` if nobody or not written."""
    principal = principal_if_any(request)
    address = request.client.host if request.client else None
    if principal is not None:
        actor = principal.actor()
    elif record.anonymous and _ANONYMOUS.allow(address or "-"):
        actor = audit.Actor(None, None, address)
    else:
        if record.anonymous:
            logger.warning("refused sign-in not recorded (limit): %s", record.reason)
        return False
    ctx = get_context(request)
    try:
        with ctx.transaction() as conn:
            audit.record(
                conn,
                actor,
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
