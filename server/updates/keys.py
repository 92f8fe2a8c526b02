"""The four TUF role keys of the update repository, and where each one lives.

Root and targets sign what workstations trust and install, so their keys are
written only to the offline directory IT names (``--keys``), never into the
server's data directory: a stolen server cannot publish an installer or rotate
trust. Snapshot and timestamp only vouch for *which* metadata is current, so the
server keeps them online (``keys/update-*.key``, 0600 in the 0700 keys
directory, like its other secrets) and re-signs with them before they expire.
Every key is an Ed25519 seed of 32 bytes, read back refusing widened modes.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from securesystemslib.signer._crypto_signer import CryptoSigner  # (re-exported without __all__)

from server.coded_error import CodedError
from server.datadir import DataDir, DataDirError, read_secret, write_secret

OFFLINE_ROLES = ("root", "targets")
ONLINE_ROLES = ("snapshot", "timestamp")
SEED_BYTES = 32


class UpdateError(CodedError):
    """A refused update-repository command; nothing was changed."""


def online_key_path(data: DataDir, role: str) -> Path:
    """The server-held key of ``role`` (snapshot or timestamp)."""
    return data.root_key_path.parent / f"update-{role}.key"


def offline_key_path(offline_dir: Path, role: str) -> Path:
    """IT's offline key of ``role`` (root or targets)."""
    return offline_dir / f"cordon-update-{role}.key"


def check_offline_dir(data: DataDir, offline_dir: Path) -> Path:
    """The offline directory, refused if it lies inside the server's data directory."""
    resolved = offline_dir.resolve()
    if resolved.is_relative_to(data.root.resolve()):
        raise UpdateError(
            "offline_keys_in_data_dir",
            "the offline keys must not live in the server's data directory",
        )
    return resolved


def create_key(path: Path) -> CryptoSigner:
    """A new Ed25519 key, written 0600 (never over an existing file)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    seed = Ed25519PrivateKey.generate().private_bytes_raw()
    try:
        write_secret(path, seed)
    except FileExistsError as exc:
        raise UpdateError("key_exists", f"{path.name} exists already; nothing was changed") from exc
    return _signer(seed)


def load_key(path: Path) -> CryptoSigner:
    """A role's signer from its seed file (0600, 32 bytes)."""
    try:
        return _signer(read_secret(path, SEED_BYTES))
    except DataDirError as exc:
        raise UpdateError("key_unreadable", str(exc)) from exc


def _signer(seed: bytes) -> CryptoSigner:
    return CryptoSigner(Ed25519PrivateKey.from_private_bytes(seed))


def private_dir(path: Path) -> None:
    """Create ``path`` 0700 (the offline key directory)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
