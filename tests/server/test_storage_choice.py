"""``serve --database postgresql://… --blobs s3://…``: the production start, and its refusals.

A real PostgreSQL (the run's, or one started here) and moto's S3 emulation on
127.0.0.1 (it accepts any credentials: the contract, not S3's authentication).
"""

from __future__ import annotations

import base64
import os
import socket
import stat
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from app.api.client import CordonApi
from app.crypto.device_keys import DeviceKeyPair
from app.crypto.dpop import DPoPKey
from devtools.postgres import new_database
from devtools.processes import start_server, stop
from server import engines, storage_choice
from server.cli import main as server_main
from server.datadir import DataDir

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def _any_credentials(s3_credentials: None) -> None:
    """boto3 here and in the server processes finds credentials (moto accepts any)."""


def _bucket(endpoint: str) -> tuple[Any, str]:
    client = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )  # fmt: skip
    name = f"cordon-{os.urandom(4).hex()}"
    client.create_bucket(Bucket=name)
    return client, name


def _as_operators_write_it(url: str) -> str:
    """``postgresql://…``, as the README's recipe spells it (no driver name)."""
    return url.replace("postgresql+psycopg://", "postgresql://")


def test_the_demo_made_and_served_on_postgresql_and_s3(
    tmp_path: Path, postgres: str, s3_endpoint: str
) -> None:
    """One command on an empty directory: it is made on PostgreSQL + S3, its recordings
    go to the bucket, an annotator signs in and gets a segment from there; a second
    start with the same choice serves the same directory."""
    client, bucket = _bucket(s3_endpoint)
    database = _as_operators_write_it(new_database(postgres))
    blobs = f"s3://{bucket}/site-a?endpoint={s3_endpoint}"
    data = tmp_path / "data"
    choice = ("--database", database, "--blobs", blobs)
    proc, url = start_server(data, *choice, "--workers", "2", command="demo")
    try:
        kept = DataDir(data).database_url_path
        assert kept.read_text().startswith("postgresql+psycopg://")
        assert stat.S_IMODE(kept.stat().st_mode) == 0o600
        assert not (data / "cordon.sqlite3").exists()
        keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
        assert keys and all(k.startswith("site-a/") for k in keys)
        api = CordonApi(url, data / "pki" / "ca.pem")
        api.set_proof_key(DPoPKey.generate())
        api.set_token(api.demo_login("annotator").access_token)
        pair = DeviceKeyPair.generate()
        api.enroll_device("test", base64.b64encode(pair.public_bytes()).decode())
        task = api.list_tasks().tasks[0]
        api.key_grant(task.task_id)
        with api.segment_stream(task.task_id) as (_length, pieces):
            served = b"".join(pieces)
        stored = client.get_object(Bucket=bucket, Key=f"site-a/{task.segment_id}.seg")
        assert served == stored["Body"].read()
        api.close()
    finally:
        stop(proc)
    proc, _url = start_server(data, *choice)
    stop(proc)


def test_a_start_that_names_another_store_is_refused_and_says_which(
    tmp_path: Path, postgres: str, s3_endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _client, bucket = _bucket(s3_endpoint)
    database = _as_operators_write_it(new_database(postgres))
    blobs = f"s3://{bucket}/a?endpoint={s3_endpoint}"
    data = str(tmp_path / "data")
    assert server_main(["init", "--data-dir", data, "--database", database, "--blobs", blobs]) == 0
    capsys.readouterr()
    serve = ["serve", "--data-dir", data, "--port", "0"]

    def refused(*extra: str) -> str:
        assert server_main([*serve, *extra]) == 2
        return capsys.readouterr().err

    other = database.replace("postgres@", "postgres:pa55-w0rd@").rsplit("/", 1)[0] + "/elsewhere"
    err = refused("--database", other)
    assert "(database_differs)" in err and "nothing was started" in err
    assert "pa55-w0rd" not in err  # the password is never printed
    err = refused("--blobs", f"s3://{bucket}/b?endpoint={s3_endpoint}")
    assert "(blobs_differ)" in err and f"s3://{bucket}/a/" in err
    assert "(database_url)" in refused("--database", "mysql://cordon@db/cordon")
    assert "(blobs_url)" in refused("--blobs", "file:///srv/blobs")
    # init again: the same choice is fine; another is refused and changes nothing.
    kept = (tmp_path / "data" / "database.url").read_bytes()
    assert server_main(["init", "--data-dir", data, "--database", database]) == 0
    assert server_main(["init", "--data-dir", data, "--database", other]) == 2
    assert server_main(["init", "--data-dir", data, "--blobs", f"s3://{bucket}/b"]) == 2
    assert (tmp_path / "data" / "database.url").read_bytes() == kept
    assert f"s3://{bucket}/a/" in capsys.readouterr().err
    sqlite_dir = str(tmp_path / "sqlite")
    assert server_main(["init", "--data-dir", sqlite_dir]) == 0
    capsys.readouterr()
    assert (
        server_main(["serve", "--data-dir", sqlite_dir, "--port", "0", "--database", database]) == 2
    )
    assert "keeps its database in sqlite:///" in capsys.readouterr().err
    assert server_main(["serve", "--data-dir", sqlite_dir, "--port", "0", "--blobs", blobs]) == 2
    assert f"keeps its recordings in {tmp_path / 'sqlite' / 'blobs'}" in capsys.readouterr().err
    # An empty directory: the init command that would make it, and nothing made.
    empty = tmp_path / "empty"
    assert server_main(["serve", "--data-dir", str(empty), "--port", "0", "--blobs", blobs]) == 2
    err = capsys.readouterr().err
    assert "(not_initialised)" in err and f"cordon-server init --data-dir {empty}" in err
    assert not empty.exists()


def test_an_init_refused_for_its_database_url_makes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    for bad in (["--database", "sqlite:///x.db"], ["--database", "postgresql://h"],
                ["--blobs", "s3:///no-bucket"]):  # fmt: skip
        assert server_main(["init", "--data-dir", str(data), *bad]) == 2
        assert "cordon-server: --" in capsys.readouterr().err
        assert not data.exists()


def test_an_init_whose_database_cannot_be_reached_makes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A refused login or a database that is not there: a coded refusal, no directory
    left pointing at it (so the corrected URL can be given next time)."""
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = tmp_path / "data"
    url = f"postgresql://cordon:s3cret-pw@127.0.0.1:{port}/cordon?connect_timeout=2"
    assert server_main(["init", "--data-dir", str(data), "--database", url]) == 2
    err = capsys.readouterr().err
    assert "cannot be used (OperationalError" in err and "nothing was made" in err
    assert "s3cret-pw" not in err
    assert not data.exists()


def test_a_password_in_the_query_is_not_shown() -> None:
    shown = storage_choice.shown("postgresql://u@h/db?password=s3cret-pw&sslmode=require")
    assert "s3cret-pw" not in shown and "sslmode=require" in shown
    assert "s3cret-pw" not in storage_choice.shown("postgresql://u:s3cret-pw@h/db")


def test_postgresql_connections_plan_per_execution_and_keep_the_urls_options(
    postgres: str,
) -> None:
    """``plan_cache_mode`` is set per connection without replacing ``options`` the
    operator gave in the URL (a startup parameter would have)."""
    url = new_database(postgres) + "?options=-c%20statement_timeout%3D12345"
    for make in (engines.make_engine, engines.make_writer_engine):
        engine = make(url)
        try:
            with engine.connect() as conn:
                assert conn.exec_driver_sql("SHOW plan_cache_mode").scalar() == (
                    "force_custom_plan"
                )
                assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "12345ms"
        finally:
            engine.dispose()
