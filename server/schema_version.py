"""Create or upgrade the database's schema through Cordon's versioned migrations.

Every start (``serve``, ``demo``, any command that opens the data directory),
``init`` and ``cordon-server db upgrade`` call :func:`upgrade`. It runs in one
transaction on the writer engine, which takes the one write lock before its first
statement (``BEGIN IMMEDIATE`` on SQLite, the advisory lock on PostgreSQL): two
processes starting at once migrate one after the other, and the second finds the
schema at head. Alembic runs every step in that transaction (SQLite and PostgreSQL
both roll DDL back), so a failed step leaves the schema as it was.

Three kinds of database:

- empty: every revision runs, from the baseline (``0001``) to head;
- made before migrations existed (Cordon's tables, no ``alembic_version``): it is
  brought to the baseline as earlier versions did at each start (missing tables;
  missing nullable columns), compared with the baseline, refused if anything still
  differs, then stamped ``0001`` and upgraded to head;
- versioned: upgraded to head. A revision this code does not know (the database was
  upgraded by a newer Cordon and the server was then downgraded) is refused with
  :class:`NewerSchemaError` before anything is written.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import INTEGER, Column, Connection, Engine, inspect
from sqlalchemy.types import TypeEngine

from server import dialect, migrations, schema_upgrade
from server.engines import make_writer_engine
from server.migrations.versions import v0001_baseline

logger = logging.getLogger(__name__)

BASELINE_REVISION = v0001_baseline.revision
#: Alembic's ``op`` and ``context`` are module-wide proxies: one migration run per
#: process at a time (the write lock orders processes; this orders threads).
_ALEMBIC_RUN = threading.Lock()


class SchemaVersionError(Exception):
    """The database's schema cannot be brought to this version of Cordon."""


class NewerSchemaError(SchemaVersionError):
    """The database is at a revision this code does not know: a newer Cordon made it."""


class NotBaselineError(SchemaVersionError):
    """A database from before migrations differs from the baseline in a way not additive."""


@dataclass
class Upgraded:
    """What :func:`upgrade` did."""

    before: str | None  #: the revision found (None: empty or pre-migration)
    after: str
    adopted: bool = False  #: a pre-migration database was stamped at the baseline
    added_columns: list[str] = field(default_factory=list)
    seconds: float = 0.0


def head() -> str:
    """The newest revision this code knows."""
    found = ScriptDirectory.from_config(migrations.config()).get_current_head()
    if found is None:  # pragma: no cover - the baseline always exists
        raise SchemaVersionError("no migrations found")
    return found


def current(engine: Engine) -> str | None:
    """The database's revision (None: empty, or made before migrations). Reads only."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> Upgraded:
    """Bring ``engine``'s database to :func:`head`, under the write lock (module docstring)."""
    started = time.monotonic()
    writer = dialect.inspectable(
        make_writer_engine(engine.url.render_as_string(hide_password=False))
    )
    try:
        with _ALEMBIC_RUN, writer.begin() as conn:  # the write lock, held to the commit
            done = _upgrade_locked(conn)
    finally:
        writer.dispose()
    done.seconds = time.monotonic() - started
    if done.adopted:
        logger.info(
            "database from before versioned migrations: %d column(s) added, stamped %s",
            len(done.added_columns), BASELINE_REVISION,
        )  # fmt: skip
    if done.before != done.after:
        logger.info("database schema upgraded from %s to %s", done.before or "none", done.after)
    return done


def _upgrade_locked(conn: Connection) -> Upgraded:
    cfg = migrations.config()
    cfg.attributes["connection"] = conn
    script = ScriptDirectory.from_config(cfg)
    found = MigrationContext.configure(conn).get_current_heads()
    for revision in found:
        try:
            script.get_revision(revision)
        except CommandError as exc:
            raise NewerSchemaError(
                f"the database is at schema revision {revision}, which this version of "
                f"Cordon does not know (it knows up to {head()}): it was upgraded by a "
                "newer Cordon; run that version, or restore a backup made before"
            ) from exc
    done = Upgraded(before=found[0] if found else None, after=head())
    if not found and _has_cordon_tables(conn):
        done.added_columns = _adopt(conn)
        command.stamp(cfg, BASELINE_REVISION)
        done.adopted = True
    command.upgrade(cfg, "head")
    return done


def _has_cordon_tables(conn: Connection) -> bool:
    return bool(set(inspect(conn).get_table_names()) & set(v0001_baseline.BASELINE.tables))


def _baseline_type_differs(
    _context: MigrationContext,
    inspected: Column[Any],
    _metadata_column: Column[Any],
    inspected_type: TypeEngine[Any],
    _metadata_type: TypeEngine[Any],
) -> bool | None:
    """Alembic's type comparison, except for PostgreSQL's ``SERIAL`` keys (32-bit before
    revision 0002, which widens them): that is how the baseline made them."""
    serial = inspected.primary_key and isinstance(inspected_type, INTEGER)
    return False if serial and _context.dialect.name == "postgresql" else None


def _adopt(conn: Connection) -> list[str]:
    """Bring a pre-migration database to the baseline; refuse one that still differs."""
    baseline = v0001_baseline.BASELINE
    baseline.create_all(conn)  # tables a newer version added (checkfirst)
    try:
        added = schema_upgrade.add_missing_columns(conn, baseline)
    except schema_upgrade.NotAdditiveError as exc:
        raise NotBaselineError(str(exc)) from exc
    context = MigrationContext.configure(conn, opts={"compare_type": _baseline_type_differs})
    differences = [
        diff
        for diff in compare_metadata(context, baseline)
        # Tables that are not Cordon's (a shared PostgreSQL database) are not ours to judge.
        if not (isinstance(diff, tuple) and diff[0] == "remove_table")
    ]
    if differences:
        raise NotBaselineError(
            "this data directory's schema differs from the one Cordon's migrations start "
            "from in ways an upgrade cannot fix on its own: "
            + "; ".join(_described(diff) for diff in differences)
        )
    return added


def _described(diff: Any) -> str:
    """One of Alembic's differences as a line an operator can act on (names, no data)."""
    if isinstance(diff, list):  # column changes come grouped: (kind, schema, table, column, …)
        return ", ".join(f"{kind} {table}.{column}" for kind, _, table, column, *_ in diff)
    kind, thing = diff[0], diff[1]
    table = getattr(thing, "table", thing)
    columns = [c.name for c in getattr(thing, "columns", [])]
    return f"{kind} {getattr(table, 'name', table)}" + (
        f" ({', '.join(columns)})" if columns else ""
    )
