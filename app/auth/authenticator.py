"""The authentication seam: anything that turns a person into a server access token.

The session service only knows :class:`Authenticator`: the demo server's own
sign-in (``demo_login``) and the organisation's identity provider through MSAL
(``sso``) implement it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from app.domain.models import User


class AuthError(Exception):
    """Sign-in failed; ``user_message`` says why in words for the annotator."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


@dataclass(frozen=True)
class Credentials:
    """A bearer token for the Cordon API and who it belongs to. Held in memory only."""

    access_token: str
    expires_at: int
    user: User
    session_id: str = ""  # public id of the sign-in (watermark, audit)


class Authenticator(Protocol):
    """Signs a person in and returns API credentials."""

    @property
    def accounts(self) -> list[str]:
        """Account names the sign-in screen may offer (empty: free text)."""
        ...

    def sign_in(self, account: str) -> Credentials:
        """Authenticate ``account``; raise :class:`AuthError` on failure."""
        ...

    def renew(self) -> Credentials | None:
        """New credentials for the signed-in person without asking them, or ``None``."""
        ...

    def forget(self) -> None:
        """Sign-out: drop whatever lets this person sign in again silently."""
        ...

    def cancel(self) -> None:
        """Stop a sign-in that waits for the person (the browser); any thread, no I/O."""
        ...
