"""Sign-in and device enrolment: who is annotating, on which workstation.

After the authenticator returns a token, the user's device key pair is loaded
from (or created in) the keyring and enrolled: one key per user, so people
sharing a workstation account each have their own device. Enrolment is idempotent on the
server (keyed by the public key's fingerprint), so it runs at every sign-in
and a server that lost its device row simply re-learns it.
"""

from __future__ import annotations

import base64
import logging
import platform
from collections.abc import Callable
from dataclasses import dataclass, replace

from app.api.client import CordonApi
from app.api.errors import ServerError
from app.auth.authenticator import Authenticator, AuthError, Credentials
from app.crypto.device_keys import DeviceKeyPair
from app.domain.models import DeviceId, Task, User
from app.domain.review import QueueFilter
from app.services.device_store import DeviceStore
from app.services.task_mapping import task_from_wire
from app.wire.schemas import DeviceOut, ErrorCode, Role

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Device:
    """This workstation as the server knows it."""

    device_id: DeviceId
    key_pair: DeviceKeyPair


class SessionService:
    """Holds the signed-in user and device for one server."""

    def __init__(
        self,
        api: CordonApi,
        authenticator: Authenticator,
        store: DeviceStore,
        enrolment_secret: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.api = api
        self.authenticator = authenticator
        self._store = store
        #: IT's enrolment secret (read when needed, from where the machine policy says).
        self._enrolment_secret = enrolment_secret
        self.user: User | None = None
        self.device: Device | None = None
        self.credentials: Credentials | None = None
        #: The user reviews at least one project (learnt with the task list).
        self.reviews = False
        #: Projects whose quality report the user may read (learnt with the task list).
        self.managed_projects: list[str] = []

    def sign_in(self, account: str) -> User:
        """Authenticate, then enrol this device. Raises AuthError / ApiError / keyring errors.

        Every request from the sign-in on is proven by the workstation's signing
        key, so the key is loaded (or made) first.
        """
        self.api.set_proof_key(self._store.proof_key())
        credentials = self.authenticator.sign_in(account)
        self.api.set_token(credentials.access_token)
        user_id = credentials.user.user_id
        legacy = self._store.adopt_legacy(user_id)
        pair = legacy or self._store.load_or_create(user_id)
        try:
            enrolled = self._enroll(pair)
        except ServerError as exc:
            if exc.code is not ErrorCode.CONFLICT:
                raise
            # The key is another user's (an old shared key) or was enrolled with a
            # signing key this workstation no longer has: this user gets a new one.
            pair = self._store.load_or_create(user_id, fresh=True)
            enrolled = self._enroll(pair)
        if enrolled.state == "pending":
            self.api.set_token(None)
            raise AuthError(
                "This workstation waits for your administrator's approval (device "
                f"{enrolled.device_id}). Sign in again once it is approved."
            )
        self.device = Device(DeviceId(enrolled.device_id), pair)
        self.credentials = credentials
        self.user = credentials.user
        logger.info("signed in user %s on device %s", self.user.user_id, enrolled.device_id)
        return self.user

    def _enroll(self, pair: DeviceKeyPair) -> DeviceOut:
        public = base64.b64encode(pair.public_bytes()).decode("ascii")
        name = platform.node()[:128] or "workstation"
        return self.api.enroll_device(name, public, self._enrolment_secret())

    def renew(self) -> bool:
        """Replace the token before it ends, without the person; ``False`` if that cannot be.

        Only the token changes: the device, the user and anything playing stay.
        """
        if self.user is None:
            return False
        credentials = self.authenticator.renew()
        if credentials is None or credentials.user.user_id != self.user.user_id:
            return False
        self.api.set_token(credentials.access_token)
        self.credentials = credentials
        logger.info("session renewed for user %s", self.user.user_id)
        return True

    def sign_out(self, *, forget: bool = True) -> None:
        """Forget the token and device in memory (the keyring keeps the device key).

        ``forget`` (a sign-out the person chose) also drops the identity provider's
        cached sign-in; an expired or locked session keeps it for a silent return.
        """
        self.api.set_token(None)
        self.user = self.device = self.credentials = None
        if forget:
            self.authenticator.forget()

    def tasks(self, queue: QueueFilter | None = None) -> list[Task]:
        """The user's tasks: their own to annotate, then their review queue (oldest first).

        The queue replaces the reviewer rows of the plain list: it is ordered by hand-in,
        filtered by ``queue`` and says who annotated each task.
        """
        listed = self.api.list_tasks()
        self.reviews = bool(listed.review_projects)
        self.managed_projects = list(listed.managed_projects)
        own = [task_from_wire(t) for t in listed.tasks if t.role is not Role.REVIEWER]
        if not self.reviews:
            return own
        queue = queue or QueueFilter()
        items = self.api.review_queue(queue.status, queue.annotator_id).items
        return own + [
            replace(
                task_from_wire(item.task),
                annotator_id=item.annotator_id,
                annotator_name=item.annotator_name,
                handed_in_at=item.submitted_at,
                holder_id=item.holder_id,
            )
            for item in items
        ]
