"""``installer/apt-repo``: a signed apt repository for Cordon's packages, in one command.

    installer/apt-repo --deb FILE... --gpg-home DIR --key ID --out DIR

Workstations trust this repository through ``signed-by=`` in their sources
entry and nothing else: apt then refuses it unsigned, or signed by any other
key, even one the machine trusts for Debian. The layout is Debian's:
``pool/main/c/cordon/*.deb``, ``dists/<suite>/main/binary-amd64/Packages(.gz)``,
a ``Release`` written by ``apt-ftparchive``, signed inline (``InRelease``) and
detached (``Release.gpg``), and the public key exported binary as
``cordon-archive-keyring.gpg``, the file IT installs in
``/usr/share/keyrings``.
"""

from __future__ import annotations

import argparse
import gzip
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

KEYRING_NAME = "cordon-archive-keyring.gpg"
COMPONENT = "main"
ARCHITECTURE = "amd64"


def _release_options(suite: str, codename: str) -> list[str]:
    fields = {
        "Origin": "Cordon",
        "Label": "Cordon",
        "Suite": suite,
        "Codename": codename,
        "Architectures": ARCHITECTURE,
        "Components": COMPONENT,
        "Description": "Cordon client packages",
    }
    return [f"-oAPT::FTPArchive::Release::{name}={value}" for name, value in fields.items()]


def write_indices(out: Path, debs: Sequence[Path], suite: str, codename: str) -> Path:
    """Copy the packages into the pool and write Packages, Packages.gz and Release."""
    pool = out / "pool" / COMPONENT / "c" / "cordon"
    pool.mkdir(parents=True, exist_ok=True)
    for deb in debs:
        shutil.copyfile(deb, pool / deb.name)
    dist = out / "dists" / suite
    binary = dist / COMPONENT / f"binary-{ARCHITECTURE}"
    binary.mkdir(parents=True, exist_ok=True)
    packages = subprocess.run(
        ["apt-ftparchive", "packages", "pool"], cwd=out, check=True, capture_output=True
    ).stdout
    (binary / "Packages").write_bytes(packages)
    # mtime=0: the same Packages gives the same Packages.gz.
    (binary / "Packages.gz").write_bytes(gzip.compress(packages, compresslevel=9, mtime=0))
    release = subprocess.run(
        ["apt-ftparchive", *_release_options(suite, codename), "release", str(dist)],
        check=True,
        capture_output=True,
    ).stdout
    # Written after the scan: apt-ftparchive would otherwise list an empty Release.
    (dist / "Release").write_bytes(release)
    return dist / "Release"


def _gpg(gpg_home: Path, *args: str) -> bytes:
    command = ["gpg", "--homedir", str(gpg_home), "--batch", "--yes", *args]
    return subprocess.run(command, check=True, capture_output=True).stdout


def sign_release(release: Path, gpg_home: Path, key: str) -> None:
    """``InRelease`` (clearsigned, what apt fetches first) and ``Release.gpg`` (detached)."""
    dist = release.parent
    signer = ("--local-user", key, "--digest-algo", "SHA512")
    _gpg(gpg_home, *signer, "--clearsign", "--output", str(dist / "InRelease"), str(release))
    _gpg(
        gpg_home,
        *signer,
        "--armor",
        "--detach-sign",
        "--output",
        str(dist / "Release.gpg"),
        str(release),
    )


def export_keyring(out: Path, gpg_home: Path, key: str) -> Path:
    """The public key, binary (not armored): what ``signed-by=`` expects in a .gpg file.

    ``key`` must be a full fingerprint and the export exactly one primary key: a
    user id could match several keys, and every one exported would be trusted.
    """
    if not re.fullmatch(r"[0-9A-Fa-f]{40}", key):
        raise ValueError(f"--key must be the signing key's 40-hex fingerprint, not {key!r}")
    data = _gpg(gpg_home, "--export", key)
    if not data:
        raise ValueError(f"no public key {key!r} in {gpg_home}")
    listed = subprocess.run(
        ["gpg", "--homedir", str(gpg_home), "--batch", "--with-colons", "--show-keys"],
        input=data, capture_output=True, check=True,
    ).stdout.decode()  # fmt: skip
    primaries = [line for line in listed.splitlines() if line.startswith("pub:")]
    if len(primaries) != 1:
        raise ValueError(f"{key!r} exports {len(primaries)} primary keys, not one")
    target = out / KEYRING_NAME
    target.write_bytes(data)
    return target


def build_repository(
    out: Path,
    debs: Sequence[Path],
    gpg_home: Path,
    key: str,
    suite: str = "stable",
    codename: str = "bookworm",
) -> Path:
    """Write and sign the whole repository under ``out``; return its keyring file."""
    release = write_indices(out, debs, suite, codename)
    sign_release(release, gpg_home, key)
    return export_keyring(out, gpg_home, key)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="installer/apt-repo", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--deb", type=Path, nargs="+", required=True, help="packages to publish")
    parser.add_argument("--gpg-home", type=Path, required=True, help="GnuPG home with the key")
    parser.add_argument("--key", required=True, help="signing key: fingerprint or user id")
    parser.add_argument("--out", type=Path, required=True, help="repository directory")
    parser.add_argument("--suite", default="stable")
    parser.add_argument("--codename", default="bookworm", help="the Debian release it targets")
    args = parser.parse_args(argv)
    keyring = build_repository(
        args.out, args.deb, args.gpg_home, args.key, args.suite, args.codename
    )
    print(keyring)  # noqa: T201 - the command's result
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
