"""A clean Debian 12 root to install Cordon's package into, as a new workstation would.

``debootstrap --variant=minbase bookworm`` plus, installed by apt inside the
root, exactly the package's ``Depends`` and ``Recommends`` (never anything from
the build machine). The result is cached as a tar under the installer cache,
keyed by the release, the mirror and that package list: a change of
``Depends`` makes a new root, and a warm run unpacks one in seconds.

Needs root (chroot, mount). Whatever :class:`DebianRoot` mounts it unmounts;
:meth:`DebianRoot.remove` deletes the tree.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from devtools.packaging.client_wheels import cache_dir
from devtools.packaging.deb_tree import DEPENDS, RECOMMENDS

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
#: Bump when the way the cached root is made changes.
_FORMAT = "1"
_ENV = {
    "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LANG": "C.UTF-8",
    "DEBIAN_FRONTEND": "noninteractive",
}


def root_key(packages: Sequence[str] = DEPENDS + RECOMMENDS) -> str:
    text = "\n".join([_FORMAT, SUITE, MIRROR, *sorted(packages)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cached_tarball(packages: Sequence[str] = DEPENDS + RECOMMENDS) -> Path:
    """The cached root for these packages, made first if it is not there yet."""
    tarball = cache_dir() / "roots" / f"{SUITE}-minbase-{root_key(packages)}.tar"
    if not tarball.exists():
        tarball.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="cordon-root-", dir=tarball.parent) as tmp:
            root = DebianRoot(Path(tmp) / "root")
            subprocess.run(
                ["debootstrap", "--variant=minbase", SUITE, str(root.path), MIRROR],
                check=True,
                capture_output=True,
            )
            root.prepare_network()
            root.run("apt-get", "update", "-q")
            root.run("apt-get", "install", "-y", "-q", *packages)
            # Keep the package lists (a later apt-get update only revalidates them).
            root.run("apt-get", "clean")
            partial = Path(tmp) / "root.tar"
            subprocess.run(["tar", "-C", str(root.path), "-cf", str(partial), "."], check=True)
            partial.replace(tarball)
    return tarball


class RootCommandError(Exception):
    """A command in the root failed; the message carries its output (apt's reasons)."""


class DebianRoot:
    """A root tree, the commands run in it (``chroot``), and its mounts."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mounts: list[Path] = []

    @classmethod
    def unpack(cls, tarball: Path, path: Path) -> DebianRoot:
        path.mkdir(parents=True)
        subprocess.run(["tar", "-C", str(path), "-xf", str(tarball)], check=True)
        return cls(path)

    def prepare_network(self) -> None:
        """The build machine's resolver, so apt in the root reaches the mirror."""
        resolv = self.path / "etc" / "resolv.conf"
        resolv.unlink(missing_ok=True)
        shutil.copyfile("/etc/resolv.conf", resolv)

    def mount_proc(self) -> None:
        target = self.path / "proc"
        subprocess.run(["mount", "-t", "proc", "proc", str(target)], check=True)
        self._mounts.append(target)

    def unmount_all(self) -> None:
        """Unmount what this object mounted, last first; lazily if something holds it."""
        while self._mounts:
            target = self._mounts.pop()
            done = subprocess.run(["umount", str(target)], check=False)
            if done.returncode != 0:
                subprocess.run(["umount", "-l", str(target)], check=True)

    def run(
        self, *command: str, check: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``command`` inside the root with a clean environment (nothing of ours leaks)."""
        full_env = {**_ENV, **(env or {})}
        assignments = [f"{name}={value}" for name, value in sorted(full_env.items())]
        done = subprocess.run(
            ["chroot", str(self.path), "/usr/bin/env", "-i", *assignments, *command],
            check=False,
            capture_output=True,
            text=True,
            env={"PATH": os.environ.get("PATH", _ENV["PATH"])},
        )
        if check and done.returncode != 0:
            raise RootCommandError(
                f"{' '.join(command)} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
            )
        return done

    def remove(self) -> None:
        """Delete the tree; refuses while anything is still mounted inside it."""
        self.unmount_all()
        mounts = Path("/proc/self/mounts").read_text(encoding="utf-8")
        if f" {self.path}/" in mounts:
            raise RuntimeError(f"{self.path} still has mounts; not deleting it")
        shutil.rmtree(self.path)
