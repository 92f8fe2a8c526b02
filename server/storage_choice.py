"""Where a data directory keeps its database and its sealed recordings.

``cordon-server init --database … --blobs …`` records the choice in the data
directory (the database URL 0600 in ``database.url``, the object store in
``blobs.json``), because it cannot change afterwards: the project keys the
directory's root key wraps live in that database, and the recordings sealed under
them in that store. A server opened on the same directory with another database
would find none of its projects, and one with another store none of its audio.

``serve --database … --blobs …`` (and ``demo``) let a deployment that passes its
configuration at every start — a systemd unit, a container's command — say what it
expects. The start is refused, before anything is opened, when the data directory
keeps something else; an uninitialised directory is refused with the ``init``
command that would make it (``demo`` makes it itself). The URL may carry a
password, so it is compared in constant time and never printed whole.
"""

from __future__ import annotations

import hmac
import json

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from server import blob_store
from server.datadir import DataDir

#: The driver Cordon uses for PostgreSQL (``postgresql://`` is taken to mean it).
POSTGRES_SCHEME = "postgresql+psycopg"


class StorageChoiceError(Exception):
    """A ``--database`` or ``--blobs`` the data directory cannot be served with."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def database_url(url: str) -> str:
    """A PostgreSQL URL as the server's engine takes it (``postgresql://`` → psycopg 3)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StorageChoiceError("database_url", "--database is not a database URL") from exc
    if parsed.drivername not in ("postgresql", POSTGRES_SCHEME):
        raise StorageChoiceError(
            "database_url",
            f"--database must be postgresql://user@host:port/db, not {parsed.drivername}://…",
        )
    if not parsed.database:
        raise StorageChoiceError("database_url", "--database names no database")
    return parsed.set(drivername=POSTGRES_SCHEME).render_as_string(hide_password=False)


def shown(url: str) -> str:
    """A database URL fit for a message or a log: the password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(not a URL)"


def check(data: DataDir, database: str | None, blobs: str | None) -> None:
    """Refuse a start whose ``--database``/``--blobs`` differ from what ``data`` keeps."""
    if database is None and blobs is None:
        return
    asked = " ".join(
        ([f"--database '{shown(database)}'"] if database else [])
        + ([f"--blobs '{blobs}'"] if blobs else [])
    )
    if not data.database_url_path.exists() and not data.db_path.exists():
        raise StorageChoiceError(
            "not_initialised",
            f"{data.root} is not initialised; make it with: "
            f"cordon-server init --data-dir {data.root} {asked}",
        )
    if database is not None:
        wanted = database_url(database)
        kept = data.database_url
        if kept.startswith("postgresql"):
            kept = database_url(kept)  # as init wrote it, or an older directory's spelling
        if not hmac.compare_digest(wanted.encode(), kept.encode()):
            raise StorageChoiceError(
                "database_differs",
                f"{data.root} keeps its database in {shown(kept)}, not {shown(wanted)}: "
                "its projects' keys are there; nothing was started",
            )
    if blobs is not None:
        try:
            wanted_store = blob_store.parse_url(blobs)
        except blob_store.BlobStoreError as exc:
            raise StorageChoiceError("blobs_url", str(exc)) from exc
        path = data.root / blob_store.CONFIG_NAME
        kept_store = json.loads(path.read_text()) if path.exists() else {"kind": "files"}
        if wanted_store != kept_store:
            where = (
                f"s3://{kept_store.get('bucket')}/{kept_store.get('prefix', '')}"
                if kept_store.get("kind") == "s3"
                else f"{data.blob_dir}"
            )
            raise StorageChoiceError(
                "blobs_differ",
                f"{data.root} keeps its recordings in {where}, not {blobs}: "
                "its sealed audio is there; nothing was started",
            )
