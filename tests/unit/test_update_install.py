"""Consent before an installer runs, the OS commands, and the stable refusal codes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from tuf.api import exceptions as tuf_errors

from app.services.update_install import (
    InstallRefusedError,
    UpdateInstaller,
    installer_command,
)
from app.services.updates import (
    PinnedFetcher,
    UpdateChecker,
    UpdateOffer,
    UpdateRefusedError,
    platform_kind,
    refusal_for,
    version_key,
)
from server.datadir import DataDir
from server.updates.repository import UpdateRepository


class Runner:
    def __init__(self, status: int = 0) -> None:
        self.calls: list[list[str]] = []
        self.status = status

    def __call__(self, command: Sequence[str]) -> int:
        self.calls.append(list(command))
        return self.status


def offer(tmp_path: Path) -> UpdateOffer:
    folder = tmp_path / "dl"
    folder.mkdir()
    file = folder / "cordon-0.2.0.msi"
    file.write_bytes(b"msi")
    return UpdateOffer("0.2.0", "windows-msi/cordon-0.2.0.msi", 3, file, folder)


def test_each_platform_has_its_installer_command(tmp_path: Path) -> None:
    f = tmp_path / "f"
    assert installer_command("windows-msi", f) == ["msiexec", "/i", str(f), "/qn", "/norestart"]
    assert installer_command("linux-deb", f) == ["pkexec", "apt-get", "install", "-y", str(f)]
    assert installer_command("macos-pkg", f) == ["installer", "-pkg", str(f), "-target", "/"]
    with pytest.raises(InstallRefusedError):
        installer_command("android-apk", f)


@pytest.mark.parametrize(
    ("mode", "yes", "ran", "code"),
    [
        ("automatic", False, True, None),
        ("ask", True, True, None),
        ("ask", False, False, "declined"),
        ("never", True, False, "install_disabled"),
    ],
)
def test_the_installer_runs_only_with_consent(
    tmp_path: Path, mode: str, yes: bool, ran: bool, code: str | None
) -> None:
    runner, update = Runner(), offer(tmp_path)
    file = update.file
    installer = UpdateInstaller(mode, "windows-msi", runner)
    if code is None:
        installer.install(update, consented=yes)
    else:
        with pytest.raises(InstallRefusedError) as caught:
            installer.install(update, consented=yes)
        assert caught.value.code == code
    assert runner.calls == ([["msiexec", "/i", str(file), "/qn", "/norestart"]] if ran else [])
    assert file is not None and not file.exists() and update.file is None  # deleted either way
    assert installer.downloads is (mode != "never")


def test_a_failed_installer_is_reported(tmp_path: Path) -> None:
    with pytest.raises(InstallRefusedError) as caught:
        UpdateInstaller("automatic", "windows-msi", Runner(1603)).install(
            offer(tmp_path), consented=True
        )
    assert caught.value.code == "installer_failed"


@pytest.mark.parametrize("status", [3010, 1641])
def test_windows_installed_but_restart_needed_is_success(tmp_path: Path, status: int) -> None:
    UpdateInstaller("automatic", "windows-msi", Runner(status)).install(
        offer(tmp_path), consented=True
    )
    with pytest.raises(InstallRefusedError):  # the same codes mean nothing on Linux
        UpdateInstaller("automatic", "linux-deb", Runner(status)).install(
            offer(tmp_path), consented=True
        )


def test_an_unverified_offer_is_never_handed_over(tmp_path: Path) -> None:
    runner = Runner()
    with pytest.raises(InstallRefusedError) as caught:
        UpdateInstaller("automatic", "linux-deb", runner).install(
            UpdateOffer("0.2.0", "linux-deb/cordon-0.2.0.deb", 3), consented=True
        )
    assert caught.value.code == "not_verified" and runner.calls == []


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (tuf_errors.ExpiredMetadataError("x"), "expired_metadata"),
        (tuf_errors.BadVersionNumberError("x"), "rollback"),
        (tuf_errors.EqualVersionNumberError("x"), "rollback"),
        (tuf_errors.UnsignedMetadataError("x"), "bad_signature"),
        (tuf_errors.LengthOrHashMismatchError("x"), "hash_mismatch"),
        (tuf_errors.DownloadLengthMismatchError("x"), "hash_mismatch"),
        (tuf_errors.RepositoryError("x"), "invalid_metadata"),
        (tuf_errors.DownloadHTTPError("x", 404), "not_published"),
        (tuf_errors.DownloadHTTPError("x", 503), "unreachable"),
        (tuf_errors.SlowRetrievalError("x"), "unreachable"),
        (OSError("x"), "unreachable"),
    ],
)
def test_tuf_errors_map_to_stable_codes(exc: Exception, code: str) -> None:
    assert refusal_for(exc).code == code


def test_an_unreadable_shipped_root_is_refused_and_reported(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("")
    reports: list[str] = []
    checker = UpdateChecker("https://127.0.0.1:1", tmp_path / "ca.pem", tmp_path / "no-root.json",
                            tmp_path / "m", reports.append, platform="linux-deb")  # fmt: skip
    with pytest.raises(UpdateRefusedError) as caught:
        checker.check()
    assert caught.value.code == "no_trust_root" and reports == ["no_trust_root"]


def test_an_unparseable_shipped_root_is_refused_and_reported(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("")
    root = tmp_path / "root.json"
    root.write_text("{}")
    reports: list[str] = []
    checker = UpdateChecker("https://127.0.0.1:1", tmp_path / "ca.pem", root, tmp_path / "m",
                            reports.append, platform="linux-deb")  # fmt: skip
    with pytest.raises(UpdateRefusedError) as caught:
        checker.check()
    assert caught.value.code == "invalid_metadata" and reports == ["invalid_metadata"]


def test_an_unreachable_server_is_not_an_audited_refusal(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("")
    root = UpdateRepository(DataDir(tmp_path / "data")).init(tmp_path / "offline")
    reports: list[str] = []
    checker = UpdateChecker("https://127.0.0.1:1", tmp_path / "ca.pem", root, tmp_path / "m",
                            reports.append, platform="linux-deb")  # fmt: skip
    with pytest.raises(UpdateRefusedError) as caught:
        checker.check()
    assert caught.value.code == "unreachable" and reports == []


def test_the_fetcher_refuses_plain_http(tmp_path: Path) -> None:
    fetcher = PinnedFetcher(tmp_path / "ca.pem")
    with pytest.raises(tuf_errors.DownloadError):
        list(fetcher.fetch("http://127.0.0.1:1/v1/updates/metadata/timestamp.json"))
    fetcher.close()


def test_platforms_and_versions() -> None:
    assert platform_kind("win32") == "windows-msi"
    assert platform_kind("darwin") == "macos-pkg"
    assert platform_kind("linux") == "linux-deb"
    assert platform_kind("freebsd14") is None
    assert version_key("0.10.2") == (0, 10, 2) > (version_key("0.9.9") or ())
    assert version_key("1.2") is None and version_key("1.2.x") is None
