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
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    Engine,
    MetaData,
    inspect,
    text,
)

import server.auditlog.store  # noqa: F401 - the audit tables belong to the metadata compared
from devtools.postgres import new_database
from server import db, dialect, schema_version
from server.cli import main as server_main
from server.context import open_context
from server.datadir import DataDir
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
    engine = db.make_engine(data.database_url)
    with engine.begin() as conn:  # as a data directory from before migrations has it
        conn.execute(text("DROP TABLE alembic_version"))
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
