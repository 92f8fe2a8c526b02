"""``cordon-server updates``: the signed-update repository IT runs.

``updates init --data-dir D --keys OFFLINE_DIR``
    makes the four role keys (root and targets into OFFLINE_DIR only, which IT
    keeps offline; snapshot and timestamp into the data directory) and version 1
    of the metadata; prints the root.json to ship with every installer.
``updates publish PACKAGE --platform linux-deb|windows-msi|macos-pkg --version X.Y.Z
--keys OFFLINE_DIR --data-dir D``
    adds the installer and signs targets, snapshot and timestamp (audited
    ``update_published``).
``updates renew --keys OFFLINE_DIR --data-dir D``
    re-signs root (a new version) and targets for another full term.
``updates status --data-dir D``
    versions, expiries and installers, as JSON.

Refusals print a stable code and change nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.wire.schemas import AccessAction
from server import audit
from server.context import open_context
from server.datadir import DataDir
from server.updates.keys import UpdateError
from server.updates.repository import PLATFORMS, UpdateRepository

CLI = audit.Actor(None, None, "cli")


def _repo(args: argparse.Namespace) -> UpdateRepository:
    data = DataDir(Path(args.data_dir).resolve())
    data.require_initialised()
    return UpdateRepository(data)


def _refused(exc: UpdateError) -> int:
    print(f"cordon-server: {exc} ({exc.code}); nothing was changed", file=sys.stderr)  # noqa: T201
    return 2


def cmd_init(args: argparse.Namespace) -> int:
    try:
        root_file = _repo(args).init(Path(args.keys))
    except UpdateError as exc:
        return _refused(exc)
    print(f"update repository made; ship {root_file} with the installers "  # noqa: T201
          f"(policy update_root_file); keep {Path(args.keys).resolve()} offline")  # fmt: skip
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    repo = _repo(args)
    started = time.perf_counter()
    try:
        done = repo.publish(Path(args.package), args.platform, args.version, Path(args.keys))
    except UpdateError as exc:
        return _refused(exc)
    ctx = open_context(repo.data)
    reason = f"{args.platform}_{args.version}".replace("-", "_").replace(".", "_")
    with ctx.transaction() as conn:
        audit.record(conn, CLI, AccessAction.UPDATE_PUBLISHED, reason=reason)
    print(json.dumps({"path": done.path, "length": done.length, "sha256": done.sha256,  # noqa: T201
                      "targets_version": done.targets_version,
                      "seconds": round(time.perf_counter() - started, 3)}))  # fmt: skip
    return 0


def cmd_renew(args: argparse.Namespace) -> int:
    try:
        roles = _repo(args).renew(Path(args.keys))
    except UpdateError as exc:
        return _refused(exc)
    print(f"re-signed: {', '.join(roles)}")  # noqa: T201
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    try:
        status = _repo(args).status()
    except UpdateError as exc:
        return _refused(exc)
    print(json.dumps(status, indent=2, sort_keys=True))  # noqa: T201
    return 0


def add_parser(
    sub: Any, with_data: Callable[[argparse.ArgumentParser], argparse.ArgumentParser]
) -> None:
    """The ``updates`` command group."""
    group = sub.add_parser("updates", help="signed client updates (TUF)").add_subparsers(
        dest="updates_command", required=True
    )
    keys_help = "IT's offline directory of the root and targets keys (not in the data dir)"
    p = with_data(group.add_parser("init", help="make the update keys and repository"))
    p.add_argument("--keys", required=True, help=keys_help)
    p.set_defaults(func=cmd_init)
    p = with_data(group.add_parser("publish", help="sign and publish an installer"))
    p.add_argument("package")
    p.add_argument("--platform", required=True, choices=sorted(PLATFORMS))
    p.add_argument("--version", required=True, help="X.Y.Z, newer than the last published")
    p.add_argument("--keys", required=True, help=keys_help)
    p.set_defaults(func=cmd_publish)
    p = with_data(group.add_parser("renew", help="re-sign root and targets for a full term"))
    p.add_argument("--keys", required=True, help=keys_help)
    p.set_defaults(func=cmd_renew)
    p = with_data(group.add_parser("status", help="versions, expiries and installers"))
    p.set_defaults(func=cmd_status)
