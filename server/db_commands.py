"""``cordon-server db``: the database's schema revision, upgrading it, and row-level security.

``db current --data-dir D``
    prints the revision the database is at and the newest this Cordon knows.
    Reads only.
``db upgrade --data-dir D``
    upgrades the schema to this Cordon's newest revision
    (:mod:`server.schema_version`) and prints what it did. ``serve`` and every
    other command that opens the data directory do the same at start; this
    command lets an operator do it (and see it) before starting the server.

``db row-security on|off|status --data-dir D``
    turns PostgreSQL's row-level security keyed by project on or off
    (:mod:`server.row_security`; audited), or says where it stands. Refused on
    SQLite; ``on`` is refused for a role PostgreSQL would not apply it to
    (superuser, ``BYPASSRLS``), ``on`` and ``off`` for one that does not own the
    tables.

A database at a revision this Cordon does not know (a newer Cordon upgraded it)
is refused by both ``upgrade`` and ``serve``, and left as it was.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from alembic.util import CommandError

from app.wire.schemas import AccessAction
from server import audit, migrations, row_security, schema_version
from server.datadir import DataDir
from server.engines import make_engine, make_writer_engine

_CLI = audit.Actor(None, None, "cli")


def _describe(revision: str | None) -> str:
    """``revision`` as an operator reads it, next to this Cordon's head."""
    head = schema_version.head()
    if revision is None:
        return f"none (empty, or made before versioned migrations); this Cordon's head: {head}"
    if revision == head:
        return f"{revision} (head)"
    try:
        ScriptDirectory.from_config(migrations.config()).get_revision(revision)
    except CommandError:
        return f"{revision} (unknown to this Cordon, whose head is {head}: a newer one made it)"
    return f"{revision} (behind this Cordon's head {head}: run cordon-server db upgrade)"


def _data(args: argparse.Namespace) -> DataDir:
    data = DataDir(Path(args.data_dir).resolve())
    data.require_initialised()
    return data


def cmd_current(args: argparse.Namespace) -> int:
    engine = make_engine(_data(args).database_url)
    try:
        print(f"schema revision {_describe(schema_version.current(engine))}")  # noqa: T201
    finally:
        engine.dispose()
    return 0


def cmd_upgrade(args: argparse.Namespace) -> int:
    engine = make_engine(_data(args).database_url)
    try:
        done = schema_version.upgrade(engine)
    finally:
        engine.dispose()
    if done.adopted:
        added = len(done.added_columns)
        how = (
            f"made before versioned migrations: brought to the baseline ({added} column(s) "
            f"added), stamped {schema_version.BASELINE_REVISION}"
        )
    elif done.before == done.after:
        how = "already at head"
    else:
        how = f"was {done.before or 'empty'}"
    print(f"schema revision {done.after} ({how}; {done.seconds:.2f} s)")  # noqa: T201
    return 0


def cmd_row_security(args: argparse.Namespace) -> int:
    engine = make_writer_engine(_data(args).database_url)  # the write lock: one change at a time
    try:
        if args.state == "status":
            with engine.connect() as conn:
                print(f"row-level security {row_security.status(conn).describe()}")  # noqa: T201
            return 0
        with engine.begin() as conn:  # the policies and their audit leaf, or neither
            if args.state == "on":
                row_security.turn_on(conn)
            else:
                row_security.turn_off(conn)
            audit.record(conn, _CLI, AccessAction.ROW_SECURITY_CHANGED, reason=args.state)
            now = row_security.status(conn).describe()
    except row_security.RowSecurityError as exc:
        print(f"cordon-server: {exc}; nothing was changed", file=sys.stderr)  # noqa: T201
        return 2
    finally:
        engine.dispose()
    print(f"row-level security {now}; restart the server's processes to apply it")  # noqa: T201
    return 0


def add_parser(
    sub: Any, with_data: Callable[[argparse.ArgumentParser], argparse.ArgumentParser]
) -> None:
    """The ``db`` command group."""
    group = sub.add_parser("db", help="the database's schema revision").add_subparsers(
        dest="db_command", required=True
    )
    p = with_data(group.add_parser("current", help="print the schema revision (reads only)"))
    p.set_defaults(func=cmd_current)
    p = with_data(group.add_parser("upgrade", help="upgrade the schema to this Cordon's head"))
    p.set_defaults(func=cmd_upgrade)
    p = with_data(
        group.add_parser(
            "row-security", help="PostgreSQL row-level security keyed by project: on, off, status"
        )
    )
    p.add_argument("state", choices=("on", "off", "status"))
    p.set_defaults(func=cmd_row_security)
