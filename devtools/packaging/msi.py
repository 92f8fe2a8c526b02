"""Build (and sign) Cordon's Windows MSI on Linux: ``python -m devtools.packaging.msi``.

Steps: harvest the payload (PyInstaller's ``dist\\cordon`` made on Windows, or
a placeholder for CI), write the ``.wxs`` (:mod:`devtools.packaging.msi_wxs`),
run ``wixl -a x64``, set what wixl cannot express with ``msibuild`` (the
component conditions that keep unset policy keys absent, and the policy
properties in ``SecureCustomProperties``), then optionally Authenticode-sign
and verify (:mod:`devtools.packaging.msi_sign`). Signing comes last: any
change to the database after it breaks the signature.

The placeholder exists because PyInstaller cannot cross-compile: CI proves
the package's tables and signature here, and says in the product name that
the program inside is not Cordon.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from app import __version__
from devtools.packaging import msi_sign
from devtools.packaging.msi_wxs import (
    PROGRAM,
    build_wxs,
    component_conditions,
    harvest,
    property_table,
)

PLACEHOLDER_TEXT = (
    "PLACEHOLDER - this is not the Cordon program.\r\n"
    "\r\n"
    "This package was built on Linux with a placeholder payload to test the\r\n"
    "installer's tables and signature. The real cordon.exe is frozen with\r\n"
    "PyInstaller on Windows (PyInstaller cannot cross-compile); build the MSI\r\n"
    "from that output with: installer/build-msi --payload dist\\cordon --out cordon.msi\r\n"
)
#: Names msibuild's SQL is given: MSI identifiers only, so nothing needs quoting.
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_.;]*$")


def write_placeholder(directory: Path) -> Path:
    """A payload directory holding only a text file named ``cordon.exe`` that says what it is."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / PROGRAM).write_text(PLACEHOLDER_TEXT, encoding="ascii", newline="")
    return directory


def _run(command: list[str], cwd: Path | None = None) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=cwd)
    if done.returncode != 0:
        raise RuntimeError(f"{command[0]} failed ({done.returncode}): {done.stdout}{done.stderr}")


def _msibuild_query(msi: Path, query: str) -> None:
    _run(["msibuild", str(msi), "-q", query])


def _set(msi: Path, table: str, column: str, value: str, key_column: str, key: str) -> None:
    if not (_IDENTIFIER.match(value) and _IDENTIFIER.match(key)):
        raise ValueError(f"refusing to put {value!r}/{key!r} in SQL")
    # Both values passed _IDENTIFIER above; table and column names are ours.
    query = f"UPDATE `{table}` SET `{column}` = '{value}' WHERE `{key_column}` = '{key}'"  # noqa: S608
    _msibuild_query(msi, query)


def post_process(msi: Path) -> None:
    """Add what wixl cannot write: the component conditions that keep unset keys absent.

    The policy properties are deliberately *not* listed in
    ``SecureCustomProperties``: Windows Installer then passes them to the
    elevated part of an install only when an administrator (or SYSTEM, as
    Intune and SCCM run it) started it — a standard user's repair run
    (``msiexec /fa … SERVER_URL=…``) cannot rewrite the locked policy.
    """
    for component, condition in component_conditions().items():
        _set(msi, "Component", "Condition", condition, "Component", component)


def build_msi(payload: Path, out: Path, placeholder: bool, wxs_out: Path | None = None) -> Path:
    """Build the unsigned MSI at ``out`` from ``payload``; return ``out``."""
    files = harvest(payload)
    wxs = build_wxs(files, __version__, placeholder)
    with tempfile.TemporaryDirectory(prefix="cordon-msi-") as tmp:
        source = Path(tmp) / "cordon.wxs"
        source.write_text(wxs, encoding="utf-8")
        if wxs_out is not None:
            shutil.copyfile(source, wxs_out)
        built = Path(tmp) / "cordon.msi"
        _run(["wixl", "-a", "x64", "-o", str(built), str(source)], cwd=payload)
        post_process(built)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(built, out)
    return out


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="build-msi", description=__doc__.split("\n")[0])
    payload = parser.add_mutually_exclusive_group(required=True)
    payload.add_argument(
        "--property-table", action="store_true", help="print the README's property table"
    )
    payload.add_argument("--payload", type=Path, help="PyInstaller's dist\\cordon directory")
    payload.add_argument(
        "--placeholder", action="store_true", help="CI: a text file instead of the program"
    )
    parser.add_argument("--out", type=Path, help="the .msi to write")
    parser.add_argument("--sign-cert", type=Path, help="code-signing certificate (PEM)")
    parser.add_argument("--sign-key", type=Path, help="its private key (PEM, unencrypted)")
    parser.add_argument("--sign-chain", type=Path, help="intermediate certificates (PEM)")
    parser.add_argument("--timestamp-url", help="RFC 3161 timestamp server (default: none)")
    parser.add_argument("--verify-ca", type=Path, help="root CA to verify against (PEM)")
    parser.add_argument("--wxs-out", type=Path, help="also keep the generated .wxs here")
    return parser


def _build_and_sign(args: argparse.Namespace) -> None:
    """Build (into a temporary directory when it is to be signed), then sign into ``--out``.

    A previous ``--out`` is removed first, so a failed run never leaves an
    older package where the new one was expected.
    """
    args.out.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="cordon-msi-build-") as tmp:
        payload = args.payload
        if args.placeholder:
            payload = write_placeholder(Path(tmp) / "payload")
        target = Path(tmp) / "unsigned.msi" if args.sign_cert else args.out
        build_msi(payload, target, args.placeholder, args.wxs_out)
        if args.sign_cert:
            msi_sign.sign(
                target, args.out, args.sign_cert, args.sign_key, args.sign_chain, args.timestamp_url
            )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.property_table:
        print(property_table(), end="")  # noqa: T201
        return 0
    if args.out is None:
        print("--out is required", file=sys.stderr)  # noqa: T201
        return 2
    if (args.sign_cert is None) != (args.sign_key is None):
        print("--sign-cert and --sign-key go together", file=sys.stderr)  # noqa: T201
        return 2
    started = time.monotonic()
    try:
        _build_and_sign(args)
    except (ValueError, RuntimeError, OSError) as exc:
        print(f"build-msi: {exc}", file=sys.stderr)  # noqa: T201
        return 1
    seconds = time.monotonic() - started
    print(f"{args.out}: {args.out.stat().st_size} bytes in {seconds:.2f} s")  # noqa: T201
    if args.placeholder:
        print("PLACEHOLDER payload: this MSI does not contain the Cordon program")  # noqa: T201
    if not args.sign_cert:
        print("unsigned (no --sign-cert)")  # noqa: T201
        return 0
    result = msi_sign.verify(args.out, args.verify_ca)
    print(result.output.strip())  # noqa: T201
    print("signature: " + ("verified" if result.ok else "NOT VERIFIED"))  # noqa: T201
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
