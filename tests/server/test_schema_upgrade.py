"""An older data directory gains the columns added since, and keeps its rows."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, select, text, update

from server import db, provision, segment_meta
from server.context import open_context
from tests.fixtures import demo_server, segment_title


def test_an_old_devices_table_gains_the_key_thumbprint(tmp_path: Path) -> None:
    engine = db.make_engine(tmp_path / "old.sqlite3")
    with engine.begin() as conn:  # the devices and users tables as they were before DPoP
        conn.execute(text(
            "CREATE TABLE users (id VARCHAR(64) PRIMARY KEY, username VARCHAR(64) NOT NULL "
            "UNIQUE, display_name VARCHAR(128) NOT NULL, is_demo BOOLEAN NOT NULL, "
            "created_at INTEGER NOT NULL)"
        ))  # fmt: skip
        conn.execute(text(
            "CREATE TABLE devices (id VARCHAR(64) PRIMARY KEY, user_id VARCHAR(64) NOT NULL "
            "REFERENCES users(id), name VARCHAR(128) NOT NULL, public_key BLOB NOT NULL, "
            "fingerprint VARCHAR(64) NOT NULL UNIQUE, created_at INTEGER NOT NULL, "
            "revoked_at INTEGER)"
        ))  # fmt: skip
        conn.execute(text("INSERT INTO users VALUES ('usr_1', 'ada', 'Ada', 0, 1)"))
        conn.execute(
            text("INSERT INTO devices VALUES ('dev_1', 'usr_1', 'ws', x'00', 'f', 1, NULL)")
        )
    db.create_schema(engine)
    inspector = inspect(engine)
    assert "jkt" in {c["name"] for c in inspector.get_columns("devices")}
    assert "disabled_at" in {c["name"] for c in inspector.get_columns("users")}
    assert any(i["column_names"] == ["jkt"] for i in inspector.get_indexes("devices"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id, jkt FROM devices")).all() == [("dev_1", None)]
    db.create_schema(engine)  # a second start adds nothing and fails on nothing
    engine.dispose()


def test_titles_stored_in_clear_by_an_older_version_are_sealed_at_the_next_open(
    tmp_path: Path,
) -> None:
    srv = demo_server(tmp_path, {"call.wav": (1.0, 8000, 1)})
    project = srv.demo.project_id
    with srv.ctx.engine.begin() as conn:  # as an older version stored it
        conn.execute(
            update(db.segments).values(
                title="2026-03-04 J. Smith dispute", sealed_title=None, title_ref=None
            )
        )
    ctx = open_context(srv.ctx.data)
    with ctx.engine.connect() as conn:
        rows = conn.execute(select(db.segments)).all()
    assert rows and all(r.title == "" and r.sealed_title and r.title_ref for r in rows)
    found = provision.segment_titled(ctx.engine, ctx.vault, project, "2026-03-04 J. Smith dispute")
    assert found is not None
    assert segment_title(ctx, found) == "2026-03-04 J. Smith dispute"
    assert segment_meta.seal_clear_titles(ctx.vault, ctx.engine) == 0  # done once
