"""Real parts for the Linux package tests: the built .deb, signing keys, an HTTP
repository server and a clean Debian root.

Nothing is mocked. The package is built once per session by the same code as
``installer/build-deb``; keys are fresh ed25519 keys in temp GnuPG homes; the
repositories are served by a ``http.server`` process this file starts on
127.0.0.1 and stops by its pid; the Debian root comes from the cached
debootstrap tarball (:mod:`devtools.packaging.debian_root`) and is unmounted
and deleted afterwards. These tests need root (chroot, mount) and the Debian
mirror; without them they fail, they never skip.
"""

from __future__ import annotations

import datetime
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import Metadata, Root, Snapshot, Targets, Timestamp

from app.lockdown.policy import PolicyValue
from devtools.packaging.apt_repo import KEYRING_NAME, build_repository
from devtools.packaging.build_deb import build
from devtools.packaging.deb_tree import DebInputs
from devtools.packaging.debian_root import DebianRoot, cached_tarball
from devtools.packaging.policy_templates import policy_json
from server.pki import create_ca

#: The machine policy the test package ships: what Cordon on the installed root must read back.
POLICY: dict[str, PolicyValue] = {
    "server_url": "https://cordon.example.test:8443",
    "server_ca_file": "/etc/cordon/ca.pem",
    "update_root_file": "/etc/cordon/update-root.json",
    "idle_lock_minutes": 5,
}


@dataclass(frozen=True)
class BuiltDeb:
    path: Path
    inputs: DebInputs
    seconds: float


@dataclass(frozen=True)
class SigningKey:
    home: Path
    fingerprint: str


def self_signed_ca_pem() -> bytes:
    """A CA certificate as `cordon-server init` makes one (its key is thrown away)."""
    with tempfile.TemporaryDirectory() as folder:
        create_ca(Path(folder) / "ca.pem", Path(folder) / "ca.key", "Cordon Test CA")
        return (Path(folder) / "ca.pem").read_bytes()


def tuf_root_json() -> bytes:
    """A root.json as `cordon-server updates init` makes one: every role, self-signed."""
    signer = CryptoSigner.generate_ed25519()
    root = Metadata(Root(expires=datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)))
    for role in (Root.type, Targets.type, Snapshot.type, Timestamp.type):
        root.signed.add_key(signer.public_key, role)
    root.sign(signer)
    return root.to_bytes()


@pytest.fixture(scope="session")
def deb_inputs(tmp_path_factory: pytest.TempPathFactory) -> DebInputs:
    """IT's inputs: a machine policy, the server's CA and a TUF root."""
    folder = tmp_path_factory.mktemp("it-inputs")
    # IT's way: the commented template, with the values it locks.
    (folder / "policy.json").write_text(policy_json(POLICY))
    (folder / "ca.pem").write_bytes(self_signed_ca_pem())
    (folder / "update-root.json").write_bytes(tuf_root_json())
    return DebInputs(folder / "policy.json", folder / "ca.pem", folder / "update-root.json")


@pytest.fixture(scope="session")
def built_deb(tmp_path_factory: pytest.TempPathFactory, deb_inputs: DebInputs) -> BuiltDeb:
    started = time.monotonic()
    path = build(tmp_path_factory.mktemp("deb-a"), deb_inputs)
    return BuiltDeb(path, deb_inputs, time.monotonic() - started)


def _new_key(name: str) -> Iterator[SigningKey]:
    # A short path: gpg-agent's socket lives in the home and sockets have a length limit.
    home = Path(tempfile.mkdtemp(prefix="gpg-"))
    home.chmod(0o700)
    gpg = ["gpg", "--homedir", str(home), "--batch"]
    user_id = f"{name} <archive@cordon.test>"
    generate = ["--passphrase", "", "--quick-gen-key", user_id, "ed25519", "sign", "never"]
    subprocess.run(
        [*gpg, *generate],
        check=True,
        capture_output=True,
    )
    listing = subprocess.run(
        [*gpg, "--with-colons", "--list-keys"], check=True, capture_output=True, text=True
    ).stdout
    fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line[:4] == "fpr:")
    try:
        yield SigningKey(home, fingerprint)
    finally:
        # gpg started an agent for this home; stop that one (gpgconf finds it by its socket).
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def archive_key() -> Iterator[SigningKey]:
    yield from _new_key("Cordon Test Archive")


@pytest.fixture(scope="session")
def other_key() -> Iterator[SigningKey]:
    yield from _new_key("Someone Else")


@pytest.fixture(scope="session")
def repositories(
    tmp_path_factory: pytest.TempPathFactory,
    built_deb: BuiltDeb,
    archive_key: SigningKey,
    other_key: SigningKey,
) -> Path:
    """``good/`` signed by the archive key, ``unsigned/``, and ``resigned/`` by another key."""
    top = tmp_path_factory.mktemp("repos")
    debs = [built_deb.path]
    build_repository(top / "good", debs, archive_key.home, archive_key.fingerprint)
    build_repository(top / "unsigned", debs, archive_key.home, archive_key.fingerprint)
    for name in ("InRelease", "Release.gpg"):
        (top / "unsigned" / "dists" / "stable" / name).unlink()
    build_repository(top / "resigned", debs, other_key.home, other_key.fingerprint)
    return top


@pytest.fixture(scope="session")
def repo_url(repositories: Path) -> Iterator[str]:
    """The repositories over HTTP on 127.0.0.1 (a chroot shares the host's network)."""
    log = (repositories.parent / "http.log").open("wb")
    server = subprocess.Popen(
        [
            sys.executable,
            "-u",
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            "0",
            "-d",
            str(repositories),
        ],
        stdout=subprocess.PIPE,
        stderr=log,
    )
    try:
        assert server.stdout is not None
        banner = server.stdout.readline().decode()  # "Serving HTTP on 127.0.0.1 port N (...)"
        port = int(banner.split(" port ")[1].split()[0])
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(server.pid, 9)
            server.wait()
        log.close()


@pytest.fixture(scope="module")
def debian_root(
    tmp_path_factory: pytest.TempPathFactory, repositories: Path
) -> Iterator[DebianRoot]:
    """A clean bookworm root with our archive key where ``signed-by=`` will point."""
    root = DebianRoot.unpack(cached_tarball(), tmp_path_factory.mktemp("chroot") / "root")
    try:
        root.prepare_network()
        root.mount_proc()
        keyrings = root.path / "usr" / "share" / "keyrings"
        shutil.copyfile(repositories / "good" / KEYRING_NAME, keyrings / KEYRING_NAME)
        yield root
    finally:
        root.remove()
