"""Stage the file tree of Cordon's Debian package, byte for byte reproducible.

Everything the package holds is decided here: the pinned wheels and their
requirements under ``/opt/cordon``, the client's own sources (``app/`` only:
the server, dev tools and tests never reach a workstation), the launcher, the
desktop entry and icon, and what IT configures under ``/etc/cordon``. Every
path gets an explicit mode and the same mtime (``SOURCE_DATE_EPOCH``), so the
tree depends on the commit and the inputs, not on the umask or the clock.
"""

from __future__ import annotations

import datetime
import email.utils
import gzip
import hashlib
import math
import os
import shutil
import subprocess
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from tuf.api.exceptions import UnsignedMetadataError
from tuf.api.metadata import Metadata, Root

from app import __version__
from app.lockdown.policy import PolicyError
from app.lockdown.policy_sources import read_json_policy
from devtools.packaging.client_wheels import CLIENT_REQUIREMENTS, ROOT
from devtools.packaging.policy_templates import policy_json

LINUX = ROOT / "installer" / "linux"
ICON = ROOT / "resources" / "icons" / "cordon.svg"

PACKAGE = "cordon"
ARCHITECTURE = "amd64"
#: What the client needs from Debian, found by ``ldd`` in a clean bookworm root
#: (tests/installer/test_deb.py): Python 3.11 and its venv module, PortAudio for
#: sounddevice, and the libraries PySide6's QtCore/Gui/Widgets/DBus/OpenGL and
#: its xcb platform plugin link against. libc6, libstdc++6, libgcc-s1, zlib1g and
#: libzstd1 are Priority: required and come with python3.11 itself.
DEPENDS = (
    "python3.11",
    "python3.11-venv",
    "libportaudio2",
    "libegl1",
    "libgl1",
    "libfontconfig1",
    "libfreetype6",
    "libglib2.0-0",
    "libdbus-1-3",
    "libxkbcommon0",
    "libxkbcommon-x11-0",
    "libx11-6",
    "libx11-xcb1",
    "libxcb1",
    "libxcb-cursor0",
    "libxcb-icccm4",
    "libxcb-image0",
    "libxcb-keysyms1",
    "libxcb-randr0",
    "libxcb-render0",
    "libxcb-render-util0",
    "libxcb-shape0",
    "libxcb-shm0",
    "libxcb-sync1",
    "libxcb-util1",
    "libxcb-xfixes0",
    "libxcb-xkb1",
)
#: Qt draws no text without a font; any desktop has one, a minimal root does not.
RECOMMENDS = ("fonts-dejavu-core",)
#: A placeholder: IT passes its own with --maintainer (the address users report to).
DEFAULT_MAINTAINER = "Cordon Maintainers <cordon-maintainers@example.org>"

DESCRIPTION = """\
locked-down client for annotating sensitive speech
 Cordon plays speech recordings from an organisation's on-premises Cordon
 server and lets annotators transcribe and label them, while keeping the
 audio and the text inside its window: no clipboard, capture protection
 where the system offers it, idle lock, and a machine policy under
 /etc/cordon that only an administrator can change.
 .
 The package carries its Python dependencies as hash-pinned wheels and
 installs them offline into /opt/cordon/venv when it is configured.
"""

_EXECUTABLE = 0o755
_REGULAR = 0o644


class PackageInputError(Exception):
    """A file IT asked to include is missing or not what its option says."""


@dataclass(frozen=True)
class DebInputs:
    """What IT chooses for a build: the machine policy, the server's CA, the update root."""

    policy: Path | None = None
    ca: Path | None = None
    update_root: Path | None = None
    maintainer: str = DEFAULT_MAINTAINER


def _put(tree: Path, target: str, data: bytes, mode: int = _REGULAR) -> Path:
    path = tree / target.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(mode)
    return path


def tracked_files(subdir: str) -> list[str]:
    """Files git tracks under ``subdir``: caches and stray local files never ship."""
    listing = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--", subdir],
        check=True,
        capture_output=True,
    ).stdout
    return sorted(name for name in listing.decode().split("\0") if name)


def _checked_policy(path: Path) -> bytes:
    """The machine policy, refused at build time if Cordon would refuse it at start.

    Read by Cordon's own reader (``//`` comment lines, JSON, schema); only the
    ownership check waits for the workstation, where dpkg makes it root's.
    """
    try:
        read_json_policy(path, None, "--policy")
    except PolicyError as exc:
        raise PackageInputError(str(exc)) from exc
    return path.read_bytes()


def _checked_ca(path: Path) -> bytes:
    """A CA certificate that is valid now: what TLS pinning to it would accept."""
    data = path.read_bytes()
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise PackageInputError(f"--ca {path} holds no PEM certificate")
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise PackageInputError(f"--ca {path} is not a readable PEM certificate") from exc
    now = datetime.datetime.now(datetime.UTC)
    for cert in certs:
        who = cert.subject.rfc4514_string()
        try:
            is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            is_ca = False
        if not is_ca:
            raise PackageInputError(f"--ca {path}: {who} is not a CA")
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise PackageInputError(
                f"--ca {path}: {cert.subject.rfc4514_string()} is not valid now"
            )
    return data


def _checked_update_root(path: Path) -> bytes:
    """TUF root metadata signed by its own root keys and not expired (TUF's own checks)."""
    data = path.read_bytes()
    try:
        root = Metadata[Root].from_bytes(data)
    except Exception as exc:
        raise PackageInputError(f"--update-root {path} is not TUF root metadata") from exc
    if not isinstance(root.signed, Root):
        raise PackageInputError(f"--update-root {path} is {root.signed.type!r} metadata")
    try:
        root.signed.verify_delegate(Root.type, root.signed_bytes, root.signatures)
    except UnsignedMetadataError as exc:
        raise PackageInputError(f"--update-root {path} is not signed by its root keys") from exc
    if root.signed.is_expired():
        raise PackageInputError(f"--update-root {path} has expired")
    return data


_ETC: tuple[tuple[str, str, Callable[[Path], bytes]], ...] = (
    ("policy", "/etc/cordon/policy.json", _checked_policy),
    ("ca", "/etc/cordon/ca.pem", _checked_ca),
    ("update_root", "/etc/cordon/update-root.json", _checked_update_root),
)


def _gz(data: bytes) -> bytes:
    """gzip -9n: no name, no timestamp, so the same text gives the same bytes."""
    return gzip.compress(data, compresslevel=9, mtime=0)


def changelog_text(maintainer: str, epoch: int) -> str:
    """The Debian changelog of a native package: one entry for this version."""
    date = email.utils.formatdate(epoch, usegmt=False).replace("-0000", "+0000")
    return (
        f"{PACKAGE} ({__version__}) stable; urgency=medium\n\n"
        f"  * Cordon {__version__}.\n\n"
        f" -- {maintainer}  {date}\n"
    )


#: The policy key that must name each shipped file, or Cordon would never read it.
_NAMED_BY = {"ca": "server_ca_file", "update_root": "update_root_file"}


def it_files(inputs: DebInputs) -> dict[str, bytes]:
    """IT's files by their path in /etc/cordon, each checked before anything is staged.

    A CA or update root is only used where the machine policy names it, so both
    need ``--policy`` naming exactly where the package puts them: a package
    that shipped a trust root nothing reads would look safer than it is.
    """
    files: dict[str, bytes] = {}
    for field, target, check in _ETC:
        source: Path | None = getattr(inputs, field)
        if source is None:
            continue
        if not source.is_file():
            raise PackageInputError(f"--{field.replace('_', '-')} {source} is not a file")
        files[target] = check(source)
    policy = read_json_policy(inputs.policy, None, "--policy") if inputs.policy else {}
    for field, target, _check in _ETC:
        key = _NAMED_BY.get(field)
        if key is None or getattr(inputs, field) is None:
            continue
        if policy.get(key) != target:
            raise PackageInputError(
                f"--{field.replace('_', '-')} is installed as {target}, but the machine "
                f"policy (--policy) does not set {key} to it; Cordon would not use it"
            )
    return files


def stage_files(tree: Path, inputs: DebInputs, wheels: Sequence[Path], epoch: int) -> list[str]:
    """Write the package's files into ``tree``; return the conffiles (everything in /etc)."""
    # The commented template of every key at its default (installer/policy/policy.json).
    etc = {"/etc/cordon/policy.example.json": policy_json().encode(), **it_files(inputs)}
    for target, data in etc.items():
        _put(tree, target, data)
    for wheel in wheels:
        _put(tree, f"/opt/cordon/wheels/{wheel.name}", wheel.read_bytes())
    _put(tree, "/opt/cordon/requirements.txt", CLIENT_REQUIREMENTS.read_bytes())
    for name in tracked_files("app"):
        _put(tree, f"/opt/cordon/lib/{name}", (ROOT / name).read_bytes())
    _put(tree, "/usr/bin/cordon", (LINUX / "cordon").read_bytes(), _EXECUTABLE)
    desktop = (LINUX / "cordon.desktop").read_bytes()
    _put(tree, "/usr/share/applications/cordon.desktop", desktop)
    _put(tree, "/usr/share/icons/hicolor/scalable/apps/cordon.svg", ICON.read_bytes())
    _put(tree, "/usr/share/doc/cordon/copyright", (LINUX / "copyright").read_bytes())
    changelog = changelog_text(inputs.maintainer, epoch).encode()
    _put(tree, "/usr/share/doc/cordon/changelog.gz", _gz(changelog))
    _put(tree, "/usr/share/man/man1/cordon.1.gz", _gz((LINUX / "cordon.1").read_bytes()))
    overrides = (LINUX / "lintian-overrides").read_bytes()
    _put(tree, "/usr/share/lintian/overrides/cordon", overrides)
    return sorted(etc)


def installed_size_kib(tree: Path, wheels: Sequence[Path]) -> int:
    """dpkg's estimate of the disk space used: the files, plus the venv postinst builds.

    The venv is counted from the wheels' uncompressed members, so the figure
    is both honest (the venv is most of the space) and reproducible.
    """
    total = 0
    for path in tree.rglob("*"):
        if "DEBIAN" in path.relative_to(tree).parts:
            continue
        total += math.ceil(path.stat().st_size / 1024) if path.is_file() else 1
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            total += sum(math.ceil(info.file_size / 1024) for info in archive.infolist())
    return total


def control_text(inputs: DebInputs, installed_kib: int) -> str:
    fields = {
        "Package": PACKAGE,
        "Version": __version__,
        "Architecture": ARCHITECTURE,
        "Maintainer": inputs.maintainer,
        "Installed-Size": str(installed_kib),
        "Depends": ", ".join(DEPENDS),
        "Recommends": ", ".join(RECOMMENDS),
        "Section": "sound",
        "Priority": "optional",
        "Description": DESCRIPTION.rstrip("\n"),
    }
    return "".join(f"{name}: {value}\n" for name, value in fields.items())


def write_control(
    tree: Path, inputs: DebInputs, wheels: Sequence[Path], conffiles: list[str]
) -> None:
    """DEBIAN/: control, md5sums, conffiles and the maintainer scripts."""
    sums = []
    for path in sorted(p for p in tree.rglob("*") if p.is_file()):
        digest = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
        sums.append(f"{digest}  {path.relative_to(tree).as_posix()}\n")
    control = control_text(inputs, installed_size_kib(tree, wheels))
    _put(tree, "/DEBIAN/control", control.encode())
    _put(tree, "/DEBIAN/md5sums", "".join(sums).encode())
    _put(tree, "/DEBIAN/conffiles", "".join(f"{name}\n" for name in conffiles).encode())
    for script in ("postinst", "prerm", "postrm"):
        _put(tree, f"/DEBIAN/{script}", (LINUX / script).read_bytes(), _EXECUTABLE)


def normalise_tree(tree: Path, epoch: int) -> None:
    """Same modes and mtimes whatever the umask and the clock: dirs 0755, one mtime."""
    for dirpath, dirnames, filenames in os.walk(tree):
        for name in dirnames:
            Path(dirpath, name).chmod(_EXECUTABLE)
        for name in filenames:
            os.utime(Path(dirpath, name), (epoch, epoch))
    tree.chmod(_EXECUTABLE)
    for dirpath, _dirs, _files in os.walk(tree, topdown=False):
        os.utime(dirpath, (epoch, epoch))


def stage(tree: Path, inputs: DebInputs, wheels: Sequence[Path], epoch: int) -> None:
    """Stage the whole package (files, then DEBIAN/) into an empty ``tree``."""
    if tree.exists():
        shutil.rmtree(tree)
    tree.mkdir(parents=True)
    conffiles = stage_files(tree, inputs, wheels, epoch)
    write_control(tree, inputs, wheels, conffiles)
    normalise_tree(tree, epoch)
