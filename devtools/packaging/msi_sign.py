"""Authenticode for the MSI, with osslsigncode (Debian), so Linux CI can sign.

Why Authenticode: Windows shows the publisher from it, SmartScreen and
AppLocker/WDAC rules key on it, and Intune/SCCM administrators check it before
they push a package. SHA-256 only. No timestamp unless a URL is given: the
build machine is offline, and an untimestamped signature stops verifying when
the certificate expires — a release build should pass ``timestamp_url``.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Verification:
    """What ``osslsigncode verify`` said: ``ok`` only when it exited 0."""

    ok: bool
    output: str


def sign(
    unsigned: Path,
    signed: Path,
    cert: Path,
    key: Path,
    chain: Path | None = None,
    timestamp_url: str | None = None,
) -> None:
    """Write ``signed``: ``unsigned`` with an Authenticode SHA-256 signature by ``cert``/``key``.

    ``chain`` (PEM) adds the intermediate certificates Windows needs to build
    the path to a trusted root. Raises :class:`RuntimeError` with osslsigncode's
    message on failure.
    """
    command = ["osslsigncode", "sign", "-certs", str(cert), "-key", str(key), "-h", "sha256"]
    # MsiDigitalSignatureEx also hashes the storage's metadata (stream names,
    # dates, class ids), which the plain signature leaves out.
    command += ["-n", "Cordon", "-add-msi-dse"]
    if chain is not None:
        command += ["-ac", str(chain)]
    if timestamp_url:
        command += ["-ts", timestamp_url]
    command += ["-in", str(unsigned), "-out", str(signed)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"osslsigncode sign failed: {done.stdout}{done.stderr}".strip())


def verify(msi: Path, ca_file: Path | None = None) -> Verification:
    """Check the signature and the chain to ``ca_file`` (default: the system's CAs)."""
    command = ["osslsigncode", "verify", "-in", str(msi)]
    if ca_file is not None:
        command += ["-CAfile", str(ca_file)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    return Verification(done.returncode == 0, done.stdout + done.stderr)
