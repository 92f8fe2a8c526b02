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
    """A database URL fit for a message or a log: the password masked (in the URL's
    user part or as libpq's ``?password=``)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "(not a URL)"
    if "password" in parsed.query:
        parsed = parsed.update_query_dict({"password": "***"})
    return parsed.render_as_string(hide_password=True)


def initialised(data: DataDir) -> bool:
    """Whether ``init`` made ``data`` already (its database is chosen)."""
    return data.database_url_path.exists() or data.db_path.exists()


def prepare_database(url: str) -> None:
    """Connect to the PostgreSQL database ``init`` was given and bring it to the current
    schema, before the data directory keeps its URL: a database that cannot be reached
    (or refuses the login) is a clear refusal, not a directory that points at it."""
    from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415

    from server import engines, schema_version  # noqa: PLC0415 - only for init

    engine = engines.make_engine(url)
    try:
        schema_version.upgrade(engine)
    except SQLAlchemyError as exc:
        raise StorageChoiceError(
            "database_unreachable",
            f"--database {shown(url)} cannot be used ({type(exc).__name__}: "
            f"{_first_line(exc)}); nothing was made",
        ) from exc
    except schema_version.SchemaVersionError as exc:
        raise StorageChoiceError("database_schema", f"{exc}; nothing was made") from exc
    finally:
        engine.dispose()


def _first_line(exc: Exception) -> str:
    """The driver's reason, without the statement or parameters SQLAlchemy appends."""
    original = getattr(exc, "orig", None) or exc
    return str(original).strip().splitlines()[0] if str(original).strip() else "no reason given"


def check(data: DataDir, database: str | None, blobs: str | None) -> None:
    """Refuse a start whose ``--database``/``--blobs`` differ from what ``data`` keeps."""
    if database is None and blobs is None:
        return
    asked = " ".join(
        (["--database URL"] if database else []) + ([f"--blobs '{blobs}'"] if blobs else [])
    )
    if not initialised(data):
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
