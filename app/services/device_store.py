"""The device key pair, kept only in the OS keyring.

The private key never touches a file. Only the operating systems' own secret
stores are accepted (Secret Service, KWallet, macOS Keychain, Windows
Credential Manager); anything else — ``keyrings.alt``'s files, ``fail``/``null``,
an empty chain, a third-party backend — is refused at start with a clear
message. keyring picks such backends silently when no Secret Service runs.
Keys are per server (URL and pinned CA), so enrolling with a second server
never reuses a device identity.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import secrets
import sys
from pathlib import Path
from typing import Any

import keyring
import keyring.errors

from app.crypto.device_keys import DeviceKeyPair
from app.crypto.dpop import DPoPKey

logger = logging.getLogger(__name__)

SERVICE = "cordon"
ALLOWED_BACKENDS = frozenset(
    {
        "keyring.backends.SecretService.Keyring",
        "keyring.backends.libsecret.Keyring",
        "keyring.backends.kwallet.DBusKeyring",
        "keyring.backends.macOS.Keyring",
        "keyring.backends.Windows.WinVaultKeyring",
    }
)


class KeyringUnavailableError(Exception):
    """No secure keyring: Cordon will not keep a device key anywhere else."""

    user_message = (
        "Cordon needs the system keyring (Secret Service, Keychain or Credential Manager) "
        "to protect this workstation's key, and none is available or unlocked."
    )


def _leaves(backend: Any) -> list[Any]:
    inner = getattr(backend, "backends", None)
    if inner is None:
        return [backend]
    return [leaf for b in inner for leaf in _leaves(b)]


def use_os_keyring(platform: str = sys.platform) -> None:
    """Select this OS's keyring directly instead of letting keyring discover backends.

    Discovery imports every backend, and on Linux the macOS one asks
    ``ctypes.util.find_library`` for Apple frameworks, which falls back to running
    gcc and ld with temporary files in TMPDIR at every start. Raises
    :class:`KeyringUnavailableError` if the OS keyring cannot be reached (keyring's
    ``priority`` check: no D-Bus session, no Secret Service, wrong OS).
    """
    backend_class: Any
    if platform == "win32":
        from keyring.backends import Windows  # noqa: PLC0415 - per OS

        backend_class = Windows.WinVaultKeyring
    elif platform == "darwin":
        from keyring.backends import macOS  # noqa: PLC0415 - per OS

        backend_class = macOS.Keyring
    else:
        from keyring.backends import SecretService  # noqa: PLC0415 - per OS

        backend_class = SecretService.Keyring
    try:
        backend_class.priority  # noqa: B018 - keyring raises here when the backend is unusable
    except Exception as exc:  # keyring raises RuntimeError, ImportError, OSError…
        raise KeyringUnavailableError(f"{backend_class.__name__}: {exc}") from exc
    keyring.set_keyring(backend_class())


def check_backend(backend: Any | None = None) -> str:
    """Return the backend's name, or raise if it could leak or lose the key."""
    backend = backend if backend is not None else keyring.get_keyring()
    leaves = _leaves(backend)
    if not leaves:
        raise KeyringUnavailableError("keyring chainer has no backends")
    for leaf in leaves:
        name = f"{type(leaf).__module__}.{type(leaf).__name__}"
        if name not in ALLOWED_BACKENDS:
            raise KeyringUnavailableError(f"refusing keyring backend {name}")
    return f"{type(backend).__module__}.{type(backend).__name__}"


def server_identity(base_url: str, ca_file: Path) -> str:
    """A short id for (server URL, pinned CA): the keyring entry name."""
    digest = hashlib.sha256(base_url.encode() + b"\x00" + ca_file.read_bytes()).hexdigest()
    return digest[:24]


class DeviceStore:
    """Loads and saves this workstation's device key pairs for one server, one per user.

    A device key is enrolled for one user: two people sharing a workstation
    account (an annotator and a reviewer) each get their own. Cordon before
    per-user keys kept one key per server; :meth:`adopt_legacy` hands it to
    the first user who signs in, and the session replaces it if the server
    says it belongs to someone else.
    """

    def __init__(self, server_id: str) -> None:
        self._legacy = f"device-key:{server_id}"
        self._prefix = f"device-key:{server_id}:"
        self._proof = f"dpop-key:{server_id}"

    def _entry(self, user_id: str | None) -> str:
        return self._legacy if user_id is None else self._prefix + user_id

    def load(self, user_id: str | None = None) -> DeviceKeyPair | None:
        try:
            stored = keyring.get_password(SERVICE, self._entry(user_id))
        except keyring.errors.KeyringError as exc:
            raise KeyringUnavailableError(type(exc).__name__) from exc
        if stored is None:
            return None
        return DeviceKeyPair.from_private_bytes(base64.b64decode(stored))

    def save(self, pair: DeviceKeyPair, user_id: str | None = None) -> None:
        value = base64.b64encode(pair.private_bytes()).decode("ascii")
        try:
            keyring.set_password(SERVICE, self._entry(user_id), value)
        except keyring.errors.KeyringError as exc:
            raise KeyringUnavailableError(type(exc).__name__) from exc

    def adopt_legacy(self, user_id: str) -> DeviceKeyPair | None:
        """Move a pre-per-user key to ``user_id`` (once); ``None`` if there is none."""
        pair = self.load(None)
        if pair is None or self.load(user_id) is not None:
            return None
        self.save(pair, user_id)
        try:
            keyring.delete_password(SERVICE, self._legacy)
        except keyring.errors.KeyringError as exc:
            raise KeyringUnavailableError(type(exc).__name__) from exc
        return pair

    def load_or_create(self, user_id: str, *, fresh: bool = False) -> DeviceKeyPair:
        """The user's stored key pair, or (``fresh``: always) a new one, saved to the keyring
        before it is used."""
        pair = None if fresh else self.load(user_id)
        if pair is None:
            pair = DeviceKeyPair.generate()
            self.save(pair, user_id)
            logger.info("created a new device key pair")
        return pair

    def proof_key(self) -> DPoPKey:
        """This workstation's DPoP signing key for the server, made on first use.

        One per workstation and server, not per user: it is needed before the
        server has said who signed in (the sign-in request itself is proven).
        """
        try:
            stored = keyring.get_password(SERVICE, self._proof)
            if stored is not None:
                return DPoPKey.from_private_bytes(base64.b64decode(stored))
            key = DPoPKey.generate()
            value = base64.b64encode(key.private_bytes()).decode("ascii")
            keyring.set_password(SERVICE, self._proof, value)
        except keyring.errors.KeyringError as exc:
            raise KeyringUnavailableError(type(exc).__name__) from exc
        logger.info("created a new device signing key")
        return key

    def forget(self, user_ids: list[str]) -> int:
        """Delete the signing key, the legacy key and ``user_ids``' device keys; count deleted."""
        deleted = 0
        for entry in [self._proof, self._legacy, *(self._entry(u) for u in user_ids)]:
            deleted += _delete(entry)
        return deleted


def _delete(entry: str) -> int:
    try:
        keyring.delete_password(SERVICE, entry)
    except keyring.errors.PasswordDeleteError:
        return 0
    except keyring.errors.KeyringError as exc:
        raise KeyringUnavailableError(type(exc).__name__) from exc
    return 1


class KeyringTokenCache:
    """MSAL's serialised token cache (refresh tokens included) for one server, in the keyring.

    Never a file. (Windows Credential Manager holds at most 2,560 bytes per entry;
    a cache that outgrows it fails to save and the person signs in in the browser
    next time — nothing is written elsewhere.)
    """

    def __init__(self, server_id: str) -> None:
        self._entry = f"sso-cache:{server_id}"

    def load(self) -> str | None:
        try:
            return keyring.get_password(SERVICE, self._entry)
        except keyring.errors.KeyringError as exc:
            raise KeyringUnavailableError(type(exc).__name__) from exc

    def save(self, blob: str) -> None:
        try:
            keyring.set_password(SERVICE, self._entry, blob)
        except keyring.errors.KeyringError as exc:
            logger.warning("the sign-in cache was not saved: %s", type(exc).__name__)

    def clear(self) -> None:
        _delete(self._entry)


class OutboxKeyStore:
    """The outbox's AES-256 key for one server, kept only in the OS keyring.

    Losing it (a wiped keyring) makes the outbox unreadable: its files are set
    aside and the server sees the gap in the device's sequence numbers.
    """

    def __init__(self, server_id: str) -> None:
        self._entry = f"outbox-key:{server_id}"

    def load_or_create(self) -> bytes:
        try:
            stored = keyring.get_password(SERVICE, self._entry)
            if stored is not None:
                return base64.b64decode(stored)
            key = secrets.token_bytes(32)
            keyring.set_password(SERVICE, self._entry, base64.b64encode(key).decode("ascii"))
        except keyring.errors.KeyringError as exc:
            raise KeyringUnavailableError(type(exc).__name__) from exc
        logger.info("created a new outbox key")
        return key

    def forget(self) -> int:
        """Delete the outbox key (the outbox's files become unreadable); 1 if it existed."""
        return _delete(self._entry)


def state_dir() -> Path:
    """Where Cordon keeps its (encrypted) state: ``$XDG_STATE_HOME/cordon``."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "cordon"
