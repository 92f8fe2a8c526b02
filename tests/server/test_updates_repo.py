"""The update repository's commands, keys and routes (in process).

Keys: root and targets only in IT's offline directory, snapshot and timestamp
0600 in the data directory. Routes: unauthenticated, names only (no traversal),
a stable 404 code where nothing is published, rate-limited per address.
"""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tuf.api.metadata import Metadata, Root

from server import db
from server.api import routes_updates
from server.api.app import create_app
from server.cli import main as server_main
from server.context import open_context
from server.datadir import DataDir
from server.updates.keys import UpdateError, offline_key_path, online_key_path
from server.updates.repository import UpdateRepository
from server.updates.resign import ResignThread
from tests.fixtures import init_data_dir


@pytest.fixture
def data(tmp_path: Path) -> DataDir:
    return init_data_dir(tmp_path / "data")


def _init(data: DataDir, keys: Path) -> int:
    return server_main(["updates", "init", "--data-dir", str(data.root), "--keys", str(keys)])


def _publish(
    data: DataDir, keys: Path, package: Path, version: str, platform: str = "linux-deb"
) -> int:
    return server_main(["updates", "publish", str(package), "--platform", platform, "--version",
                        version, "--keys", str(keys), "--data-dir", str(data.root)])  # fmt: skip


def test_init_keeps_root_and_targets_keys_offline_and_online_keys_private(
    data: DataDir, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = tmp_path / "offline"
    assert _init(data, keys) == 0
    out = capsys.readouterr().out
    assert str(data.root / "updates" / "metadata" / "1.root.json") in out
    seeds = {}
    for role in ("root", "targets"):
        path = offline_key_path(keys, role)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        seeds[role] = path.read_bytes()
    for role in ("snapshot", "timestamp"):
        path = online_key_path(data, role)
        assert path.parent == data.root / "keys"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert seeds.setdefault(role, path.read_bytes()) not in out.encode()
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    for file in data.root.rglob("*"):  # the offline keys are nowhere in the data directory
        if file.is_file():
            content = file.read_bytes()
            assert seeds["root"] not in content and seeds["targets"] not in content
    root: Metadata[Root] = Metadata.from_file(str(data.root / "updates/metadata/1.root.json"))
    assert root.signed.consistent_snapshot
    assert root.signed.expires - datetime.now(UTC) > timedelta(days=364)
    assert _init(data, tmp_path / "again") == 2  # one repository, its keys never replaced


def test_offline_keys_inside_the_data_directory_are_refused(data: DataDir) -> None:
    assert _init(data, data.root / "offline") == 2
    assert not (data.root / "updates" / "metadata").exists()
    assert not online_key_path(data, "timestamp").exists()


def test_publish_signs_audits_and_refuses_what_it_must(data: DataDir, tmp_path: Path) -> None:
    keys = tmp_path / "offline"
    assert _init(data, keys) == 0
    package = tmp_path / "cordon.deb"
    package.write_bytes(b"installer" * 1000)
    assert _publish(data, keys, package, "0.2.0") == 0
    assert _publish(data, keys, package, "0.2.0") == 2  # not newer
    assert _publish(data, keys, package, "0.1.9") == 2
    assert _publish(data, keys, package, "latest") == 2
    assert _publish(data, keys, tmp_path / "missing.deb", "0.3.0") == 2
    other = tmp_path / "other-offline"  # another repository's targets key
    assert _init(init_data_dir(tmp_path / "other"), other) == 0
    other_package = tmp_path / "other.deb"
    other_package.write_bytes(b"not signed here" * 100)
    assert _publish(data, other, other_package, "0.3.0") == 2
    # Refused with the wrong key: the installer was not left where anyone can fetch it.
    served = sorted(p.name for p in (data.root / "updates" / "targets").rglob("*") if p.is_file())
    assert len(served) == 1 and served[0].endswith(".cordon-0.2.0.deb")
    with pytest.raises(SystemExit):
        _publish(data, keys, package, "0.3.0", platform="android-apk")
    status = UpdateRepository(data).status()
    assert status["targets"] == {"linux-deb/cordon-0.2.0.deb": {"length": 9000, "version": "0.2.0"}}
    assert {r: v["version"] for r, v in status["roles"].items()} == {
        "root": 1, "targets": 2, "snapshot": 2, "timestamp": 2,
    }  # fmt: skip
    ctx = open_context(data)
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            select(db.access_events.c.action, db.access_events.c.reason).where(
                db.access_events.c.action == "update_published"
            )
        ).all()
    assert [tuple(r) for r in rows] == [("update_published", "linux_deb_0_2_0")]


def test_the_server_re_signs_online_roles_before_they_expire(data: DataDir, tmp_path: Path) -> None:
    repo = UpdateRepository(data)
    assert ResignThread(repo).run_once() == []  # nothing initialised: nothing to do
    repo.init(tmp_path / "offline")
    assert repo.refresh_online() == []  # fresh
    now = datetime.now(UTC).replace(microsecond=0)
    assert repo.refresh_online(now + timedelta(hours=13)) == ["timestamp"]
    _root, _targets, snapshot, timestamp = repo.current()
    assert (snapshot.signed.version, timestamp.signed.version) == (1, 2)
    assert repo.refresh_online(now + timedelta(days=5)) == ["snapshot", "timestamp"]
    _root, _targets, snapshot, timestamp = repo.current()
    assert (snapshot.signed.version, timestamp.signed.version) == (2, 3)
    assert timestamp.signed.snapshot_meta.version == 2
    assert repo.due_offline(timedelta(days=400)) == ["root", "targets"]
    assert repo.renew(tmp_path / "offline") == ["root", "targets", "snapshot", "timestamp"]
    assert repo.root_version() == 2
    with pytest.raises(UpdateError) as caught:
        repo.renew(tmp_path / "not-the-keys")
    assert caught.value.code == "key_unreadable"


def test_routes_before_updates_are_initialised_say_so(data: DataDir) -> None:
    client = TestClient(create_app(open_context(data)))
    response = client.get("/v1/updates/metadata/timestamp.json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "updates_not_published"
    assert client.get("/v1/updates/targets/linux-deb/x.deb").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/v1/updates/metadata/..%2F..%2Fkeys%2Fupdate-timestamp.key",
        "/v1/updates/metadata/%2E%2E%2Fmetadata%2Ftimestamp.json",
        "/v1/updates/metadata/.lock",
        "/v1/updates/metadata/root.json",
        "/v1/updates/metadata/timestamp.json%00",
        "/v1/updates/targets/linux-deb/..%2F..%2F..%2Fkeys%2Fupdate-timestamp.key",
        "/v1/updates/targets/..%2F..%2Fkeys%2Fupdate-snapshot.key",
        "/v1/updates/targets/%2Fetc%2Fpasswd",
        "/v1/updates/targets/linux-deb/cordon-0.2.0.deb",
        "/v1/updates/targets/linux-deb",
    ],
)
def test_route_names_outside_the_repository_are_refused(
    data: DataDir, tmp_path: Path, path: str
) -> None:
    UpdateRepository(data).init(tmp_path / "offline")
    client = TestClient(create_app(open_context(data)))
    response = client.get(path)
    assert 400 <= response.status_code < 500
    assert response.json()["error"]["code"] in {"not_found", "invalid_request"}


def test_metadata_is_served_unauthenticated_and_not_cached(data: DataDir, tmp_path: Path) -> None:
    repo = UpdateRepository(data)
    repo.init(tmp_path / "offline")
    client = TestClient(create_app(open_context(data)))
    response = client.get("/v1/updates/metadata/1.root.json")
    assert response.status_code == 200
    assert response.content == (repo.metadata_dir / "1.root.json").read_bytes()
    assert response.headers["cache-control"] == "no-store"
    assert client.get("/v1/updates/metadata/2.root.json").status_code == 404


def test_update_routes_are_rate_limited_per_address(
    data: DataDir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    UpdateRepository(data).init(tmp_path / "offline")
    monkeypatch.setattr(routes_updates, "_LIMIT", routes_updates._PerAddress(3))
    client = TestClient(create_app(open_context(data)))
    codes = [client.get("/v1/updates/metadata/timestamp.json").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    response = client.get("/v1/updates/metadata/timestamp.json")
    assert response.json()["error"]["code"] == "rate_limited"
