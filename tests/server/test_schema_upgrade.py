"""An older data directory gains the columns added since, and keeps its rows."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, text

from server import db


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
