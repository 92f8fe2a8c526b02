"""Signed updates end to end: a real ``cordon-server`` over TLS, the real update client.

The repository is made and published to with the CLI IT runs; each attack then
rewrites what the server serves from (metadata built with ``tuf.api.metadata``,
signed with the keys an attacker would hold — or not) and the client must
refuse it with a stable code, keep the running version, never call the
installer, and report the refusal: the test uploads what the event recorder
wrote to the outbox and finds the ``update_refused`` leaf in the server's log.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from securesystemslib.signer import CryptoSigner
from sqlalchemy import select
from tuf.api.metadata import Metadata

from app.api.client import CordonApi
from app.crypto.dpop import DPoPKey
from app.services.events import EventRecorder
from app.services.outbox import Outbox
from app.services.update_install import UpdateInstaller
from app.services.updates import UpdateChecker, UpdateRefusedError, audit_refusal
from app.wire.schemas import AccessEventIn, EventBatchIn
from devtools.processes import start_server, stop
from devtools.synthetic_audio import write_audio
from server import db
from server.cli import main as server_main
from server.datadir import DataDir
from server.updates.keys import load_key, offline_key_path, online_key_path
from tests.fixtures import init_data_dir

PACKAGE_BYTES = 1_000_000


@dataclass
class Served:
    url: str
    data_dir: Path
    keys: Path
    ca_file: Path
    package: Path
    proc: subprocess.Popen[bytes]

    @property
    def metadata(self) -> Path:
        return self.data_dir / "updates" / "metadata"

    @property
    def targets(self) -> Path:
        return self.data_dir / "updates" / "targets"

    def load(self, name: str) -> Metadata[Any]:
        return Metadata.from_file(str(self.metadata / name))

    def online(self, role: str) -> CryptoSigner:
        return load_key(online_key_path(DataDir(self.data_dir), role))

    def offline(self, role: str) -> CryptoSigner:
        return load_key(offline_key_path(self.keys, role))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The demo server (so a test can sign in) with 0.2.0 published for linux-deb."""
    tmp = tmp_path_factory.mktemp("updates-tls")
    audio = tmp / "audio"
    audio.mkdir()
    write_audio(audio / "a.wav", 1.0, 16000, 1, seed=1)
    data = tmp / "server-data"
    init_data_dir(data)
    keys = tmp / "offline-keys"
    assert server_main(["updates", "init", "--data-dir", str(data), "--keys", str(keys)]) == 0
    package = tmp / "cordon-0.2.0.deb"
    package.write_bytes(os.urandom(PACKAGE_BYTES))
    publish = ["updates", "publish", str(package), "--platform", "linux-deb", "--version",
               "0.2.0", "--keys", str(keys), "--data-dir", str(data)]  # fmt: skip
    assert server_main(publish) == 0
    proc, url = start_server(data, "--audio-dir", str(audio), command="demo")
    try:
        yield Served(url, data, keys, data / "pki" / "ca.pem", package, proc)
    finally:
        stop(proc)


@pytest.fixture
def repo(served: Served, tmp_path: Path) -> Iterator[Served]:
    """The served repository, put back as published after each test's attack."""
    saved = tmp_path / "saved-updates"
    shutil.copytree(served.data_dir / "updates", saved)
    yield served
    shutil.rmtree(served.data_dir / "updates")
    shutil.copytree(saved, served.data_dir / "updates")


@dataclass
class FakeRunner:
    calls: list[list[str]] = field(default_factory=list)

    def __call__(self, command: Sequence[str]) -> int:
        self.calls.append(list(command))
        return 0


@dataclass
class Workstation:
    """One workstation's update client, event recorder and outbox."""

    checker: UpdateChecker
    outbox: Outbox
    runner: FakeRunner
    reports: list[str]


@pytest.fixture
def workstation(repo: Served, tmp_path: Path) -> Iterator[Workstation]:
    root = tmp_path / "shipped-root.json"  # what the installer put on the machine
    shutil.copyfile(repo.metadata / "1.root.json", root)
    outbox = Outbox(tmp_path / "outbox", os.urandom(32))
    recorder = audit_refusal(EventRecorder(outbox))
    reports: list[str] = []

    def report(code: str) -> None:
        reports.append(code)
        recorder(code)

    checker = UpdateChecker(repo.url, repo.ca_file, root, tmp_path / "tuf-metadata", report,
                            current="0.1.0", platform="linux-deb")  # fmt: skip
    try:
        yield Workstation(checker, outbox, FakeRunner(), reports)
    finally:
        outbox.close()


def update(ws: Workstation, mode: str = "automatic", *, yes: bool = True) -> None:
    """What the client does: check, download, verify, and install with consent."""
    offer = ws.checker.check(download=True)
    assert offer is not None
    UpdateInstaller(mode, "linux-deb", ws.runner).install(offer, consented=yes)


def audited(served: Served, ws: Workstation) -> list[tuple[str, str | None]]:
    """Upload the workstation's outbox as the delivery thread does; the server's records."""
    api = CordonApi(served.url, served.ca_file)
    api.set_proof_key(DPoPKey.generate())
    api.set_token(api.demo_login("annotator").access_token)
    deadline = time.monotonic() + 10
    while len(ws.outbox.pending()) < ws.outbox.counts()[0]:  # still on the writer's queue
        assert time.monotonic() < deadline, "the outbox did not write its entries"
        time.sleep(0.01)
    entries = ws.outbox.pending()
    if entries:
        batch = [AccessEventIn(seq=e.seq, **e.body) for e in entries if e.kind == "event"]
        api.post_events(EventBatchIn(events=batch), idempotency_key=str(uuid.uuid4()))
        ws.outbox.acknowledge(e.seq for e in entries)
    api.close()
    ids = {e.body["event_id"] for e in entries}
    with db.make_engine(DataDir(served.data_dir).database_url).connect() as conn:
        rows = conn.execute(
            select(db.access_events.c.event_id, db.access_events.c.action,
                   db.access_events.c.outcome, db.access_events.c.reason)
        ).all()  # fmt: skip
    return [
        (r.outcome, r.reason) for r in rows if r.event_id in ids and r.action == "update_refused"
    ]


def refused(served: Served, ws: Workstation, code: str) -> None:
    with pytest.raises(UpdateRefusedError) as caught:
        update(ws)
    assert caught.value.code == code
    assert ws.runner.calls == []  # nothing was handed to the installer
    assert ws.reports == [code]
    assert audited(served, ws) == [("refused", code)]
    assert not list(Path(os.environ["TMPDIR"]).glob("cordon-update-*"))


def _resign(md: Metadata[Any], signer: CryptoSigner, **changes: Any) -> Metadata[Any]:
    for name, value in changes.items():
        setattr(md.signed, name, value)
    md.sign(signer, append=False)
    return md


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


# -- the update that should happen --------------------------------------------------
def test_published_update_is_downloaded_verified_and_installed_with_consent(
    repo: Served, workstation: Workstation
) -> None:
    offer = workstation.checker.check(download=True)
    assert offer is not None and offer.version == "0.2.0" and offer.file is not None
    assert offer.file.read_bytes() == repo.package.read_bytes()
    assert offer.folder is not None and stat.S_IMODE(offer.folder.stat().st_mode) == 0o700
    file = offer.file
    UpdateInstaller("automatic", "linux-deb", workstation.runner).install(offer, consented=False)
    assert workstation.runner.calls == [["pkexec", "apt-get", "install", "-y", str(file)]]
    assert not file.exists()  # handed over, then deleted
    assert workstation.reports == []


def test_ask_without_a_yes_runs_nothing(repo: Served, workstation: Workstation) -> None:
    with pytest.raises(Exception, match="declined"):
        update(workstation, "ask", yes=False)
    assert workstation.runner.calls == []
    update(workstation, "ask", yes=True)
    assert len(workstation.runner.calls) == 1


def test_the_running_version_is_not_offered_again(repo: Served, tmp_path: Path) -> None:
    checker = UpdateChecker(repo.url, repo.ca_file, repo.metadata / "1.root.json",
                            tmp_path / "m", lambda _c: None, current="0.2.0",
                            platform="linux-deb")  # fmt: skip
    assert checker.check() is None
    other = UpdateChecker(repo.url, repo.ca_file, repo.metadata / "1.root.json",
                          tmp_path / "w", lambda _c: None, platform="windows-msi")  # fmt: skip
    assert other.check() is None


# -- attacks ---------------------------------------------------------------------------
def test_rollback_of_timestamp_after_a_newer_one_was_seen(
    repo: Served, workstation: Workstation
) -> None:
    assert workstation.checker.check(download=False) is not None  # sees timestamp v2
    old = _resign(repo.load("timestamp.json"), repo.online("timestamp"), version=1)
    (repo.metadata / "timestamp.json").write_bytes(old.to_bytes())
    refused(repo, workstation, "rollback")


def test_rollback_of_snapshot_after_a_newer_one_was_seen(
    repo: Served, workstation: Workstation
) -> None:
    assert workstation.checker.check(download=False) is not None  # sees snapshot v2
    ts = repo.load("timestamp.json")
    ts.signed.snapshot_meta.version = 1  # 1.snapshot.json: genuine, but older
    newer = _resign(ts, repo.online("timestamp"), version=ts.signed.version + 1)
    (repo.metadata / "timestamp.json").write_bytes(newer.to_bytes())
    refused(repo, workstation, "rollback")


def test_freeze_an_expired_timestamp_is_refused(repo: Served, workstation: Workstation) -> None:
    assert workstation.checker.check(download=False) is not None
    ts = repo.load("timestamp.json")
    frozen = _resign(ts, repo.online("timestamp"), version=ts.signed.version + 1,
                     expires=_now() - timedelta(hours=1))  # fmt: skip
    (repo.metadata / "timestamp.json").write_bytes(frozen.to_bytes())
    refused(repo, workstation, "expired_metadata")


def test_arbitrary_target_bytes_replaced_on_the_server(
    repo: Served, workstation: Workstation
) -> None:
    (stored,) = (repo.targets / "linux-deb").glob("*.cordon-0.2.0.deb")
    stored.write_bytes(os.urandom(PACKAGE_BYTES))  # same length, other bytes
    refused(repo, workstation, "hash_mismatch")


def test_mix_and_match_targets_of_another_version_than_snapshot_names(
    repo: Served, workstation: Workstation
) -> None:
    snapshot = repo.load("2.snapshot.json")
    assert snapshot.signed.meta["targets.json"].version == 2
    # Genuinely signed, but version 1: the state before 0.2.0 was published.
    shutil.copyfile(repo.metadata / "1.targets.json", repo.metadata / "2.targets.json")
    refused(repo, workstation, "rollback")


def test_timestamp_signed_by_a_foreign_key(repo: Served, workstation: Workstation) -> None:
    ts = repo.load("timestamp.json")
    forged = _resign(ts, CryptoSigner.generate_ed25519(), version=ts.signed.version + 1)
    (repo.metadata / "timestamp.json").write_bytes(forged.to_bytes())
    refused(repo, workstation, "bad_signature")


def test_expired_root(repo: Served, workstation: Workstation) -> None:
    root = repo.load("1.root.json")
    expired = _resign(root, repo.offline("root"), version=2, expires=_now() - timedelta(days=1))
    (repo.metadata / "2.root.json").write_bytes(expired.to_bytes())
    refused(repo, workstation, "expired_metadata")


def test_targets_signed_with_an_online_key(repo: Served, workstation: Workstation) -> None:
    """A broken-into server holds the snapshot and timestamp keys, not the targets key:
    an installer list it signs itself is refused."""
    targets = repo.load("2.targets.json")
    forged = _resign(targets, repo.online("snapshot"), version=3)
    (repo.metadata / "3.targets.json").write_bytes(forged.to_bytes())
    snapshot = repo.load("2.snapshot.json")
    snapshot.signed.meta["targets.json"].version = 3
    snapshot = _resign(snapshot, repo.online("snapshot"), version=3)
    (repo.metadata / "3.snapshot.json").write_bytes(snapshot.to_bytes())
    ts = repo.load("timestamp.json")
    ts.signed.snapshot_meta.version = 3
    ts = _resign(ts, repo.online("timestamp"), version=ts.signed.version + 1)
    (repo.metadata / "timestamp.json").write_bytes(ts.to_bytes())
    refused(repo, workstation, "bad_signature")


def test_a_repository_seen_before_that_vanishes_is_audited(
    repo: Served, workstation: Workstation
) -> None:
    """A 404 where this workstation already trusted a repository is how a freeze looks."""
    assert workstation.checker.check(download=False) is not None
    (repo.metadata / "timestamp.json").unlink()
    refused(repo, workstation, "withdrawn")


def test_a_server_the_pinned_ca_does_not_trust_is_audited(
    repo: Served, workstation: Workstation, tmp_path: Path
) -> None:
    other_ca = tmp_path / "other-ca.pem"
    other = init_data_dir(tmp_path / "other-data")
    shutil.copyfile(other.ca_cert, other_ca)
    workstation.checker._ca_file = other_ca
    refused(repo, workstation, "tls_refused")
