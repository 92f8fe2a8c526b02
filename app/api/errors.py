"""Typed failures of talking to the server; the UI words them, the log names the code."""

from __future__ import annotations

from app.wire.schemas import ErrorCode


class ApiError(Exception):
    """Base class for every server-communication failure."""

    user_message = "The Cordon server could not complete the request."


class NetworkError(ApiError):
    """The server could not be reached (refused, timed out, DNS, connection dropped)."""

    user_message = "Cannot reach the Cordon server. Check the network and try again."


class TlsError(NetworkError):
    """TLS failed: the server's certificate is not from the pinned on-prem CA."""

    user_message = "The server's identity could not be verified. Contact your administrator."


class ProtocolError(ApiError):
    """The server answered with something that is not the documented response."""

    user_message = "The server sent an unexpected response."


class ServerError(ApiError):
    """The server answered with a JSON error body."""

    def __init__(
        self, status: int, code: ErrorCode | None, message: str, path: str | None = None
    ) -> None:
        super().__init__(f"{status} {code.value if code else 'unknown'}: {message}")
        self.status = status
        self.code = code
        self.server_message = message
        #: Where in the request body the problem is (a document that does not fit its schema).
        self.path = path

    @property
    def refusal_words(self) -> str:
        """Why the server refused, as a sentence (its messages name no content).

        A refusal must read as one: "another reviewer holds this task", not "offline".
        """
        text = self.server_message.strip() or self.user_message
        return text[0].upper() + text[1:] + ("" if text.endswith(".") else ".")


class AuthenticationError(ServerError):
    """401: not signed in, or the token is no longer valid."""

    user_message = "Your session is not valid. Please sign in again."


class TokenExpiredError(AuthenticationError):
    """401 ``token_expired``."""

    user_message = "Your session has expired. Please sign in again."


class AccountDisabledError(AuthenticationError):
    """401 ``account_disabled``."""

    user_message = "This account was disabled by an administrator. Ask them to sign in again."


class ForbiddenError(ServerError):
    """403: signed in, but not allowed."""

    user_message = "You are not allowed to do this."


class DeviceRevokedError(ForbiddenError):
    """403 ``device_revoked``: this workstation's access was withdrawn; wipe and sign out."""

    user_message = (
        "This workstation's access to Cordon was revoked. Its keys have been removed; "
        "contact your administrator."
    )


class NotFoundError(ServerError):
    """404: the task does not exist or is not yours."""

    user_message = "This task is not available to you."


class RequestRejectedError(ServerError):
    """Another 4xx: the request was refused as malformed or too large."""

    user_message = "The server refused the request."


class ServerFailureError(ServerError):
    """5xx."""

    user_message = "The Cordon server had a problem. Try again later."
