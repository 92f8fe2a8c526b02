"""The client's runtime wheels: which ones, pinned how, fetched from where.

The Linux package carries the wheels of the client's runtime closure (the
``[project.dependencies]`` of pyproject.toml and what they pull in, never the
server or dev extras) at the versions of ``requirements/lock.txt``, for
CPython 3.11 on manylinux x86_64. ``installer/linux/requirements.txt`` pins
each with its sha256; the package build takes only files whose hash is pinned
there, so a changed file on the index fails the build instead of shipping.

Wheels are kept in a cache outside the work tree (``~/.cache/cordon-installer``
of the real user, or ``$CORDON_INSTALLER_CACHE``): a build with every pinned
file already cached needs no network.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"
LOCK = ROOT / "requirements" / "lock.txt"
CLIENT_REQUIREMENTS = ROOT / "installer" / "linux" / "requirements.txt"

#: Debian 12 has glibc 2.36: every manylinux tag up to 2.34 (PySide6's) runs there.
PLATFORM_ARGS = (
    *("--platform", "manylinux_2_34_x86_64"),
    *("--platform", "manylinux_2_28_x86_64"),
    *("--platform", "manylinux_2_17_x86_64"),
    *("--platform", "manylinux2014_x86_64"),
    *("--python-version", "3.11", "--implementation", "cp"),
    *("--abi", "cp311", "--abi", "abi3", "--abi", "none"),
    "--only-binary=:all:",
)

_PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s\\;]+)")
_HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})")


class WheelError(Exception):
    """A pinned wheel is missing or a file does not match its pin."""


@dataclass(frozen=True)
class Pin:
    """One pinned distribution: normalised name, version, allowed sha256 digests."""

    name: str
    version: str
    hashes: frozenset[str]


def normalise(name: str) -> str:
    """PEP 503 name: the same package whatever its spelling (PyJWT, pyjwt, jaraco_context)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def cache_dir() -> Path:
    """The real user's cache: tests move HOME to a temp dir, the cache must outlive them."""
    override = os.environ.get("CORDON_INSTALLER_CACHE")
    if override:
        return Path(override)
    return Path(pwd.getpwuid(os.getuid()).pw_dir) / ".cache" / "cordon-installer"


def client_dependencies(pyproject: Path = PYPROJECT) -> list[str]:
    """The client's direct runtime requirements, as written in pyproject.toml."""
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    return list(data["project"]["dependencies"])


def lock_versions(lock: Path = LOCK) -> dict[str, str]:
    """Normalised name -> exact version for every pin in the lock file."""
    versions: dict[str, str] = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line.strip())
        if match:
            versions[normalise(match.group(1))] = match.group(2)
    return versions


def read_pins(requirements: Path = CLIENT_REQUIREMENTS) -> list[Pin]:
    """Parse a hash-pinned requirements file (``name==version \\ --hash=sha256:...``)."""
    text = requirements.read_text(encoding="utf-8").replace("\\\n", " ")
    pins: list[Pin] = []
    for line in text.splitlines():
        match = _PIN.match(line.strip())
        if match:
            hashes = frozenset(_HASH.findall(line))
            if not hashes:
                raise WheelError(f"{requirements}: {match.group(1)} has no sha256 hash")
            pins.append(Pin(normalise(match.group(1)), match.group(2), hashes))
    return pins


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def wheel_name_version(path: Path) -> tuple[str, str]:
    """A wheel's (normalised name, version) from its file name (PEP 427)."""
    name, version = path.name.split("-")[:2]
    return normalise(name), version


def pip_download(args: list[str], dest: Path) -> None:
    """Run ``pip download`` for CPython 3.11 manylinux x86_64 into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*command, *PLATFORM_ARGS, "--dest", str(dest), *args], check=True)


def _match_cached(pins: list[Pin], directory: Path) -> dict[Pin, Path]:
    by_hash = {sha256_file(path): path for path in sorted(directory.glob("*.whl"))}
    found: dict[Pin, Path] = {}
    for pin in pins:
        for digest in sorted(pin.hashes):
            if digest in by_hash:
                found[pin] = by_hash[digest]
                break
    return found


def pinned_wheels(requirements: Path = CLIENT_REQUIREMENTS) -> list[Path]:
    """The wheel file of every pin, from the cache, downloading only what is missing.

    A file counts only if its sha256 is one the pin allows, so neither the
    cache nor the index can slip a different file into the package.
    """
    pins = read_pins(requirements)
    wheels = cache_dir() / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    found = _match_cached(pins, wheels)
    if len(found) < len(pins):
        pip_download(["--no-deps", "--require-hashes", "-r", str(requirements)], wheels)
        found = _match_cached(pins, wheels)
    missing = [f"{pin.name}=={pin.version}" for pin in pins if pin not in found]
    if missing:
        raise WheelError(f"no wheel with a pinned hash for: {', '.join(missing)}")
    return sorted(found.values(), key=lambda path: path.name)
