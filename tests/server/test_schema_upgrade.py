"""An older data directory gains the columns added since, and keeps its rows."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, select, text, update

from app.crypto.device_keys import DeviceKeyPair
from server import db, provision, schema_version, segment_meta
from server.context import open_context
from tests.fixtures import demo_server, enroll, label, login, segment_title


def test_an_old_devices_table_gains_the_key_thumbprint(tmp_path: Path) -> None:
    engine = db.make_engine(tmp_path / "old.sqlite3")
    with engine.begin() as conn:  # users and devices as the first release created them
        conn.execute(text(
            "CREATE TABLE users (id VARCHAR(64) NOT NULL, username VARCHAR(64) NOT NULL, "
            "display_name VARCHAR(128) NOT NULL, is_demo BOOLEAN NOT NULL, "
            "created_at INTEGER NOT NULL, PRIMARY KEY (id), UNIQUE (username))"
        ))  # fmt: skip
        conn.execute(text(
            "CREATE TABLE devices (id VARCHAR(64) NOT NULL, user_id VARCHAR(64) NOT NULL, "
            "name VARCHAR(128) NOT NULL, public_key BLOB NOT NULL, "
            "fingerprint VARCHAR(64) NOT NULL, created_at INTEGER NOT NULL, "
            "revoked_at INTEGER, PRIMARY KEY (id), FOREIGN KEY(user_id) REFERENCES users (id), "
            "UNIQUE (fingerprint))"
        ))  # fmt: skip
        conn.execute(text("INSERT INTO users VALUES ('usr_1', 'ada', 'Ada', 0, 1)"))
        conn.execute(
            text("INSERT INTO devices VALUES ('dev_1', 'usr_1', 'ws', x'00', 'f', 1, NULL)")
        )
    schema_version.upgrade(engine)
    inspector = inspect(engine)
    assert "jkt" in {c["name"] for c in inspector.get_columns("devices")}
    assert "disabled_at" in {c["name"] for c in inspector.get_columns("users")}
    assert any(i["column_names"] == ["jkt"] for i in inspector.get_indexes("devices"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id, jkt FROM devices")).all() == [("dev_1", None)]
    schema_version.upgrade(engine)  # a second start adds nothing and fails on nothing
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


def test_a_task_from_before_task_keys_takes_new_records_under_a_new_key(tmp_path: Path) -> None:
    srv = demo_server(tmp_path, {"call.wav": (1.0, 8000, 1)})
    c = srv.client()
    ann = enroll(c, login(c, "annotator"), DeviceKeyPair.generate())
    rev = enroll(c, login(c, "reviewer"), DeviceKeyPair.generate())
    task = c.get("/v1/tasks", headers=ann).json()["tasks"][0]["task_id"]
    assert c.post(f"/v1/tasks/{task}/labels", json=label("lbl_old1", "old words"),
                  headers=ann).status_code == 200  # fmt: skip
    # As an older version stored it: the label under the project key, the task keyless.
    vault, project = srv.ctx.vault, srv.demo.project_id
    with srv.ctx.engine.begin() as conn:
        row = conn.execute(select(db.labels).where(db.labels.c.id == "lbl_old1")).one()
        key = conn.execute(select(db.tasks.c.wrapped_key).where(db.tasks.c.id == task)).scalar()
        pkey = conn.execute(
            select(db.projects.c.wrapped_key).where(db.projects.c.id == project)
        ).scalar_one()
        plain = vault.open_label(project, pkey, row.id, task, row.sealed_transcript, key)
        legacy = vault.seal_label(project, pkey, row.id, task, plain)
        conn.execute(update(db.labels).where(db.labels.c.id == row.id)
                     .values(sealed_transcript=legacy))  # fmt: skip
        conn.execute(update(db.tasks).where(db.tasks.c.id == task).values(wrapped_key=None))
    assert c.post(f"/v1/tasks/{task}/review", json={"step": "claim"}, headers=rev).is_success
    comment = {"comment_id": "cmt_first", "revision": 1, "text": "first record under a key"}
    made = c.post(f"/v1/tasks/{task}/comments", json=comment, headers=rev)
    assert made.status_code == 200 and made.json()["text"] == "first record under a key"
    rejected = c.post(f"/v1/tasks/{task}/review",
                      json={"step": "reject", "revision": 1, "reason": "say it again"},
                      headers=rev)  # fmt: skip
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["transitions"][-1]["reason"] == "say it again"
    latest = c.get(f"/v1/tasks/{task}/labels/latest", headers=ann).json()
    assert latest["document"]["segments"][0]["text"] == "old words"  # the project key's
    notes = c.get(f"/v1/tasks/{task}/comments", headers=ann).json()["comments"]
    assert [n["text"] for n in notes] == ["first record under a key"]
