"""The blob store's contract, against the directory store and S3 (moto's server on loopback).

moto emulates S3's API and accepts any credentials: this checks Cordon's side of
the contract (atomic puts, streaming reads, deletes, SSE asked for), not a real
provider's authentication. Then a recording is ingested, fetched and erased
through the real API with its blob on S3, and nothing of it is left in the bucket.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from sqlalchemy import func, select

from app.crypto.device_keys import DeviceKeyPair
from server import blob_store, db
from server.blob_store import BlobStore, BlobStoreError, FileBlobStore, S3BlobStore, pieces
from server.cli import main as server_main
from tests.fixtures import demo_server, enroll, login

BUCKET = "cordon-blobs"


@pytest.fixture(autouse=True)
def _any_credentials(s3_credentials: None) -> None:
    """boto3 finds credentials (moto accepts any)."""


def _client(endpoint: str) -> Any:
    return boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )  # fmt: skip


@pytest.fixture(params=["files", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "files":
        (tmp_path / "blobs").mkdir()
        return FileBlobStore(tmp_path / "blobs")
    endpoint = request.getfixturevalue("s3_endpoint")
    client = _client(endpoint)
    bucket = f"{BUCKET}-{os.urandom(4).hex()}"
    client.create_bucket(Bucket=bucket)
    return S3BlobStore(client, bucket, "p1/", tmp_path / "spool")


def _fill(data: bytes) -> blob_store.Fill:
    def fill(sink: Any) -> None:
        for start in range(0, len(data), 100_000):
            sink.write(data[start : start + 100_000])

    return fill


def test_write_read_size_delete(store: BlobStore) -> None:
    data = os.urandom(3 * blob_store.PIECE + 17)
    written = store.write("a.seg", _fill(data))
    assert written.size == len(data) and written.sha256 == hashlib.sha256(data).hexdigest()
    assert store.exists("a.seg") and store.size("a.seg") == len(data)
    got = list(pieces(store, "a.seg"))
    assert b"".join(got) == data and max(len(p) for p in got) <= blob_store.PIECE
    store.delete("a.seg")
    assert not store.exists("a.seg")
    store.delete("a.seg")  # erasure resumes: a second delete is not an error


def test_a_failed_write_leaves_no_blob(store: BlobStore) -> None:
    def failing(sink: Any) -> None:
        sink.write(b"x" * 1000)
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        store.write("b.seg", failing)
    assert not store.exists("b.seg")
    if isinstance(store, FileBlobStore):  # nor its partial file
        assert not list(store.directory.iterdir())
    else:
        assert isinstance(store, S3BlobStore) and not list(store.spool.iterdir())


def test_s3_objects_are_put_with_server_side_encryption(s3_endpoint: str, tmp_path: Path) -> None:
    client = _client(s3_endpoint)
    client.create_bucket(Bucket="sse-check")
    S3BlobStore(client, "sse-check", "", tmp_path / "spool").write("c.seg", _fill(b"sealed"))
    assert client.head_object(Bucket="sse-check", Key="c.seg")["ServerSideEncryption"] == "AES256"
    assert not list((tmp_path / "spool").iterdir())  # the spooled ciphertext is gone


def test_the_blobs_url_is_checked() -> None:
    assert blob_store.parse_url("s3://b/pre?endpoint=http://127.0.0.1:9") == {
        "kind": "s3", "bucket": "b", "prefix": "pre/", "endpoint": "http://127.0.0.1:9",
        "region": "us-east-1",
    }  # fmt: skip
    for bad in ("file:///tmp", "s3:///nobucket", "s3://b?secret=x"):
        with pytest.raises(BlobStoreError):
            blob_store.parse_url(bad)


def test_a_recording_on_s3_is_ingested_served_and_erased(s3_endpoint: str, tmp_path: Path) -> None:
    """The server with its blobs on S3: the segment is served from the bucket, and
    erasing the recording leaves nothing of it there."""
    client = _client(s3_endpoint)
    client.create_bucket(Bucket="served")
    url = f"s3://served/cordon?endpoint={s3_endpoint}"
    srv = demo_server(tmp_path, {"call.wav": (2.0, 8000, 1)}, blobs=url)

    def objects() -> list[str]:
        return [o["Key"] for o in client.list_objects_v2(Bucket="served").get("Contents", [])]

    keys = objects()
    assert keys and all(k.startswith("cordon/") for k in keys)
    assert not list(srv.ctx.data.blob_dir.iterdir())  # nothing in the directory store
    api = srv.client()
    headers = enroll(api, login(api, "annotator"), DeviceKeyPair.generate())
    task = api.get("/v1/tasks", headers=headers).json()["tasks"][0]
    assert api.post(f"/v1/tasks/{task['task_id']}/key-grant", headers=headers).status_code == 200
    served = api.get(f"/v1/tasks/{task['task_id']}/segment", headers=headers)
    assert served.status_code == 200
    stored = client.get_object(Bucket="served", Key=f"cordon/{task['segment_id']}.seg")
    assert served.content == stored["Body"].read()
    # The storage loses the object: a 503 that says so, and no fetch recorded.
    with srv.ctx.engine.connect() as conn:
        fetches = conn.execute(
            select(func.count()).where(db.access_events.c.action == "segment_fetched")
        ).scalar_one()
    client.delete_object(Bucket="served", Key=f"cordon/{task['segment_id']}.seg")
    lost = api.get(f"/v1/tasks/{task['task_id']}/segment", headers=headers)
    assert lost.status_code == 503 and lost.json()["error"]["code"] == "storage_unavailable"
    with srv.ctx.engine.connect() as conn:
        assert (
            fetches
            == conn.execute(
                select(func.count()).where(db.access_events.c.action == "segment_fetched")
            ).scalar_one()
        )
    data = ["--data-dir", str(srv.ctx.data.root)]
    erase = ["erase", *data, "--project", srv.demo.project_id, "--by", "manager"]
    assert server_main([*erase, "--segment", task["segment_id"]]) == 0
    assert f"cordon/{task['segment_id']}.seg" not in objects()
    assert server_main(["audit", "verify", *data]) == 0
