"""Shared builders: server data directories, test audio, in-process API clients."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import Connection, select, text

from app.crypto.device_keys import DeviceKeyPair
from app.crypto.dpop import NONCE_HEADER, PROOF_HEADER, SCHEME, DPoPKey
from devtools.postgres import new_database, owned_database
from devtools.synthetic_audio import write_audio
from server import db, listen_policy, provision, segment_meta
from server.api.app import create_app
from server.audit import Actor
from server.blob_store import S3BlobStore
from server.cli import main as server_main
from server.context import ServerContext, open_context
from server.datadir import DataDir
from server.demo import DemoSetup, setup_demo

#: Which workstation key each issued token is bound to, and the device it enrolled.
PROOF_KEYS: dict[str, DPoPKey] = {}
DEVICE_IDS: dict[str, str] = {}


class ProvingClient(TestClient):
    """An in-process client that proves every request as Cordon's client does (RFC 9449).

    A request sent with ``Authorization: DPoP <token>`` gets a fresh proof signed
    by the key that token was issued to, with the server's latest nonce (a
    ``use_dpop_nonce`` answer is retried once). A request that already carries a
    ``DPoP`` header — a test's own, or ``""`` for none — is sent as it is.
    """

    nonce: str | None = None

    def request(self, method: str, url: httpx.URL | str, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        scheme, _, token = headers.get("Authorization", "").partition(" ")
        key = PROOF_KEYS.get(token) if scheme == SCHEME else None
        if key is None or PROOF_HEADER in headers:
            if headers.get(PROOF_HEADER) == "":
                del headers[PROOF_HEADER]
            return self._remember(super().request(method, url, headers=headers, **kwargs))
        target = urljoin(str(self.base_url), str(url))
        for attempt in (1, 2):
            proof = key.proof(method, target, access_token=token, nonce=self.nonce)
            response = self._remember(
                super().request(method, url, headers={**headers, PROOF_HEADER: proof}, **kwargs)
            )
            if attempt == 1 and _wants_nonce(response):
                continue
            return response
        raise AssertionError("unreachable")

    def _remember(self, response: httpx.Response) -> httpx.Response:
        self.nonce = response.headers.get(NONCE_HEADER, self.nonce)
        return response

    def prove(self, key: DPoPKey, method: str, url: str, token: str | None = None) -> str:
        """A proof by ``key`` for a request this client is about to send itself."""
        if self.nonce is None:
            self.get("/v1/health")
        target = urljoin(str(self.base_url), url)
        return key.proof(method, target, access_token=token, nonce=self.nonce)


def _wants_nonce(response: httpx.Response) -> bool:
    return response.status_code == 401 and '"use_dpop_nonce"' in response.text


def database_bytes(ctx: ServerContext) -> bytes:
    """What the database holds, to search for plaintext: SQLite's file as it is on disk
    (free pages too), or every row of every table of PostgreSQL as text."""
    if not ctx.data.database_url.startswith("postgresql"):
        return ctx.data.db_path.read_bytes()
    with ctx.engine.connect() as conn:
        rows = [
            str(row)
            for table in db.metadata.sorted_tables
            for row in conn.execute(text(f"SELECT t::text FROM {table.name} t")).scalars()  # noqa: S608 - our table names
        ]
    return "\n".join(rows).encode()


def stored_blobs(ctx: ServerContext) -> set[str]:
    """Every object the data directory's blob store holds, temporary ones included (their
    names start with a dot: ``.NAME.partial`` in a directory). On S3 an object appears
    whole or not at all and the upload's spool file has no name, so there a dot-name
    means a stray file in the spool directory."""
    store = ctx.data.blobs
    if isinstance(store, S3BlobStore):
        pages = store.client.get_paginator("list_objects_v2").paginate(
            Bucket=store.bucket, Prefix=store.prefix
        )
        kept = {o["Key"][len(store.prefix) :] for page in pages for o in page.get("Contents", [])}
        spooled = (
            {f".spool/{p.name}" for p in store.spool.iterdir()} if store.spool.exists() else set()
        )
        return kept | spooled
    return {p.name for p in ctx.data.blob_dir.iterdir()}


def everything_stored(ctx: ServerContext) -> list[tuple[str, bytes]]:
    """What the server keeps, to search for plaintext: every file of the data directory,
    the database when it is elsewhere (PostgreSQL, as text), every blob when they are
    elsewhere (S3) — so a scan cannot pass by not looking."""
    kept = [(str(p), p.read_bytes()) for p in ctx.data.root.rglob("*") if p.is_file()]
    if ctx.data.database_url.startswith("postgresql"):
        kept.append(("the PostgreSQL database", database_bytes(ctx)))
    if isinstance(ctx.data.blobs, S3BlobStore):
        kept += [(f"S3 object {n}", blob_bytes(ctx, n)) for n in sorted(stored_blobs(ctx))]
    return kept


def blob_bytes(ctx: ServerContext, name: str) -> bytes:
    """A stored blob's bytes, from whichever store the data directory uses."""
    with ctx.data.blobs.open(name) as blob:
        data: bytes = blob.read()
    return data


def fail_audit_writes(conn: Connection) -> None:
    """Make every audit leaf insert fail from now on, as a full disk would (both engines)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text(
            "CREATE FUNCTION audit_down() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'disk full'; END $$ LANGUAGE plpgsql"
        ))  # fmt: skip
        conn.execute(text(
            "CREATE TRIGGER audit_down BEFORE INSERT ON audit_leaves "
            "FOR EACH ROW EXECUTE FUNCTION audit_down()"
        ))  # fmt: skip
        return
    conn.execute(text(
        "CREATE TRIGGER audit_down BEFORE INSERT ON audit_leaves "
        "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    ))  # fmt: skip


def init_data_dir(root: Path, blobs: str | None = None) -> DataDir:
    endpoint = os.environ.get("CORDON_TEST_S3_ENDPOINT")
    if blobs is None and endpoint:  # the server tests' S3 run (tests/conftest.py)
        blobs = f"s3://cordon-test/{os.urandom(6).hex()}?endpoint={endpoint}"
    extra = ["--blobs", blobs] if blobs else []
    postgres = os.environ.get("CORDON_TEST_POSTGRES_URL")
    # The server tests' PostgreSQL run (tests/conftest.py) connects as the database's
    # owner, not a superuser, with row-level security keyed by project on.
    row_security = bool(postgres) and os.environ.get("CORDON_TEST_ROW_SECURITY") == "on"
    if postgres:
        made = owned_database(postgres) if row_security else new_database(postgres)
        extra += ["--database", made]
    assert server_main(["init", "--data-dir", str(root), *extra]) == 0
    if row_security:
        assert server_main(["db", "row-security", "on", "--data-dir", str(root)]) == 0
    return DataDir(root)


@dataclass
class DemoServer:
    ctx: ServerContext
    demo: DemoSetup
    audio_dir: Path

    def client(self) -> ProvingClient:
        return ProvingClient(create_app(self.ctx), client=("127.0.0.1", 50000))


def demo_server(
    tmp: Path,
    files: dict[str, tuple[float, int, int]],
    *,
    listening: bool = False,
    blobs: str | None = None,
) -> DemoServer:
    """An initialised data dir with the demo users and ``files`` (name: seconds, rate, ch).

    ``listening=False`` (most tests, which hand in documents without playing audio) turns
    the project's listening policy off, as a project admin can; the coverage tests keep
    the default policy.
    """
    audio_dir = tmp / "audio"
    audio_dir.mkdir()
    for i, (name, (seconds, rate, channels)) in enumerate(sorted(files.items())):
        write_audio(audio_dir / name, seconds, rate, channels, seed=i)
    ctx = open_context(init_data_dir(tmp / "data", blobs), demo_login=True)
    demo = setup_demo(ctx, audio_dir)
    if not listening:
        no_listening = listen_policy.ListenPolicy(submit_coverage=False, accept_coverage=0)
        listen_policy.apply(ctx.engine, demo.project_id, no_listening, Actor(None, None, "test"))
    return DemoServer(ctx, demo, audio_dir)


def login(client: ProvingClient, username: str, key: DPoPKey | None = None) -> dict[str, str]:
    """Demo sign-in proven by ``key`` (a new workstation key if none): the caller's headers."""
    key = key or DPoPKey.generate()
    path = "/v1/auth/demo-login"
    proof = client.prove(key, "POST", path)
    response = client.post(path, json={"username": username}, headers={PROOF_HEADER: proof})
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    PROOF_KEYS[token] = key
    return {"Authorization": f"{SCHEME} {token}"}


def proof_key(headers: dict[str, str]) -> DPoPKey:
    """The workstation key the caller's token is bound to."""
    return PROOF_KEYS[headers["Authorization"].partition(" ")[2]]


def enroll(client: TestClient, headers: dict[str, str], pair: DeviceKeyPair) -> dict[str, str]:
    body = {"name": "test", "public_key": base64.b64encode(pair.public_bytes()).decode()}
    response = client.post("/v1/devices", json=body, headers=headers)
    assert response.status_code == 201, response.text
    DEVICE_IDS[headers["Authorization"]] = response.json()["device_id"]
    return headers


def device_id(headers: dict[str, str]) -> str:
    """The device the caller enrolled (their requests are proven by its key)."""
    return DEVICE_IDS[headers["Authorization"]]


def document(text: str = "x", **segment: Any) -> dict[str, Any]:
    """A label document that fits the demo schema (version 1) on any demo test task."""
    first = {"id": "s1", "start": 0, "end": 800, "speaker": "agent", "text": text, **segment}
    return {"schema_version": 1, "segments": [first], "fields": {"outcome": "resolved"}}


def label(label_id: str, text: str = "x", **extra: Any) -> dict[str, Any]:
    """A ``LabelIn`` body carrying :func:`document`."""
    return {"label_id": label_id, "document": document(text), **extra}


def segment_title(ctx: ServerContext, segment_id: str) -> str:
    """A recording's title as the server reads it (titles are sealed at rest)."""
    with ctx.engine.connect() as conn:
        row = conn.execute(
            select(db.segments, db.projects.c.wrapped_key.label("project_key"))
            .join(db.projects, db.projects.c.id == db.segments.c.project_id)
            .where(db.segments.c.id == segment_id)
        ).one()
    return segment_meta.title(ctx.vault, row.project_id, row.project_key, row)


def segment_titled(ctx: ServerContext, project_id: str, title: str) -> str:
    """The id of the project's recording titled ``title`` (it must exist)."""
    found = provision.segment_titled(ctx.engine, ctx.vault, project_id, title)
    assert found is not None, f"no recording titled {title!r}"
    return found
