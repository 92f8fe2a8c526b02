"""Sign-in and device enrolment: who is annotating, on which workstation.

After the authenticator returns a token, the device key pair is loaded from
(or created in) the keyring and enrolled. Enrolment is idempotent on the
server (keyed by the public key's fingerprint), so it runs at every sign-in
and a server that lost its device row simply re-learns it.
"""

from __future__ import annotations

import base64
import logging
import platform
from dataclasses import dataclass

from app.api.client import CordonApi
from app.auth.authenticator import Authenticator, Credentials
from app.crypto.device_keys import DeviceKeyPair
from app.domain.models import DeviceId, Task, User
from app.services.device_store import DeviceStore
from app.services.task_mapping import task_from_wire

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Device:
    """This workstation as the server knows it."""

    device_id: DeviceId
    key_pair: DeviceKeyPair


class SessionService:
    """Holds the signed-in user and device for one server."""

    def __init__(self, api: CordonApi, authenticator: Authenticator, store: DeviceStore) -> None:
        self.api = api
        self.authenticator = authenticator
        self._store = store
        self.user: User | None = None
        self.device: Device | None = None
        self.credentials: Credentials | None = None

    def sign_in(self, account: str) -> User:
        """Authenticate, then enrol this device. Raises AuthError / ApiError / keyring errors."""
        credentials = self.authenticator.sign_in(account)
        self.api.set_token(credentials.access_token)
        pair = self._store.load_or_create()
        public = base64.b64encode(pair.public_bytes()).decode("ascii")
        enrolled = self.api.enroll_device(platform.node()[:128] or "workstation", public)
        self.api.set_device(enrolled.device_id)
        self.device = Device(DeviceId(enrolled.device_id), pair)
        self.credentials = credentials
        self.user = credentials.user
        logger.info("signed in user %s on device %s", self.user.user_id, enrolled.device_id)
        return self.user

    def sign_out(self) -> None:
        """Forget the token and device in memory (the keyring keeps the device key)."""
        self.api.set_token(None)
        self.api.set_device(None)
        self.user = self.device = self.credentials = None

    def tasks(self) -> list[Task]:
        return [task_from_wire(t) for t in self.api.list_tasks().tasks]
