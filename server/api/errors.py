"""One error shape for every failure: ``{"error": {"code", "message"}}`` with a 4xx/5xx.

Messages never echo request content (a rejected body may hold a transcript),
and a 500 never carries a traceback. Every error carries the audit record it
becomes (:class:`Refusal`); :mod:`server.api.error_handlers` answers it and
:mod:`server.api.refusals` records it.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi.responses import JSONResponse

from app.wire.schemas import AccessAction, ErrorBody, ErrorCode, ErrorDetail, Outcome


class BodyTooLargeError(Exception):
    """The request body passed the size limit while it was being read."""


@dataclass(frozen=True)
class Refusal:
    """The audit record of an error answer: ids and a reason code, never content."""

    action: AccessAction
    outcome: Outcome
    reason: str
    project_id: str | None = None
    task_id: str | None = None
    segment_id: str | None = None
    #: Record it even without an authenticated caller (by address, rate-limited).
    anonymous: bool = False


def refused(reason: str) -> Refusal:
    return Refusal(AccessAction.ACCESS_REFUSED, Outcome.REFUSED, reason)


class ApiError(Exception):
    """Raised by handlers; rendered as the JSON error body and audited.

    ``reason`` is the audit record's reason code (the error code when not
    given); ``project_id``/``task_id``/``segment_id`` attribute the record to
    the object the caller was refused, once the caller was allowed to know it
    exists. A 5xx is recorded as a failed access, anything else as a refusal;
    ``audit=False`` only for an answer that refuses nothing ("no label yet");
    ``anonymous=True`` records it even when nobody could be authenticated (a
    refused sign-in), within :mod:`server.api.refusals`' per-address limit.
    """

    def __init__(
        self,
        status: int,
        code: ErrorCode,
        message: str,
        *,
        reason: str | None = None,
        project_id: str | None = None,
        task_id: str | None = None,
        segment_id: str | None = None,
        audit: bool = True,
        anonymous: bool = False,
        path: str | None = None,
        unheard: list[tuple[int, int]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        #: The JSON path of the offending part of the body (a document that does not fit).
        self.path = path
        #: ``coverage_incomplete``: the spans (ms) still to be heard.
        self.unheard = unheard
        self.record: Refusal | None = None
        if not audit:
            return
        self.record = Refusal(
            action=AccessAction.ACCESS_FAILED if status >= 500 else AccessAction.ACCESS_REFUSED,
            outcome=Outcome.FAILED if status >= 500 else Outcome.REFUSED,
            reason=reason or code.value,
            project_id=project_id,
            task_id=task_id,
            segment_id=segment_id,
            anonymous=anonymous,
        )


def error_response(
    status: int,
    code: ErrorCode,
    message: str,
    path: str | None = None,
    unheard: list[tuple[int, int]] | None = None,
) -> JSONResponse:
    body = ErrorBody(error=ErrorDetail(code=code, message=message, path=path, unheard=unheard))
    return JSONResponse(status_code=status, content=body.model_dump(mode="json", exclude_none=True))
