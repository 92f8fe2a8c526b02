"""Cordon's Debian package, built for real and installed into a clean Debian 12 root.

What IT relies on: one build gives the same bytes twice; the package says what
it needs and holds only what it should, with root-owned, non-writable modes;
apt takes it only from the repository signed by our key (an unsigned copy or
one signed by anyone else is refused); and on a minimal bookworm with nothing
but its ``Depends``, ``cordon --version`` runs, Qt starts, PortAudio loads, and Cordon's own
reader accepts the machine policy the package put in ``/etc/cordon``.

The tests after the refusals use the installed root, so this file runs in its
order (the refusals first, while cordon is not yet installed).
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from app import __version__
from devtools.packaging.apt_repo import export_keyring
from devtools.packaging.client_wheels import ROOT, read_pins
from devtools.packaging.deb_tree import DEPENDS, DebInputs, PackageInputError, it_files
from devtools.packaging.debian_root import DebianRoot, RootCommandError
from devtools.xvfb import private_xvfb
from tests.installer.conftest import (
    POLICY,
    BuiltDeb,
    SigningKey,
    self_signed_ca_pem,
    tuf_root_json,
)

pytestmark = [pytest.mark.installer, pytest.mark.timeout(1200)]

VENV_PYTHON = "/opt/cordon/venv/bin/python"
SITE = "/opt/cordon/venv/lib/python3.11/site-packages"
#: The Qt pieces Cordon loads, and the xcb platform it shows its window with.
QT_LIBRARIES = (
    "PySide6/Qt/lib/libQt6Core.so.6",
    "PySide6/Qt/lib/libQt6Gui.so.6",
    "PySide6/Qt/lib/libQt6Widgets.so.6",
    "PySide6/Qt/lib/libQt6DBus.so.6",
    "PySide6/Qt/lib/libQt6OpenGL.so.6",
    "PySide6/Qt/lib/libQt6OpenGLWidgets.so.6",
    "PySide6/Qt/lib/libQt6Svg.so.6",
    "PySide6/Qt/lib/libQt6XcbQpa.so.6",
    "PySide6/Qt/plugins/platforms/libqxcb.so",
    "PySide6/Qt/plugins/platforms/libqoffscreen.so",
    "PySide6/Qt/plugins/xcbglintegrations/libqxcb-egl-integration.so",
    "PySide6/Qt/plugins/xcbglintegrations/libqxcb-glx-integration.so",
)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _dpkg_deb(*args: str) -> str:
    return subprocess.run(["dpkg-deb", *args], check=True, capture_output=True, text=True).stdout


def _contents(deb: Path) -> dict[str, tarfile.TarInfo]:
    """The data archive's members by path, read with tarfile (modes, owners, mtimes)."""
    raw = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], check=True, capture_output=True)
    with tarfile.open(fileobj=io.BytesIO(raw.stdout)) as archive:
        return {member.name.removeprefix("./").rstrip("/"): member for member in archive}


def _use_repository(root: DebianRoot, url: str) -> subprocess.CompletedProcess[str]:
    """Point the root's sources at one repository (signed-by our key) and update."""
    for stale in (root.path / "var" / "lib" / "apt" / "lists").glob("127.0.0.1_*"):
        stale.unlink()
    entry = (
        f"Types: deb\nURIs: {url}\nSuites: stable\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/cordon-archive-keyring.gpg\n"
    )
    (root.path / "etc" / "apt" / "sources.list.d" / "cordon.sources").write_text(entry)
    return root.run("apt-get", "update", check=False)


def _installed(root: DebianRoot) -> bool:
    status = root.run("dpkg-query", "-W", "-f=${Status}", "cordon", check=False)
    return status.stdout.strip() == "install ok installed"


def test_build_is_reproducible(built_deb: BuiltDeb, tmp_path: Path) -> None:
    from devtools.packaging.build_deb import build  # noqa: PLC0415 - the command's own code

    again = build(tmp_path / "deb-b", built_deb.inputs)
    assert again.name == built_deb.path.name == f"cordon_{__version__}_amd64.deb"
    assert _sha256(again) == _sha256(built_deb.path)


def test_build_refuses_what_cordon_would_refuse(tmp_path: Path) -> None:
    """A policy the client would refuse at start fails the build, not the workstation."""
    (tmp_path / "policy.json").write_text('{"idle_lock_minutes": 999}')
    (tmp_path / "ca.pem").write_text("not a certificate")
    command = [sys.executable, "-m", "devtools.packaging.build_deb", "--out", str(tmp_path)]
    for option, message in (
        ("--policy", "idle_lock_minutes must be between 1 and 240"),
        ("--ca", "holds no PEM certificate"),
    ):
        name = "policy.json" if option == "--policy" else "ca.pem"
        refused = subprocess.run(
            [*command, option, str(tmp_path / name)],
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
        )
        assert refused.returncode == 2
        assert message in refused.stderr
    assert not list(tmp_path.glob("*.deb"))


def test_trust_files_cordon_would_refuse_are_refused(tmp_path: Path) -> None:
    """A CA that is not one, a junk certificate, a root not signed by its keys or expired."""
    junk_ca = tmp_path / "junk.pem"
    junk_ca.write_text("-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n")
    unsigned = json.loads(tuf_root_json())
    unsigned["signatures"] = []
    unsigned_root = tmp_path / "unsigned.json"
    unsigned_root.write_text(json.dumps(unsigned))
    tampered = json.loads(tuf_root_json())
    tampered["signed"]["version"] = 2  # the signature no longer covers it
    tampered_root = tmp_path / "tampered.json"
    tampered_root.write_text(json.dumps(tampered))
    for inputs, words in (
        (DebInputs(ca=junk_ca), "not a readable PEM certificate"),
        (DebInputs(update_root=unsigned_root), "not signed by its root keys"),
        (DebInputs(update_root=tampered_root), "not signed by its root keys"),
    ):
        with pytest.raises(PackageInputError, match=words):
            it_files(inputs)


def test_a_shipped_trust_file_must_be_named_by_the_policy(tmp_path: Path) -> None:
    """A CA or update root the policy does not name would never be read: refused."""
    ca = tmp_path / "ca.pem"
    ca.write_bytes(self_signed_ca_pem())
    root = tmp_path / "root.json"
    root.write_bytes(tuf_root_json())
    silent = tmp_path / "silent.json"
    silent.write_text('{"idle_lock_minutes": 5}')
    naming = tmp_path / "naming.json"
    naming.write_text(
        '{"server_ca_file": "/etc/cordon/ca.pem",\n'
        "// the shipped update root\n"
        ' "update_root_file": "/etc/cordon/update-root.json"}'
    )
    for inputs, words in (
        (DebInputs(ca=ca), "does not set server_ca_file"),
        (DebInputs(policy=silent, update_root=root), "does not set update_root_file"),
    ):
        with pytest.raises(PackageInputError, match=words):
            it_files(inputs)
    files = it_files(DebInputs(policy=naming, ca=ca, update_root=root))
    assert sorted(files) == [
        "/etc/cordon/ca.pem", "/etc/cordon/policy.json", "/etc/cordon/update-root.json"
    ]  # fmt: skip


def test_control_says_what_the_package_needs(built_deb: BuiltDeb) -> None:
    fields = {
        name: _dpkg_deb("-f", str(built_deb.path), name).strip()
        for name in ("Package", "Version", "Architecture", "Depends", "Section", "Priority")
    }
    assert fields == {
        "Package": "cordon",
        "Version": __version__,
        "Architecture": "amd64",
        "Depends": ", ".join(DEPENDS),
        "Section": "sound",
        "Priority": "optional",
    }
    info = _dpkg_deb("-I", str(built_deb.path))
    assert "Maintainer: " in info
    assert "Description: locked-down client for annotating sensitive speech" in info
    # The venv postinst builds is most of the space; the estimate counts it.
    assert int(_dpkg_deb("-f", str(built_deb.path), "Installed-Size")) > 300_000


def test_conffiles_and_maintainer_scripts(built_deb: BuiltDeb) -> None:
    assert _dpkg_deb("-I", str(built_deb.path), "conffiles").split() == [
        "/etc/cordon/ca.pem",
        "/etc/cordon/policy.example.json",
        "/etc/cordon/policy.json",
        "/etc/cordon/update-root.json",
    ]
    raw = subprocess.run(
        ["dpkg-deb", "--ctrl-tarfile", str(built_deb.path)], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(raw)) as control:
        members = {m.name.removeprefix("./"): m for m in control if m.isfile()}
        scripts = {name: control.extractfile(members[name]) for name in ("postinst", "prerm")}
        postinst = scripts["postinst"].read().decode()  # type: ignore[union-attr]
    for name in ("postinst", "prerm", "postrm"):
        assert members[name].mode == 0o755, name
    for flag in ("--no-index", "--no-deps", "--require-hashes", "--isolated"):
        assert flag in postinst


def test_files_modes_and_nothing_else(built_deb: BuiltDeb) -> None:
    members = _contents(built_deb.path)
    assert {(m.uid, m.gid, m.uname, m.gname) for m in members.values()} == {(0, 0, "root", "root")}
    assert len({m.mtime for m in members.values()}) == 1
    assert [m.name for m in members.values()] == sorted(m.name for m in members.values())
    for path in ("etc/cordon", "opt/cordon", "opt/cordon/lib/app"):
        assert members[path].isdir() and members[path].mode == 0o755, path
    for path in ("etc/cordon/policy.json", "etc/cordon/ca.pem", "etc/cordon/update-root.json"):
        assert members[path].mode == 0o644, path
    assert members["usr/bin/cordon"].mode == 0o755
    for path in (
        "usr/share/applications/cordon.desktop",
        "usr/share/icons/hicolor/scalable/apps/cordon.svg",
        "opt/cordon/requirements.txt",
        "opt/cordon/lib/app/main.py",
        "etc/cordon/policy.example.json",
        "usr/share/doc/cordon/copyright",
        "usr/share/doc/cordon/changelog.gz",
        "usr/share/man/man1/cordon.1.gz",
    ):
        assert members[path].isfile(), path
    assert not [p for p in members if members[p].mode & 0o022]
    wheels = [p for p in members if p.startswith("opt/cordon/wheels/")]
    assert len(wheels) == len(read_pins())
    lib = [p for p in members if p.startswith("opt/cordon/lib/") and p != "opt/cordon/lib/app"]
    assert all(p.startswith("opt/cordon/lib/app/") for p in lib)
    assert not [p for p in members if "__pycache__" in p or p.endswith(".pyc")]
    assert not [p for p in members if p.startswith("opt/cordon/venv")]


def test_lintian_finds_no_error_or_warning(built_deb: BuiltDeb) -> None:
    # Deliberate departures (everything under /opt) are overridden, with reasons,
    # in installer/linux/lintian-overrides, which the package installs.
    checked = subprocess.run(
        ["lintian", "--fail-on", "error,warning", str(built_deb.path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout


def test_desktop_entry_is_valid(built_deb: BuiltDeb, tmp_path: Path) -> None:
    subprocess.run(["dpkg-deb", "-x", str(built_deb.path), str(tmp_path)], check=True)
    checked = subprocess.run(
        ["desktop-file-validate", str(tmp_path / "usr/share/applications/cordon.desktop")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0 and not checked.stdout.strip(), checked.stdout


def test_repository_layout_release_fields_and_keyring(repositories: Path) -> None:
    good = repositories / "good"
    dist = good / "dists" / "stable"
    for name in ("InRelease", "Release", "Release.gpg", "main/binary-amd64/Packages.gz"):
        assert (dist / name).is_file(), name
    release = dict(
        line.split(": ", 1) for line in (dist / "Release").read_text().splitlines() if ": " in line
    )
    assert {name: release[name] for name in ("Origin", "Label", "Suite", "Codename")} == {
        "Origin": "Cordon",
        "Label": "Cordon",
        "Suite": "stable",
        "Codename": "bookworm",
    }
    assert (release["Architectures"], release["Components"]) == ("amd64", "main")
    packages = (dist / "main" / "binary-amd64" / "Packages").read_text()
    assert "Filename: pool/main/c/cordon/cordon_" in packages
    # The keyring is binary (an OpenPGP packet, not ASCII armour) and verifies InRelease.
    keyring = good / "cordon-archive-keyring.gpg"
    assert not keyring.read_bytes().startswith(b"-----BEGIN")
    gpgv = ["gpgv", "--keyring", str(keyring)]
    assert (
        subprocess.run(
            [*gpgv, str(dist / "InRelease")], capture_output=True, check=False
        ).returncode
        == 0
    )
    other = repositories / "resigned" / "dists" / "stable" / "InRelease"
    assert subprocess.run([*gpgv, str(other)], capture_output=True, check=False).returncode != 0


def test_unsigned_repository_is_refused(debian_root: DebianRoot, repo_url: str) -> None:
    update = _use_repository(debian_root, f"{repo_url}/unsigned")
    assert update.returncode != 0
    assert f"'{repo_url}/unsigned stable Release' is not signed" in update.stderr
    install = debian_root.run("apt-get", "install", "-y", "cordon", check=False)
    assert install.returncode != 0
    assert "Unable to locate package cordon" in install.stderr
    assert not _installed(debian_root)


def test_repository_signed_by_another_key_is_refused(
    debian_root: DebianRoot, repo_url: str
) -> None:
    update = _use_repository(debian_root, f"{repo_url}/resigned")
    assert update.returncode != 0
    assert "NO_PUBKEY" in update.stderr or "NO_PUBKEY" in update.stdout
    assert f"'{repo_url}/resigned stable InRelease' is not signed" in update.stderr
    install = debian_root.run("apt-get", "install", "-y", "cordon", check=False)
    assert "Unable to locate package cordon" in install.stderr
    assert not _installed(debian_root)


@pytest.fixture(scope="module")
def installed(debian_root: DebianRoot, repo_url: str) -> DebianRoot:
    """``apt-get update && apt-get install -y cordon`` from the good repository."""
    started = time.monotonic()
    update = _use_repository(debian_root, f"{repo_url}/good")
    assert update.returncode == 0, update.stderr
    debian_root.run("apt-get", "install", "-y", "cordon")
    print(f"apt-get update + install cordon: {time.monotonic() - started:.1f} s")  # noqa: T201
    return debian_root


def test_installs_from_signed_repository_and_runs(installed: DebianRoot) -> None:
    assert _installed(installed)
    version = installed.run("cordon", "--version")
    assert version.stdout.strip() == f"cordon {__version__}"
    # Every file dpkg installed still matches the package's md5sums.
    assert installed.run("dpkg", "--verify", "cordon").stdout == ""


def test_qt_starts_with_only_the_depends(installed: DebianRoot) -> None:
    for library in QT_LIBRARIES:
        linked = installed.run("ldd", f"{SITE}/{library}")
        assert "not found" not in linked.stdout, f"{library}:\n{linked.stdout}"
    shown = installed.run(
        VENV_PYTHON,
        "-I",
        "-c",
        "from PySide6.QtWidgets import QApplication, QLabel\n"
        "app = QApplication([])\n"
        "label = QLabel('Cordon')\n"
        "label.show()\n"
        "app.processEvents()\n"
        "print(label.grab().isNull())\n",
        env={"QT_QPA_PLATFORM": "offscreen"},
    )
    assert shown.stdout.strip() == "False"


def test_window_opens_on_x11_with_only_the_depends(installed: DebianRoot) -> None:
    # The root shares the host's network namespace: Qt's xcb plugin reaches the
    # private Xvfb through its abstract socket, as the client reaches a desktop's X server.
    with private_xvfb() as display:
        shown = installed.run(
            VENV_PYTHON,
            "-I",
            "-c",
            "from PySide6.QtTest import QTest\n"
            "from PySide6.QtWidgets import QApplication, QLabel\n"
            "app = QApplication([])\n"
            "label = QLabel('Cordon')\n"
            "label.show()\n"
            "print(app.platformName(), QTest.qWaitForWindowExposed(label, 10000))\n",
            env={"DISPLAY": display, "QT_QPA_PLATFORM": "xcb"},
        )
    assert shown.stdout.split() == ["xcb", "True"], shown.stderr


def test_portaudio_loads_with_only_the_depends(installed: DebianRoot) -> None:
    # Cordon loads PortAudio only when it first plays (not for --version): load it here.
    audio = installed.run(
        VENV_PYTHON, "-I", "-c", "import sounddevice\nprint(sounddevice.get_portaudio_version()[1])"
    )
    assert audio.stdout.startswith("PortAudio V19")


def test_cordon_accepts_the_packaged_machine_policy(installed: DebianRoot) -> None:
    etc = installed.path / "etc" / "cordon"
    assert (etc.stat().st_uid, etc.stat().st_mode & 0o7777) == (0, 0o755)
    for name in ("policy.json", "ca.pem", "update-root.json", "policy.example.json"):
        st = (etc / name).stat()
        assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (0, 0, 0o644), name
    read = installed.run(
        VENV_PYTHON,
        "-I",
        "-c",
        "import json\n"
        "from app.lockdown.policy_sources import machine_reader\n"
        "print(json.dumps(machine_reader('linux')()))\n",
    )
    assert json.loads(read.stdout) == POLICY
    # The example is a whole, valid policy IT can copy and trim: Cordon's reader takes it.
    example = installed.run(
        VENV_PYTHON,
        "-I",
        "-c",
        "import pathlib\n"
        "from app.lockdown.policy import KEYS\n"
        "from app.lockdown.policy_sources import read_json_policy\n"
        "path = pathlib.Path('/etc/cordon/policy.example.json')\n"
        "print(sorted(read_json_policy(path, 0, 'example')) == sorted(KEYS))\n",
    )
    assert example.stdout.strip() == "True"


def test_reinstall_remove_then_purge_leaves_nothing(installed: DebianRoot) -> None:
    # A reinstall runs the upgrade path: prerm drops the venv, postinst builds it anew.
    installed.run("apt-get", "install", "--reinstall", "-y", "cordon")
    assert installed.run("cordon", "--version").stdout.strip() == f"cordon {__version__}"
    installed.run("apt-get", "remove", "-y", "cordon")
    assert not (installed.path / "opt" / "cordon").exists()
    assert not (installed.path / "usr" / "bin" / "cordon").exists()
    # Removing keeps IT's configuration (conffiles) until a purge.
    assert (installed.path / "etc" / "cordon" / "policy.json").is_file()
    installed.run("apt-get", "purge", "-y", "cordon")
    assert not (installed.path / "etc" / "cordon").exists()
    with pytest.raises(RootCommandError):
        installed.run("cordon", "--version")


def test_the_archive_key_is_named_by_its_fingerprint_only(
    archive_key: SigningKey, tmp_path: Path
) -> None:
    """A user id could match several keys, and signed-by= would trust every one exported."""
    with pytest.raises(ValueError, match="40-hex fingerprint"):
        export_keyring(tmp_path, archive_key.home, "archive@cordon.test")
    keyring = export_keyring(tmp_path, archive_key.home, archive_key.fingerprint)
    assert keyring.stat().st_size > 0
