"""Demo sign-in: the demo server issues tokens for its demo users on loopback.

This is not an authentication mechanism for production: the server enables it
only in ``cordon-server demo``, bound to loopback. It exists so the whole
secure path can be exercised before SSO is configured.
"""

from __future__ import annotations

from app.api import errors
from app.api.client import CordonApi
from app.auth.authenticator import AuthError, Credentials
from app.domain.models import User

DEMO_ACCOUNTS = ["annotator", "reviewer", "annotator2", "manager"]


class DemoAuthenticator:
    """Implements :class:`~app.auth.authenticator.Authenticator` against the demo server."""

    def __init__(self, api: CordonApi, accounts: list[str] | None = None) -> None:
        self._api = api
        self._accounts = list(accounts or DEMO_ACCOUNTS)

    @property
    def accounts(self) -> list[str]:
        return list(self._accounts)

    def sign_in(self, account: str) -> Credentials:
        try:
            token = self._api.demo_login(account)
        except errors.ApiError as exc:
            raise AuthError(exc.user_message) from exc
        user = User(token.user.user_id, token.user.username, token.user.display_name)
        return Credentials(token.access_token, token.expires_at, user, token.session_id)

    def renew(self) -> Credentials | None:
        """Demo tokens live 8 h and are not renewed: the person signs in again."""
        return None

    def forget(self) -> None:
        """Nothing is kept between demo sign-ins."""

    def cancel(self) -> None:
        """A demo sign-in never waits for the person."""
