"""Signing in and out, and keeping the session's token fresh while the person works.

Sign-in runs on the network queue (an identity provider's sign-in waits there
for the browser). A token from an identity provider lives an hour: a timer
renews it :data:`RENEW_BEFORE_S` before it ends, on the network queue, without
the person — only the token changes, so playback, the open task and the outbox
carry on. If the provider wants the person again, the session ends as an
expired one does (work kept, sign-in asked for).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QTimer, SignalInstance

from app.api import errors as api_errors
from app.api.client import CordonApi
from app.auth.authenticator import AuthError
from app.domain.models import User
from app.player.playback import PlaybackEngine, PlaybackState
from app.services.delivery import Delivery
from app.services.device_store import KeyringUnavailableError
from app.services.drafts import DraftStore
from app.services.outbox import Outbox
from app.services.session import SessionService
from app.services.session_watch import SessionWatch
from app.services.wipe import WipeReport
from app.wire.schemas import AccessAction

logger = logging.getLogger(__name__)

DRAIN_ON_EXIT_S = 3.0
#: Renew this long before the token ends (and retry every minute until it does).
RENEW_BEFORE_S = 300
RENEW_RETRY_S = 60


def user_message(exc: Exception) -> str:
    """Words for the annotator; never a traceback, never content."""
    text = getattr(exc, "user_message", None)
    if isinstance(text, str):
        return text
    return "Something went wrong. The problem was recorded."


class SessionOps:
    # Provided by Controller.
    _session: SessionService
    _network: Any
    _delivery: Delivery
    _engine: PlaybackEngine
    _outbox: Outbox
    _locked: bool
    _api: CordonApi
    _drafts: DraftStore
    signed_in: SignalInstance
    sign_in_failed: SignalInstance
    session_expired: SignalInstance
    locked: SignalInstance
    wiped: SignalInstance
    wipe_done: SignalInstance
    _revoked_from_worker: SignalInstance
    _signed_out_from_worker: SignalInstance
    _wiped_from_worker: SignalInstance

    @property
    def is_signed_in(self) -> bool:
        raise NotImplementedError

    def pause(self) -> None:
        raise NotImplementedError

    def record(self, action: AccessAction, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError

    def refresh_tasks(self) -> None:
        raise NotImplementedError

    def close_segment(self) -> None:
        raise NotImplementedError

    def _upload_draft(self) -> None:
        raise NotImplementedError

    def _on_delivery_state(self, state: Any) -> None:
        raise NotImplementedError

    def _init_session(self) -> None:
        self._renewal = QTimer(self)  # type: ignore[arg-type]
        self._renewal.setSingleShot(True)
        self._renewal.timeout.connect(self._renew)
        self._watch = SessionWatch(
            self._api, self._revoked_from_worker.emit, self._signed_out_from_worker.emit
        )
        self._api.on_revoked = self._revoked_from_worker.emit
        self._revoked_from_worker.connect(self._wipe)
        self._signed_out_from_worker.connect(self._disabled)
        self._wiped_from_worker.connect(self._on_wiped)
        self._wiping = False
        #: Deletes this workstation's keys and files for the server (set by ``app.main``).
        self.wipe_workstation: Callable[[list[str]], WipeReport] | None = None
        #: When the last wipe began and when its buffers were zeroed (``time.monotonic``).
        self.wipe_times: tuple[float, float] = (0.0, 0.0)

    def _disabled(self) -> None:
        """The person was disabled: sign out here as everywhere (nothing is wiped)."""
        self._expire_session(api_errors.AccountDisabledError(401, None, "account disabled"))

    def _wipe(self) -> None:
        """Revoked: zero what is open now, then delete keys and files off the GUI thread."""
        if self._wiping:
            return
        self._wiping = True
        began = time.monotonic()
        self._renewal.stop()
        self._watch.stop()
        if self._engine.state is PlaybackState.PLAYING:
            self._engine.pause()
        self.close_segment()  # zeroes the decrypted audio and the document's buffers
        self.wipe_times = (began, time.monotonic())
        self._locked = True
        user = self._session.user
        self.wiped.emit(api_errors.DeviceRevokedError.user_message)
        wipe = self.wipe_workstation
        user_ids = [user.user_id] if user is not None else []

        def delete_keys_and_files() -> None:
            # Stopping the uploader and closing the outbox join threads that may be
            # in a request or an fsync: not on the GUI thread.
            self._delivery.stop()
            self._outbox.close()
            self._drafts.close()
            self._session.sign_out(forget=False)
            report = wipe(user_ids) if wipe is not None else None
            self._wiped_from_worker.emit(report)

        threading.Thread(target=delete_keys_and_files, name="cordon-wipe", daemon=True).start()

    def _on_wiped(self, report: WipeReport | None) -> None:
        self.wipe_done.emit(report)

    def _schedule_renewal(self) -> None:
        credentials = self._session.credentials
        if credentials is None:
            return
        due = credentials.expires_at - RENEW_BEFORE_S - time.time()
        self._renewal.start(int(max(RENEW_RETRY_S if due <= 0 else due, 1) * 1000))

    def _renew(self) -> None:
        if not self.is_signed_in:
            return
        self._network.submit(
            "renew-session", self._session.renew, self._on_renewed, self._on_renew_error
        )

    def _on_renewed(self, renewed: bool) -> None:
        if renewed:
            self._schedule_renewal()
            return
        credentials = self._session.credentials
        if credentials is not None and credentials.expires_at - time.time() > RENEW_RETRY_S:
            self._renewal.start(RENEW_RETRY_S * 1000)  # try again; the token still holds

    def _on_renew_error(self, exc: Exception) -> None:
        logger.warning("session renewal failed: %s: %s", type(exc).__name__, user_message(exc))
        self._on_renewed(False)

    def sign_in(self, account: str) -> None:
        self._network.submit(
            "sign-in",
            lambda: self._session.sign_in(account),
            self._on_signed_in,
            self._on_sign_in_error,
        )

    def cancel_sign_in(self) -> None:
        """The person gave up on the browser: stop waiting (the sign-in then fails quietly)."""
        self._session.authenticator.cancel()

    def _on_signed_in(self, user: User) -> None:
        self._locked = False
        self._schedule_renewal()
        self._watch.start()
        self._delivery.signed_in()
        self.signed_in.emit(user)
        self.refresh_tasks()

    def _on_sign_in_error(self, exc: Exception) -> None:
        if not isinstance(exc, AuthError | api_errors.ApiError | KeyringUnavailableError):
            logger.error("sign-in failed: %s", type(exc).__name__)
        self.sign_in_failed.emit(user_message(exc))

    def _expire_session(self, exc: Exception) -> None:
        """A 401 anywhere: pause, forget the token, ask for sign-in again.

        The open segment and the transcript stay in memory (hidden behind the
        sign-in page) so no work is lost; they are zeroed as usual on close.
        """
        if self._engine.state is PlaybackState.PLAYING:
            self._engine.pause()
            self.record(AccessAction.PLAYBACK_PAUSED)
        self._session.sign_out(forget=False)
        events, labels = self._outbox.counts()
        note = (
            f" {labels} transcripts and {events} access events are kept, encrypted, until then."
            if events or labels
            else ""
        )
        self.session_expired.emit(user_message(exc) + note)
        self._on_delivery_state(self._delivery.state())

    def lock(self, message: str) -> None:
        """Idle lock: keep unsaved work, wipe content here, sign out (see :meth:`_leave`).

        The identity provider's cached sign-in stays, so the return is quick.
        """
        self._leave(AccessAction.IDLE_LOCKED, message, forget=False)

    def sign_out(self) -> None:
        """The annotator signs out: the same as an idle lock, said differently."""
        self._leave(
            AccessAction.SIGNED_OUT,
            "You signed out. Unsaved work was kept as a draft. Sign in to continue.",
        )

    def _leave(self, action: AccessAction, message: str, *, forget: bool = True) -> None:
        """Keep unsaved work, wipe content here, sign out; ``locked`` tells the window.

        Unsaved work is sealed into the local draft and also queued in the
        encrypted outbox as a server draft (so it follows the annotator to
        another workstation); the segment's decrypted audio is zeroed at once,
        and the token is dropped once the outbox has drained — or after a few
        seconds; what is left uploads at the next sign-in.
        """
        if not self.is_signed_in:
            return
        self.pause()
        self.record(action)
        self._upload_draft()
        self.close_segment()
        self._locked = True  # signed out from now on, though the token outlives the drain
        self._renewal.stop()
        self._watch.stop()

        def drain_then_sign_out() -> None:
            self._delivery.drain(DRAIN_ON_EXIT_S)
            self._session.sign_out(forget=forget)

        self._network.submit("sign-out", drain_then_sign_out)
        self.locked.emit(message)
