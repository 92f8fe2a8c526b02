"""Answer every exception with the JSON error body, and audit it first.

Every error answered to an authenticated caller is also an audit record,
written here — after the request's own transaction has rolled back — so no
route can forget it, and no refusal waits on a write lock its own request
still holds (:mod:`server.api.refusals`).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.wire import comparison, label_document, project_schema, review, schemas
from app.wire.schemas import AccessAction, ErrorCode, Outcome
from server.api import refusals
from server.api.errors import ApiError, BodyTooLargeError, Refusal, error_response, refused
from server.audit import AuditUnavailableError
from server.task_keys import TaskErasedError

logger = logging.getLogger(__name__)

_STATUS_CODES = {
    401: ErrorCode.UNAUTHENTICATED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
}


async def _audited(
    request: Request,
    status: int,
    code: ErrorCode,
    message: str,
    record: Refusal | None,
    path: str | None = None,
    unheard: list[tuple[int, int]] | None = None,
) -> JSONResponse:
    """Record the refusal (off the event loop), then answer it."""
    if record is not None:
        await run_in_threadpool(refusals.record_after_rollback, request, record)
    return error_response(status, code, message, path, unheard)


def _wire_field_names() -> frozenset[str]:
    names: set[str] = set()
    for module in (schemas, label_document, comparison, project_schema, review):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, BaseModel):
                names.update(value.model_fields)
    return frozenset(names)


#: Field names of the API's own models: safe to name in an error, unlike a key a
#: caller chose (a label name, an unknown field), which could be content.
_FIELD_NAMES = _wire_field_names()


def body_path(loc: tuple[object, ...]) -> str | None:
    """A validation error's place in the body as a JSON path, if it names only our fields.

    ``("body", "document", "segments", 0, "text")`` -> ``$.document.segments[0].text``;
    a location through a key the caller chose gives ``None`` (never echo content).
    """
    if not loc or loc[0] != "body":
        return None
    path = "$"
    for part in loc[1:]:
        if isinstance(part, int):
            path += f"[{part}]"
        elif isinstance(part, str) and part in _FIELD_NAMES:
            path += f".{part}"
        else:
            return None
    return path


def install_error_handlers(app: FastAPI) -> None:
    """Route every exception to :func:`error_response`."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return await _audited(
            request, exc.status, exc.code, exc.message, exc.record, exc.path, exc.unheard
        )

    @app.exception_handler(TaskErasedError)
    async def _erased(request: Request, exc: TaskErasedError) -> JSONResponse:
        error = ApiError(
            410, ErrorCode.ERASED, "this task's records were erased", reason="erased",
            task_id=str(exc),
        )  # fmt: skip
        return await _api_error(request, error)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            code, message = ErrorCode.MALFORMED_JSON, "request body is not valid JSON"
            return await _audited(request, 400, code, message, refused(code.value))
        # Only pydantic's own error types: a field *name* the caller sent could be content.
        kinds = sorted({str(e.get("type", "invalid")) for e in errors})[:5]
        message = f"{len(errors)} invalid or missing field(s): " + ", ".join(kinds)
        code = ErrorCode.INVALID_REQUEST
        path = body_path(tuple(errors[0].get("loc", ()))) if errors else None
        return await _audited(request, 422, code, message, refused(code.value), path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc.__cause__, BodyTooLargeError):
            # FastAPI wraps errors raised while reading the body in a 400.
            code = ErrorCode.PAYLOAD_TOO_LARGE
            return await _audited(request, 413, code, "request body too large", refused(code.value))
        code = _STATUS_CODES.get(exc.status_code, ErrorCode.INVALID_REQUEST)
        reason = "no_route" if exc.status_code == 404 else code.value
        return await _audited(request, exc.status_code, code, str(exc.detail), refused(reason))

    @app.exception_handler(AuditUnavailableError)
    async def _audit(_request: Request, _exc: AuditUnavailableError) -> JSONResponse:
        # Vault's rule: what cannot be audited is not done (the transaction rolled back).
        return error_response(
            503, ErrorCode.AUDIT_UNAVAILABLE, "the audit log cannot be written; nothing was done"
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, BodyTooLargeError):
            return error_response(413, ErrorCode.PAYLOAD_TOO_LARGE, "request body too large")
        logger.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
        record = Refusal(
            AccessAction.ACCESS_FAILED, Outcome.FAILED, "internal_error", None, None, None
        )
        return await _audited(request, 500, ErrorCode.INTERNAL_ERROR, "internal error", record)
