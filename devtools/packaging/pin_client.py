"""Regenerate ``installer/linux/requirements.txt`` after a change to the lock.

``python -m devtools.packaging.pin_client`` resolves the client's runtime
closure (pyproject's ``[project.dependencies]``, constrained to the exact
versions of ``requirements/lock.txt``) for CPython 3.11 manylinux x86_64,
downloads those wheels and writes one ``name==version --hash=sha256:...`` per
wheel. It refuses a resolution that strays from the lock: the package must
ship what the tests ran against.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from pathlib import Path

from devtools.packaging.client_wheels import (
    CLIENT_REQUIREMENTS,
    LOCK,
    PYPROJECT,
    WheelError,
    client_dependencies,
    lock_versions,
    pip_download,
    sha256_file,
    wheel_name_version,
)

HEADER = """\
# Cordon client's runtime wheels (CPython 3.11, manylinux x86_64), hash-pinned.
# The closure of [project.dependencies] in pyproject.toml at the versions of
# requirements/lock.txt; the Linux package installs exactly these, offline.
# Regenerate after a lock change: python -m devtools.packaging.pin_client
"""


def render(wheels: Sequence[Path], lock: dict[str, str]) -> str:
    """The requirements text for these wheels; every version must be the lock's."""
    lines = [HEADER]
    for wheel in sorted(wheels, key=lambda path: wheel_name_version(path)[0]):
        name, version = wheel_name_version(wheel)
        if lock.get(name) != version:
            raise WheelError(f"{wheel.name}: the lock pins {name}=={lock.get(name)}")
        lines.append(f"{name}=={version} \\\n    --hash=sha256:{sha256_file(wheel)}\n")
    return "".join(lines)


def pin(out: Path = CLIENT_REQUIREMENTS, pyproject: Path = PYPROJECT, lock: Path = LOCK) -> Path:
    """Resolve, download and write the hash-pinned client requirements."""
    with tempfile.TemporaryDirectory(prefix="cordon-pin-") as tmp:
        dest = Path(tmp)
        pip_download(["-c", str(lock), *client_dependencies(pyproject)], dest)
        text = render(sorted(dest.glob("*.whl")), lock_versions(lock))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=CLIENT_REQUIREMENTS)
    args = parser.parse_args(argv)
    written = pin(args.out)
    print(f"wrote {written}")  # noqa: T201 - a command-line tool's result
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
