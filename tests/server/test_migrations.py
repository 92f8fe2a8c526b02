"""Versioned schema migrations on real databases (SQLite, and PostgreSQL in its run).

Each test makes its own database: a file beside the test on SQLite, a fresh database
on the run's private PostgreSQL server when ``CORDON_TEST_DATABASE=postgresql``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    Boolean,
    Column,
    Engine,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    func,
    insert,
    inspect,
    select,
    text,
)

from app.wire.schemas import AccessAction
from devtools.postgres import new_database
from server import audit, db, dialect, migrations, schema_upgrade, schema_version
from server.auditlog.checkpoints import load_signer, publish_verifier_key
from server.auditlog.store import audit_leaves  # and the audit tables join the metadata
from server.cli import main as server_main
from server.context import open_context
from server.datadir import DataDir
from server.migrations.versions.v0001_baseline import BASELINE
from tests.fixtures import init_data_dir

HEAD = schema_version.head()


def _url(tmp_path: Path) -> str:
    """A new, empty database on this run's engine."""
    postgres = os.environ.get("CORDON_TEST_POSTGRES_URL")
    return new_database(postgres) if postgres else f"sqlite:///{tmp_path / 'cordon.sqlite3'}"


def _differences(url: str) -> list[object]:
    """What Alembic's autogenerate finds between the database and ``db.metadata``."""
    engine = dialect.inspectable(db.make_engine(url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, db.metadata))
    finally:
        engine.dispose()


def _schema(engine: Engine) -> dict[str, list[str]]:
    """Every table and its columns, as the database reports them."""
    inspector = inspect(engine)
    return {
        name: sorted(c["name"] for c in inspector.get_columns(name))
        for name in sorted(inspector.get_table_names())
    }


def _wipe(url: str) -> None:
    """Drop every table: the data directory keeps its keys, the database starts over."""
    engine = dialect.inspectable(db.make_engine(url))
    found = MetaData()
    found.reflect(engine)
    found.drop_all(engine)
    engine.dispose()


def test_an_empty_database_upgraded_to_head_is_the_metadata(tmp_path: Path) -> None:
    url = _url(tmp_path)
    engine = db.make_engine(url)
    assert schema_version.current(engine) is None
    done = schema_version.upgrade(engine)
    assert (done.before, done.after, done.adopted) == (None, HEAD, False)
    assert schema_version.current(engine) == HEAD
    assert _differences(url) == []
    print(f"\n{engine.dialect.name}: empty database to {HEAD} in {done.seconds:.3f} s")  # noqa: T201
    again = schema_version.upgrade(engine)  # every later start: nothing to do
    assert (again.before, again.after, again.adopted) == (HEAD, HEAD, False)
    engine.dispose()


def _pre_migration_schema(engine: Engine) -> None:
    """The schema as Cordon made it before its audit log: no audit tables, and users and
    devices without the columns added since (disabled_at; jkt, state, managed)."""
    old = MetaData()
    Table(
        "users", old,
        Column("id", String(64), primary_key=True),
        Column("username", String(64), nullable=False, unique=True),
        Column("display_name", String(128), nullable=False),
        Column("is_demo", Boolean, nullable=False),
        Column("created_at", Integer, nullable=False),
    )  # fmt: skip
    Table(
        "devices", old,
        Column("id", String(64), primary_key=True),
        Column("user_id", String(64), ForeignKey("users.id"), nullable=False),
        Column("name", String(128), nullable=False),
        Column("public_key", LargeBinary, nullable=False),
        Column("fingerprint", String(64), nullable=False, unique=True),
        Column("created_at", Integer, nullable=False),
        Column("revoked_at", Integer, nullable=True),
    )  # fmt: skip
    for table in BASELINE.sorted_tables:
        if table.name not in old.tables and not table.name.startswith("audit_"):
            table.to_metadata(old)
    old.create_all(engine)


def _event(conn_engine: Engine, user_id: str, at: float) -> None:
    with conn_engine.begin() as conn:  # as the code before the audit log wrote it: no leaf
        conn.execute(
            insert(db.access_events).values(
                event_id=f"00000000-0000-4000-8000-{int(at):012d}", source="server",
                action="login", outcome="ok", user_id=user_id, verified=True,
                server_time=at, remote_addr="127.0.0.1",
            )
        )  # fmt: skip


def test_a_data_directory_from_before_migrations_upgrades_keeps_its_rows_and_verifies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = init_data_dir(tmp_path / "data")
    engine = db.make_engine(data.database_url)
    _wipe(data.database_url)
    _pre_migration_schema(engine)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO users VALUES ('usr_1', 'ada', 'Ada', false, 1)"))
    _event(engine, "usr_1", 1_700_000_001)
    _event(engine, "usr_1", 1_700_000_002)
    # A start of the code from before migrations: create_all of its tables (the
    # baseline's: the leaves still keyed to their events, no table from revision 0003)
    # and the nullable columns; then one access, logged with its leaf.
    with engine.begin() as conn:
        BASELINE.create_all(conn)
        schema_upgrade.add_missing_columns(conn, BASELINE)
        audit.record(conn, audit.Actor("usr_1", None, "127.0.0.1"), AccessAction.LOGIN)
    publish_verifier_key(data, load_signer(data))
    assert server_main(["audit", "verify", "--data-dir", str(data.root)]) == 1
    assert "FAIL access event 1 has no audit leaf" in capsys.readouterr().out  # the old report

    ctx = open_context(data)  # the server's start path
    assert schema_version.current(ctx.engine) == HEAD
    assert _differences(data.database_url) == []
    with ctx.engine.connect() as conn:
        assert conn.execute(select(db.users.c.id, db.users.c.disabled_at)).all() == [
            ("usr_1", None)
        ]
        assert conn.execute(select(db.access_events.c.seq)).scalars().all() == [1, 2, 3]
    with ctx.transaction() as conn:  # the log goes on after the upgrade
        audit.record(conn, audit.Actor("usr_1", None, "127.0.0.1"), AccessAction.LOGIN)
    assert server_main(["audit", "verify", "--data-dir", str(data.root)]) == 0
    out = capsys.readouterr().out
    assert "FAIL" not in out
    assert "1 logs, 2 leaves" in out
    assert "(2 access events from before the audit log: in no log)" in out
    with ctx.engine.begin() as conn:  # a leaf lost after the log began still fails
        conn.execute(text("DELETE FROM audit_leaves WHERE idx = 1"))
    assert server_main(["audit", "verify", "--data-dir", str(data.root)]) == 1
    assert "FAIL access event 4 has no audit leaf" in capsys.readouterr().out


def test_a_directory_missing_a_column_that_cannot_be_added_is_refused_unchanged(
    tmp_path: Path,
) -> None:
    engine = db.make_engine(_url(tmp_path))
    with engine.begin() as conn:  # users as before disabled_at, devices without a fingerprint
        conn.execute(text(
            "CREATE TABLE users (id VARCHAR(64) PRIMARY KEY, username VARCHAR(64) NOT NULL, "
            "display_name VARCHAR(128) NOT NULL, is_demo BOOLEAN NOT NULL, "
            "created_at BIGINT NOT NULL)"
        ))  # fmt: skip
        conn.execute(text(
            "CREATE TABLE devices (id VARCHAR(64) PRIMARY KEY, user_id VARCHAR(64) NOT NULL, "
            "name VARCHAR(128) NOT NULL)"
        ))  # fmt: skip
    before = _schema(engine)
    with pytest.raises(schema_version.NotBaselineError, match=r"devices\.public_key is missing"):
        schema_version.upgrade(engine)
    assert _schema(engine) == before  # not even the tables or columns that could be added
    engine.dispose()


def test_a_database_from_a_newer_cordon_is_refused_and_left_as_it_was(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = init_data_dir(tmp_path / "data")
    engine = db.make_engine(data.database_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    before = _schema(engine)
    with pytest.raises(schema_version.NewerSchemaError, match=r"revision 9999.*newer Cordon"):
        schema_version.upgrade(engine)
    with pytest.raises(schema_version.NewerSchemaError):
        open_context(data)  # the server refuses to start on it
    assert server_main(["db", "upgrade", "--data-dir", str(data.root)]) == 2
    captured = capsys.readouterr()
    assert "cordon-server: the database is at schema revision 9999" in captured.err
    assert server_main(["db", "current", "--data-dir", str(data.root)]) == 0
    assert "9999 (unknown to this Cordon" in capsys.readouterr().out
    assert _schema(engine) == before
    assert schema_version.current(engine) == "9999"
    engine.dispose()


_UPGRADE_WHEN_TOLD = """
import sys, time
from pathlib import Path
from server import db, schema_version
engine = db.make_engine(sys.argv[1])
Path(sys.argv[3]).touch()
while not Path(sys.argv[2]).exists():
    time.sleep(0.005)
print(schema_version.upgrade(engine).before or "empty")
"""


def test_two_processes_upgrading_one_empty_database_at_once_leave_one_schema(
    tmp_path: Path,
) -> None:
    url, go = _url(tmp_path), tmp_path / "go"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _UPGRADE_WHEN_TOLD, url, str(go), str(tmp_path / f"ready{i}")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    try:
        deadline = time.monotonic() + 60
        while not all((tmp_path / f"ready{i}").exists() for i in range(2)):  # Cordon imported
            assert time.monotonic() < deadline and all(p.poll() is None for p in processes)
            time.sleep(0.01)
        go.touch()  # both start upgrading now
        answers = [p.communicate(timeout=120) for p in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
    assert [p.returncode for p in processes] == [0, 0], answers
    assert sorted(out.strip() for out, _ in answers) == [HEAD, "empty"]  # one migrated
    assert _differences(url) == []
    engine = db.make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).all() == [(HEAD,)]
    engine.dispose()


def test_db_current_and_db_upgrade_print_the_revision(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = init_data_dir(tmp_path / "data")
    root = str(data.root)
    capsys.readouterr()
    assert server_main(["db", "current", "--data-dir", root]) == 0
    assert capsys.readouterr().out == f"schema revision {HEAD} (head)\n"
    _wipe(data.database_url)  # then the tables as a data directory from before migrations has them
    engine = db.make_engine(data.database_url)
    with engine.begin() as conn:
        BASELINE.create_all(conn)
    engine.dispose()
    assert server_main(["db", "current", "--data-dir", root]) == 0
    assert capsys.readouterr().out.startswith("schema revision none (empty, or made before")
    started = time.monotonic()
    assert server_main(["db", "upgrade", "--data-dir", root]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"schema revision {HEAD} (made before versioned migrations")
    assert "stamped 0001" in out
    assert time.monotonic() - started < 30
    assert server_main(["db", "upgrade", "--data-dir", root]) == 0
    assert capsys.readouterr().out.startswith(f"schema revision {HEAD} (already at head;")
    assert schema_version.current(db.make_engine(DataDir(data.root).database_url)) == HEAD


def _leaf_keys(url: str) -> list[list[str]]:
    """The columns of each foreign key of the audit leaves, as the database reports them."""
    engine = dialect.inspectable(db.make_engine(url))
    try:
        return [
            key["constrained_columns"] for key in inspect(engine).get_foreign_keys("audit_leaves")
        ]
    finally:
        engine.dispose()


def test_revision_0004_drops_the_leaves_key_and_puts_it_back_keeping_the_leaves(
    tmp_path: Path,
) -> None:
    data = init_data_dir(tmp_path / "data")
    ctx = open_context(data)
    with ctx.transaction() as conn:
        for _ in range(3):
            audit.record(conn, audit.Actor("usr_x", None, "127.0.0.1"), AccessAction.LOGIN)
    ctx.engine.dispose()
    publish_verifier_key(data, load_signer(data))
    url = data.database_url
    assert _leaf_keys(url) == []
    engine = dialect.inspectable(db.make_engine(url))
    leaves = select(func.count()).select_from(audit_leaves)
    with engine.connect() as conn:
        before = conn.execute(leaves).scalar()
    assert before is not None and before >= 3
    cfg = migrations.config()
    with schema_version._ALEMBIC_RUN, engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0003")
    assert _leaf_keys(url) == [["event_seq"]]
    with engine.connect() as conn:
        assert conn.execute(leaves).scalar() == before
    engine.dispose()
    done = schema_version.upgrade(db.make_engine(url))
    assert (done.before, done.after) == ("0003", HEAD)
    assert _leaf_keys(url) == []
    assert _differences(url) == []
    assert server_main(["audit", "verify", "--data-dir", str(data.root)]) == 0
