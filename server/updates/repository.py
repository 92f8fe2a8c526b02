"""The update repository's metadata: made, published to, re-signed.

A TUF repository with consistent snapshots under ``<data dir>/updates``:
``metadata/N.root.json``, ``N.targets.json``, ``N.snapshot.json`` and
``timestamp.json``; installers under ``targets/<platform>/<sha256>.cordon-<version>.<ext>``.
Versioned names mean a workstation that fetched timestamp before a publish still
finds the snapshot and targets that timestamp names: every state it reads is
whole. Files are written to a temporary name and renamed, timestamp last, under
an exclusive lock, so the ``publish`` command and the serving process's re-signer
never interleave.

Expiry is what makes a frozen or replayed repository visible to clients:
timestamp 1 day and snapshot 7 (online keys; the server re-signs them in time),
targets 90 and root 365 (offline keys; ``updates renew`` re-signs them).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# The defining modules: the public ones re-export these without ``__all__``, which
# mypy's strict mode does not count as an export.
from securesystemslib.signer._signer import Signer
from tuf.api.metadata import (
    Metadata,
    MetaFile,
    Root,
    Signed,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)

from server.datadir import DataDir
from server.updates.keys import (
    OFFLINE_ROLES,
    ONLINE_ROLES,
    UpdateError,
    check_offline_dir,
    create_key,
    load_key,
    offline_key_path,
    online_key_path,
    private_dir,
)

#: How long each role's signature is good for (see the module docstring).
EXPIRY = {
    Root.type: timedelta(days=365),
    Targets.type: timedelta(days=90),
    Snapshot.type: timedelta(days=7),
    Timestamp.type: timedelta(days=1),
}
#: The server re-signs an online role once less than this is left of it.
RESIGN_BEFORE = {Snapshot.type: timedelta(days=3), Timestamp.type: timedelta(hours=12)}
#: Installer kind per platform, and the file extension it takes.
PLATFORMS = {"linux-deb": "deb", "windows-msi": "msi", "macos-pkg": "pkg"}
VERSION = re.compile(r"^(\d{1,4})\.(\d{1,4})\.(\d{1,4})$")
#: Names the routes may serve: nothing else in the repository directories is reachable.
METADATA_NAME = re.compile(r"^(?:[1-9][0-9]{0,8}\.(?:root|snapshot|targets)|timestamp)\.json$")
TARGET_NAME = re.compile(r"^[0-9a-f]{64}\.cordon-\d{1,4}\.\d{1,4}\.\d{1,4}\.(?:deb|msi|pkg)$")
_COPY_PIECE = 1024 * 1024


def version_key(version: str) -> tuple[int, int, int]:
    """``X.Y.Z`` as numbers, for comparing versions (raises ValueError otherwise)."""
    match = VERSION.match(version)
    if match is None:
        raise ValueError(f"not a version X.Y.Z: {version!r}")
    return int(match[1]), int(match[2]), int(match[3])


@dataclass(frozen=True)
class Published:
    """What ``publish`` added: the target path and the versions now current."""

    path: str
    length: int
    sha256: str
    targets_version: int
    snapshot_version: int
    timestamp_version: int


def _term(md: Metadata[Any]) -> dict[str, Any]:
    return {"version": md.signed.version, "expires": md.signed.expires.isoformat()}


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class UpdateRepository:
    """One data directory's update repository."""

    def __init__(self, data: DataDir) -> None:
        self.data = data
        self.root = data.root / "updates"
        self.metadata_dir = self.root / "metadata"
        self.targets_dir = self.root / "targets"

    # -- reading ----------------------------------------------------------
    @property
    def initialised(self) -> bool:
        return (self.metadata_dir / "timestamp.json").is_file()

    def _require(self) -> None:
        if not self.initialised:
            raise UpdateError("updates_not_initialised", "run: cordon-server updates init")

    def root_version(self) -> int:
        versions = [int(p.name.split(".")[0]) for p in self.metadata_dir.glob("*.root.json")]
        return max(versions, default=0)

    def _load(self, name: str, kind: type[Signed]) -> Metadata[Any]:
        md: Metadata[Any] = Metadata.from_file(str(self.metadata_dir / name))
        if not isinstance(md.signed, kind):
            raise UpdateError("metadata_damaged", f"{name} is not {kind.type} metadata")
        return md

    def current(self) -> tuple[Metadata[Root], Metadata[Targets], Metadata[Snapshot],
                               Metadata[Timestamp]]:  # fmt: skip
        """The metadata now served, each found through the one that names it."""
        self._require()
        root: Metadata[Root] = self._load(f"{self.root_version()}.root.json", Root)
        timestamp: Metadata[Timestamp] = self._load("timestamp.json", Timestamp)
        snapshot: Metadata[Snapshot] = self._load(
            f"{timestamp.signed.snapshot_meta.version}.snapshot.json", Snapshot
        )
        targets_version = snapshot.signed.meta["targets.json"].version
        targets: Metadata[Targets] = self._load(f"{targets_version}.targets.json", Targets)
        return root, targets, snapshot, timestamp

    def metadata_file(self, name: str) -> Path | None:
        """The metadata file ``name`` if it is one the routes may serve and it exists."""
        if not METADATA_NAME.match(name):
            return None
        path = self.metadata_dir / name
        return path if path.is_file() else None

    def target_file(self, platform: str, name: str) -> Path | None:
        """An installer by its hash-prefixed name, if the name is well-formed and it exists."""
        if platform not in PLATFORMS or not TARGET_NAME.match(name):
            return None
        path = self.targets_dir / platform / name
        return path if path.is_file() else None

    def status(self) -> dict[str, Any]:
        """Versions, expiries and published installers (no key material)."""
        root, targets, snapshot, timestamp = self.current()
        return {
            "root_file": str(self.metadata_dir / f"{root.signed.version}.root.json"),
            "roles": {
                md.signed.type: {
                    "version": md.signed.version,
                    "expires": md.signed.expires.isoformat(),
                }
                for md in (root, targets, snapshot, timestamp)
            },
            "targets": {
                path: {"length": t.length, "version": (t.custom or {}).get("version")}
                for path, t in sorted(targets.signed.targets.items())
            },
        }

    # -- writing ----------------------------------------------------------
    @contextmanager
    def _locked(self) -> Iterator[None]:
        private_dir(self.root)
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _write(self, name: str, md: Metadata[Any]) -> None:
        """Write ``name`` atomically (temporary file, fsync, rename)."""
        self.metadata_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.metadata_dir, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(md.to_bytes())
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.metadata_dir / name)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @staticmethod
    def _sign(md: Metadata[Any], signer: Signer, root: Metadata[Root], now: datetime) -> None:
        role = md.signed.type
        if signer.public_key.keyid not in root.signed.roles[role].keyids:
            raise UpdateError("wrong_key", f"that key does not sign {role} in this repository")
        md.signed.expires = now + EXPIRY[role]
        md.sign(signer, append=False)

    def init(self, offline_dir: Path) -> Path:
        """New keys and version 1 of every role; returns the root.json to ship."""
        offline_dir = check_offline_dir(self.data, offline_dir)
        if self.initialised or self.root_version():
            raise UpdateError("updates_initialised", "this server already has an update repository")
        paths = [offline_key_path(offline_dir, role) for role in OFFLINE_ROLES]
        paths += [online_key_path(self.data, role) for role in ONLINE_ROLES]
        if any(path.exists() for path in paths):
            raise UpdateError("key_exists", "update keys exist already; nothing was changed")
        private_dir(offline_dir)
        signers = {role: create_key(offline_key_path(offline_dir, role)) for role in OFFLINE_ROLES}
        for role in ONLINE_ROLES:
            signers[role] = create_key(online_key_path(self.data, role))
        now = _now()
        root = Metadata(Root(consistent_snapshot=True, expires=now + EXPIRY[Root.type]))
        for role, signer in signers.items():
            root.signed.add_key(signer.public_key, role)
        targets = Metadata(Targets(expires=now))
        snapshot = Metadata(Snapshot(expires=now))
        timestamp = Metadata(Timestamp(expires=now))
        with self._locked():
            self.targets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            for md in (root, targets, snapshot, timestamp):
                self._sign(md, signers[md.signed.type], root, now)
            self._write("1.root.json", root)
            self._write("1.targets.json", targets)
            self._write("1.snapshot.json", snapshot)
            self._write("timestamp.json", timestamp)
        return self.metadata_dir / "1.root.json"

    def _online(self) -> dict[str, Signer]:
        return {role: load_key(online_key_path(self.data, role)) for role in ONLINE_ROLES}

    def _chain(
        self, root: Metadata[Root], snapshot: Metadata[Snapshot], timestamp: Metadata[Timestamp],
        now: datetime, targets_version: int | None,
    ) -> None:  # fmt: skip
        """Write a new snapshot (naming ``targets_version``, if given) and then timestamp."""
        online = self._online()
        snapshot.signed.version += 1
        if targets_version is not None:
            snapshot.signed.meta["targets.json"] = MetaFile(version=targets_version)
        self._sign(snapshot, online[Snapshot.type], root, now)
        self._write(f"{snapshot.signed.version}.snapshot.json", snapshot)
        self._timestamp(root, snapshot, timestamp, now, online[Timestamp.type])

    def _timestamp(
        self, root: Metadata[Root], snapshot: Metadata[Snapshot], timestamp: Metadata[Timestamp],
        now: datetime, signer: Signer,
    ) -> None:  # fmt: skip
        timestamp.signed.version += 1
        timestamp.signed.snapshot_meta = MetaFile(version=snapshot.signed.version)
        self._sign(timestamp, signer, root, now)
        self._write("timestamp.json", timestamp)

    def publish(self, package: Path, platform: str, version: str, offline_dir: Path) -> Published:
        """Add ``package`` as this platform's installer of ``version`` and sign it all."""
        if platform not in PLATFORMS:
            raise UpdateError("unknown_platform", f"platform must be one of {sorted(PLATFORMS)}")
        try:
            wanted = version_key(version)
        except ValueError as exc:
            raise UpdateError("bad_version", str(exc)) from exc
        if not package.is_file():
            raise UpdateError("no_package", f"{package} is not a file")
        targets_key = load_key(offline_key_path(check_offline_dir(self.data, offline_dir),
                                                Targets.type))  # fmt: skip
        with self._locked():
            root, targets, snapshot, timestamp = self.current()
            for existing in targets.signed.targets.values():
                other = (existing.custom or {}).get("version", "0.0.0")
                if existing.path.startswith(platform + "/") and version_key(other) >= wanted:
                    raise UpdateError(
                        "version_not_newer", f"{platform} already has version {other}"
                    )
            if targets_key.public_key.keyid not in root.signed.roles[Targets.type].keyids:
                raise UpdateError("wrong_key", "that key does not sign targets here")
            path = f"{platform}/cordon-{version}.{PLATFORMS[platform]}"
            info = self._store(package, path)
            try:
                info.unrecognized_fields["custom"] = {"version": version}
                targets.signed.targets[path] = info
                targets.signed.version += 1
                now = _now()
                self._sign(targets, targets_key, root, now)
                self._write(f"{targets.signed.version}.targets.json", targets)
                self._chain(root, snapshot, timestamp, now, targets.signed.version)
            except BaseException:
                # Nothing names it: the installer must not stay where anyone can fetch it.
                self._stored_file(info).unlink(missing_ok=True)
                raise
        return Published(path, info.length, info.hashes["sha256"], targets.signed.version,
                         snapshot.signed.version, timestamp.signed.version)  # fmt: skip

    def _stored_file(self, info: TargetFile) -> Path:
        platform, _, file_name = info.path.partition("/")
        return self.targets_dir / platform / f"{info.hashes['sha256']}.{file_name}"

    def _store(self, package: Path, path: str) -> TargetFile:
        """Copy the installer in under its hash-prefixed name, hashing as it is copied."""
        platform, _, file_name = path.partition("/")
        folder = self.targets_dir / platform
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        digest, length = hashlib.sha256(), 0
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        try:
            with package.open("rb") as src, os.fdopen(fd, "wb") as dst:
                while piece := src.read(_COPY_PIECE):
                    digest.update(piece)
                    length += len(piece)
                    dst.write(piece)
                dst.flush()
                os.fsync(dst.fileno())
            name = f"{digest.hexdigest()}.{file_name}"
            os.replace(tmp, folder / name)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return TargetFile(length, {"sha256": digest.hexdigest()}, path)

    def refresh_online(self, now: datetime | None = None) -> list[str]:
        """Re-sign snapshot and timestamp if they are near expiry; return the roles re-signed.

        Only online keys are used: targets and root near expiry are reported by
        :meth:`due_offline` for IT to renew.
        """
        now = now or _now()
        with self._locked():
            root, _targets, snapshot, timestamp = self.current()
            if snapshot.signed.expires - now < RESIGN_BEFORE[Snapshot.type]:
                self._chain(root, snapshot, timestamp, now, None)
                return [Snapshot.type, Timestamp.type]
            if timestamp.signed.expires - now < RESIGN_BEFORE[Timestamp.type]:
                self._timestamp(root, snapshot, timestamp, now, self._online()[Timestamp.type])
                return [Timestamp.type]
        return []

    def due_offline(self, within: timedelta = timedelta(days=30)) -> list[str]:
        """Offline roles that expire within ``within`` (IT must run ``updates renew``)."""
        root, targets, _snapshot, _timestamp = self.current()
        return [md.signed.type for md in (root, targets) if md.signed.expires - _now() < within]

    def renew(self, offline_dir: Path) -> list[str]:
        """Re-sign targets (and root, as a new version) with the offline keys, for a full term."""
        offline_dir = check_offline_dir(self.data, offline_dir)
        root_key = load_key(offline_key_path(offline_dir, Root.type))
        targets_key = load_key(offline_key_path(offline_dir, Targets.type))
        with self._locked():
            root, targets, snapshot, timestamp = self.current()
            now = _now()
            root.signed.version += 1
            self._sign(root, root_key, root, now)
            self._write(f"{root.signed.version}.root.json", root)
            targets.signed.version += 1
            self._sign(targets, targets_key, root, now)
            self._write(f"{targets.signed.version}.targets.json", targets)
            self._chain(root, snapshot, timestamp, now, targets.signed.version)
        return [Root.type, Targets.type, Snapshot.type, Timestamp.type]
