"""Single sign-on through the organisation's identity provider, with MSAL.

The person signs in in the system browser (authorization code + PKCE, with a
loopback redirect: MSAL builds the request and checks the answer — state,
PKCE, nonce — and :mod:`app.auth.loopback` receives it, cancellably); Entra ID
through its tenant authority, any other OpenID Connect provider through
``oidc_authority``.
Which provider, client id and scopes comes from the machine policy (IT), never
from the person. Every request to the provider goes through a
``requests.Session`` with ``trust_env=False`` and the provider's CA pinned
(``REQUESTS_CA_BUNDLE`` would otherwise replace it).

MSAL's token cache — refresh tokens included — is serialised into the OS
keyring only (:class:`KeyringTokenCache`), never a file. The provider's ID
token is then exchanged at the Cordon server (``/v1/auth/sso``, proven by the
workstation's DPoP key) for a short-lived Cordon token; :meth:`renew` repeats
that silently, before the Cordon token ends, from a fresh provider token
(MSAL uses the refresh token, no browser).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import msal
import requests

from app.api import errors
from app.api.client import CordonApi
from app.auth.authenticator import AuthError, Credentials
from app.auth.loopback import LoopbackRedirect
from app.domain.models import User

logger = logging.getLogger(__name__)

#: How long the browser sign-in may take before Cordon gives up waiting.
INTERACTIVE_TIMEOUT_S = 300


@dataclass(frozen=True)
class SsoSettings:
    """Whom to sign in with (from the machine policy's ``sso_*`` keys)."""

    provider: str
    authority: str
    client_id: str
    kind: str = "oidc"
    scopes: tuple[str, ...] = ()
    ca_file: Path | None = None

    @classmethod
    def from_policy(cls, values: Callable[[str], str]) -> SsoSettings | None:
        """The settings, or ``None`` when the policy names no provider."""
        provider = values("sso_provider").strip()
        if not provider:
            return None
        authority, client_id = values("sso_authority").strip(), values("sso_client_id").strip()
        if not authority.startswith("https://") or not client_id:
            raise ValueError("the SSO policy needs an https:// sso_authority and an sso_client_id")
        ca = values("sso_ca_file").strip()
        return cls(
            provider, authority, client_id, values("sso_kind"),
            tuple(values("sso_scopes").split()), Path(ca) if ca else None,
        )  # fmt: skip


class TokenCacheStore(Protocol):
    """Where MSAL's serialised cache lives (the OS keyring in the client)."""

    def load(self) -> str | None: ...
    def save(self, blob: str) -> None: ...
    def clear(self) -> None: ...


class MsalAuthenticator:
    """Implements :class:`~app.auth.authenticator.Authenticator` with MSAL and the server's
    ``/v1/auth/sso`` exchange."""

    def __init__(
        self,
        api: CordonApi,
        settings: SsoSettings,
        cache_store: TokenCacheStore,
        interactive_timeout_s: int = INTERACTIVE_TIMEOUT_S,
    ) -> None:
        self._api = api
        self.settings = settings
        self._store = cache_store
        self._timeout = interactive_timeout_s
        self._cache = msal.SerializableTokenCache()
        blob = cache_store.load()
        if blob:
            try:
                self._cache.deserialize(blob)
            except ValueError:
                logger.warning("the stored sign-in cache could not be read; it is dropped")
                cache_store.clear()
        self._app: msal.PublicClientApplication | None = None
        #: The provider account signed in now (renewals are for them only).
        self._account: str | None = None
        self._last_exchanged = ""
        self._cancel = threading.Event()
        #: The person signed out: the provider must ask again, not reuse its session.
        self._ask_again = False

    @property
    def provider_name(self) -> str:
        return self.settings.provider

    @property
    def accounts(self) -> list[str]:
        """Who signed in here before (MSAL's cached accounts): offered, not required.

        Read from the cache itself: building MSAL's client runs the provider's
        discovery over the network, which must not happen on the GUI thread at start.
        """
        found = self._cache.find(msal.TokenCache.CredentialType.ACCOUNT)
        return sorted({str(a.get("username")) for a in found if a.get("username")})

    def _client(self) -> msal.PublicClientApplication:
        if self._app is None:
            http = requests.Session()
            http.trust_env = False
            if self.settings.ca_file is not None:
                http.verify = str(self.settings.ca_file)
            if self.settings.kind == "entra":
                authority: dict[str, Any] = {"authority": self.settings.authority}
            else:
                authority = {"oidc_authority": self.settings.authority}
            self._app = msal.PublicClientApplication(
                self.settings.client_id, token_cache=self._cache, http_client=http, **authority
            )
        return self._app

    def _persist(self) -> None:
        if self._cache.has_state_changed:
            self._store.save(self._cache.serialize())
            self._cache.has_state_changed = False

    def sign_in(self, account: str) -> Credentials:
        """Silent if this account's refresh token is still good, else the system browser."""
        try:
            app = self._client()
            scopes = list(self.settings.scopes)
            known = [a for a in app.get_accounts() if account and a.get("username") == account]
            result = (
                app.acquire_token_silent(scopes, account=known[0], force_refresh=True)
                if known
                else None
            )
            if not result or "id_token" not in result:
                result = self._in_browser(app, scopes, account)
        except requests.RequestException as exc:
            raise AuthError(
                "The sign-in service cannot be reached. Check the network and try again."
            ) from exc
        except ValueError as exc:  # MSAL: discovery failed, or the answer's state did not match
            logger.warning("provider sign-in refused: %s", type(exc).__name__)
            raise AuthError(_words_for("invalid")) from exc
        finally:
            self._persist()
        return self._exchange(result)

    def _in_browser(
        self, app: msal.PublicClientApplication, scopes: list[str], account: str
    ) -> dict[str, Any]:
        """Authorization code + PKCE in the system browser, answered on the loopback."""
        self._cancel.clear()
        with LoopbackRedirect() as loopback:
            # After a sign-out the provider must ask who is there ("login": both Entra
            # and OpenID Connect providers know it; "select_account" is Entra's only),
            # or its browser session would sign the last person in again.
            flow = app.initiate_auth_code_flow(
                scopes,
                redirect_uri=loopback.redirect_uri,
                login_hint=account or None,
                prompt="login" if self._ask_again else None,
                response_mode="form_post",  # the code never sits in the browser's history
            )
            if not webbrowser.open(flow["auth_uri"]):
                raise AuthError("No web browser could be opened to sign in.")
            answer = loopback.wait(self._timeout, self._cancel)
        if answer is None:
            error = "user_canceled" if self._cancel.is_set() else "timeout"
            return {"error": error}
        result: dict[str, Any] = app.acquire_token_by_auth_code_flow(flow, answer)
        return result

    def cancel(self) -> None:
        """Stop waiting for the browser (the person gave up); safe from any thread."""
        self._cancel.set()

    def renew(self) -> Credentials | None:
        """A new Cordon token from a fresh provider token, without the browser; ``None``
        when the provider wants the person again (the caller then asks them to sign in)."""
        try:
            app = self._client()
            accounts = [a for a in app.get_accounts() if a.get("username") == self._account]
            if not accounts:
                return None
            result = app.acquire_token_silent(
                list(self.settings.scopes), account=accounts[0], force_refresh=True
            )
            if result and _digest(result.get("id_token")) == self._last_exchanged:
                # A provider whose ID tokens carry no unique claim issues the same bytes
                # within one second; the server takes each token once. Ask again later.
                time.sleep(1.1)
                result = app.acquire_token_silent(
                    list(self.settings.scopes), account=accounts[0], force_refresh=True
                )
        except (ValueError, requests.RequestException) as exc:
            logger.warning("silent renewal failed: %s", type(exc).__name__)
            return None
        finally:
            self._persist()
        if not result or "id_token" not in result:
            return None
        return self._exchange(result)

    def forget(self) -> None:
        """Sign-out: drop every cached account and the cache in the keyring."""
        app = self._client()
        for account in app.get_accounts():
            app.remove_account(account)
        self._store.clear()
        self._account = None
        self._ask_again = True

    def _exchange(self, result: dict[str, Any] | None) -> Credentials:
        if not result or "id_token" not in result:
            code = (result or {}).get("error", "no_result")
            logger.info("provider sign-in failed: %s", code)
            raise AuthError(_words_for(str(code)))
        self._last_exchanged = _digest(result["id_token"])
        try:
            token = self._api.sso_login(self.settings.provider, str(result["id_token"]))
        except errors.ApiError as exc:
            raise AuthError(
                exc.refusal_words if isinstance(exc, errors.ServerError) else exc.user_message
            ) from exc
        self._ask_again = False
        claims = result.get("id_token_claims") or {}
        self._account = str(claims.get("preferred_username") or "") or None
        user = User(token.user.user_id, token.user.username, token.user.display_name)
        return Credentials(token.access_token, token.expires_at, user, token.session_id)


def _digest(token: object) -> str:
    return hashlib.sha256(str(token).encode()).hexdigest() if token else ""


def _words_for(code: str) -> str:
    if code in {"access_denied", "user_canceled"}:
        return "Sign-in was cancelled."
    if code == "timeout" or "timeout" in code:
        return "Sign-in in the browser took too long. Try again."
    return "The organisation's sign-in did not complete. Try again, or contact your administrator."
