"""One error shape for every failure: ``{"error": {"code", "message"}}`` with a 4xx/5xx.

Messages never echo request content (a rejected body may hold a transcript),
and a 500 never carries a traceback.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.wire.schemas import ErrorBody, ErrorCode, ErrorDetail
from server.audit import AuditUnavailableError

logger = logging.getLogger(__name__)


class BodyTooLargeError(Exception):
    """The request body passed the size limit while it was being read."""


class ApiError(Exception):
    """Raised by handlers; rendered as the JSON error body."""

    def __init__(self, status: int, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(status: int, code: ErrorCode, message: str) -> JSONResponse:
    body = ErrorBody(error=ErrorDetail(code=code, message=message))
    return JSONResponse(status_code=status, content=body.model_dump(mode="json"))


_STATUS_CODES = {
    401: ErrorCode.UNAUTHENTICATED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
}


def install_error_handlers(app: FastAPI) -> None:
    """Route every exception to :func:`error_response`."""

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return error_response(400, ErrorCode.MALFORMED_JSON, "request body is not valid JSON")
        # Only pydantic's own error types: a field *name* the caller sent could be content.
        kinds = sorted({str(e.get("type", "invalid")) for e in errors})[:5]
        return error_response(
            422,
            ErrorCode.INVALID_REQUEST,
            f"{len(errors)} invalid or missing field(s): " + ", ".join(kinds),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc.__cause__, BodyTooLargeError):
            # FastAPI wraps errors raised while reading the body in a 400.
            return error_response(413, ErrorCode.PAYLOAD_TOO_LARGE, "request body too large")
        code = _STATUS_CODES.get(exc.status_code, ErrorCode.INVALID_REQUEST)
        return error_response(exc.status_code, code, str(exc.detail))

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
        return error_response(500, ErrorCode.INTERNAL_ERROR, "internal error")
