"""Layout of a server data directory and the secret files in it.

Everything the server keeps lives under one directory: the SQLite database,
encrypted blobs, the local CA and server certificate, and two secrets (the root
key that wraps project keys, the token-signing key). Secret files are created
0600 in a 0700 directory and refused if their permissions were widened.
A deployment with an HSM or TPM would supply the root key to
:class:`~server.vault.KeyVault` instead of ``keys/root.key``.
"""

from __future__ import annotations

import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from server.blob_store import BlobStore, store_for


class DataDirError(Exception):
    """The data directory is missing, not initialised, or unsafe."""


@dataclass(frozen=True)
class DataDir:
    """Paths inside one server data directory."""

    root: Path

    @property
    def db_path(self) -> Path:
        return self.root / "cordon.sqlite3"

    @property
    def blob_dir(self) -> Path:
        return self.root / "blobs"

    @property
    def database_url_path(self) -> Path:
        return self.root / "database.url"

    @property
    def database_url(self) -> str:
        """The database: the URL ``init --database`` kept, else the directory's SQLite file."""
        if self.database_url_path.exists():
            return self.database_url_path.read_text().strip()
        return f"sqlite:///{self.db_path}"

    @property
    def blobs(self) -> BlobStore:
        """The sealed recordings' store: ``blobs/``, or object storage (``blobs.json``)."""
        return store_for(self.root, self.blob_dir)

    @property
    def pki_dir(self) -> Path:
        return self.root / "pki"

    @property
    def ca_cert(self) -> Path:
        return self.pki_dir / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.pki_dir / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.pki_dir / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.pki_dir / "server.key"

    @property
    def root_key_path(self) -> Path:
        return self.root / "keys" / "root.key"

    @property
    def token_key_path(self) -> Path:
        return self.root / "keys" / "token.key"

    @property
    def audit_key_path(self) -> Path:
        """Ed25519 seed that signs audit checkpoints."""
        return self.root / "keys" / "audit-signing.key"

    @property
    def checkpoint_dir(self) -> Path:
        """Where signed checkpoints are exported: files are created once, never rewritten."""
        return self.root / "audit-checkpoints"

    def create_dirs(self) -> None:
        """Create the directory tree, private to the server's user."""
        for path in (self.root, self.blob_dir, self.pki_dir, self.root_key_path.parent):
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(path, 0o700)

    def require_initialised(self) -> None:
        """Raise :class:`DataDirError` unless ``init`` has run here."""
        database = self.database_url_path if self.database_url_path.exists() else self.db_path
        for path in (database, self.server_cert, self.root_key_path, self.token_key_path):
            if not path.exists():
                raise DataDirError(f"{self.root} is not initialised (run: cordon-server init)")


def write_secret(path: Path, value: bytes) -> None:
    """Write a new secret file 0600; never overwrite an existing one."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(value)
        fh.flush()
        os.fsync(fh.fileno())


def read_secret(path: Path, length: int) -> bytes:
    """Read a secret file, refusing one readable by group or others."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError as exc:
        raise DataDirError(f"missing secret file {path.name}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise DataDirError(f"{path.name} is accessible by group or others; chmod 600 it")
    value = path.read_bytes()
    if len(value) != length:
        raise DataDirError(f"{path.name} has the wrong length")
    return value


def ensure_secret(path: Path, length: int = 32) -> bytes:
    """Create a random secret if absent, then return it.

    Written whole under a temporary name and linked into place: several server
    processes starting at once each either make it or read the one that won,
    never a half-written file.
    """
    if not path.exists():
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        write_secret(temporary, secrets.token_bytes(length))
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            temporary.unlink()
    return read_secret(path, length)
