"""Where sealed recordings live: a directory of files, or S3-compatible object storage.

Every blob is already Cordon ciphertext (chunked AES-GCM under its own data
key) before it reaches a store, so a store sees no plaintext and no keys; what
it adds is durability and, on S3, the provider's own encryption at rest
(``ServerSideEncryption=AES256``) on top.

The contract both implementations keep (``tests/server/test_blob_store.py`` runs
it against each):

- :meth:`BlobStore.write` makes a blob appear whole or not at all, and returns
  its size and the SHA-256 of its bytes (kept at ingest for provenance);
- :meth:`BlobStore.open` streams it in pieces — nothing is read whole into
  memory, on either side;
- :meth:`BlobStore.delete` is durable when it returns (erasure prints a receipt
  after it), and deleting a missing blob is not an error (erasure resumes).

The store is chosen per data directory (``blobs.json``, written by
``cordon-server init --blobs``); without that file it is the ``blobs/``
directory, as before.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol
from urllib.parse import parse_qs, urlsplit

PIECE = 256 * 1024
CONFIG_NAME = "blobs.json"


class BlobStoreError(Exception):
    """The blob store is misconfigured or cannot be reached."""


class _HashingWriter:
    """Counts and hashes what passes through to ``sink``."""

    def __init__(self, sink: BinaryIO) -> None:
        self.sink, self.size, self.digest = sink, 0, hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.sink.write(data)


Fill = Callable[[Any], None]


@dataclass(frozen=True)
class Written:
    size: int
    sha256: str


class BlobStore(Protocol):
    def write(self, name: str, fill: Fill) -> Written: ...
    def open(self, name: str) -> Any: ...  # a context manager yielding an object with read(n)
    def open_sized(self, name: str) -> tuple[Any, int]: ...  # (reader to close, its length)
    def size(self, name: str) -> int: ...
    def delete(self, name: str) -> None: ...
    def exists(self, name: str) -> bool: ...


def pieces(store: BlobStore, name: str) -> Iterator[bytes]:
    """The blob in pieces of at most :data:`PIECE` bytes (for streaming responses)."""
    with store.open(name) as blob:
        while piece := blob.read(PIECE):
            yield piece


class FileBlobStore:
    """A private directory: temporary name, fsync, rename; unlink and fsync the directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def write(self, name: str, fill: Fill) -> Written:
        final = self.directory / name
        partial = self.directory / f".{name}.partial"
        try:
            with partial.open("wb") as sink:
                writer = _HashingWriter(sink)
                fill(writer)
                sink.flush()
                os.fsync(sink.fileno())
            os.replace(partial, final)
        except BaseException:
            partial.unlink(missing_ok=True)  # ciphertext only, but not left behind either
            raise
        self._sync_dir()
        return Written(writer.size, writer.digest.hexdigest())

    @contextmanager
    def open(self, name: str) -> Iterator[BinaryIO]:
        with (self.directory / name).open("rb") as blob:
            yield blob

    def open_sized(self, name: str) -> tuple[Any, int]:
        try:
            blob = (self.directory / name).open("rb")
        except OSError as exc:
            raise BlobStoreError(f"blob {name} cannot be opened: {exc.strerror}") from exc
        return blob, os.fstat(blob.fileno()).st_size

    def size(self, name: str) -> int:
        return (self.directory / name).stat().st_size

    def exists(self, name: str) -> bool:
        return (self.directory / name).is_file()

    def delete(self, name: str) -> None:
        (self.directory / name).unlink(missing_ok=True)
        (self.directory / f".{name}.partial").unlink(missing_ok=True)
        self._sync_dir()

    def _sync_dir(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class S3BlobStore:
    """A bucket (and key prefix) of S3-compatible object storage, through boto3.

    Writes go through a local temporary file of ciphertext (0600, deleted at
    once) so boto3 can upload in parts without holding the blob in memory;
    ``put`` is atomic on S3 (an object appears whole or not at all). Reads
    stream the object's body. Path-style addressing, for on-prem endpoints.
    """

    def __init__(self, client: Any, bucket: str, prefix: str, spool: Path) -> None:
        self.client, self.bucket, self.prefix, self.spool = client, bucket, prefix, spool

    def _key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def write(self, name: str, fill: Fill) -> Written:
        self.spool.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=self.spool) as spooled:
            writer = _HashingWriter(spooled)
            fill(writer)
            spooled.flush()
            spooled.seek(0)
            self.client.upload_fileobj(
                spooled, self.bucket, self._key(name),
                ExtraArgs={"ServerSideEncryption": "AES256"},
            )  # fmt: skip
        return Written(writer.size, writer.digest.hexdigest())

    @contextmanager
    def open(self, name: str) -> Iterator[Any]:
        body = self.client.get_object(Bucket=self.bucket, Key=self._key(name))["Body"]
        try:
            yield body
        finally:
            body.close()

    def open_sized(self, name: str) -> tuple[Any, int]:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        try:
            found = self.client.get_object(Bucket=self.bucket, Key=self._key(name))
        except (BotoCoreError, ClientError) as exc:
            raise BlobStoreError(f"blob {name} cannot be read: {type(exc).__name__}") from exc
        return found["Body"], int(found["ContentLength"])

    def size(self, name: str) -> int:
        head = self.client.head_object(Bucket=self.bucket, Key=self._key(name))
        return int(head["ContentLength"])

    def exists(self, name: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(name))
        except self.client.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return True

    def delete(self, name: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(name))


def parse_url(url: str) -> dict[str, str]:
    """``s3://bucket/prefix?endpoint=https://host:port&region=r`` → the config to keep."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise BlobStoreError(f"--blobs must be s3://bucket[/prefix][?endpoint=URL], not {url!r}")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    unknown = set(query) - {"endpoint", "region"}
    if unknown:
        raise BlobStoreError(f"--blobs: unknown option(s) {', '.join(sorted(unknown))}")
    prefix = parts.path.lstrip("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return {
        "kind": "s3",
        "bucket": parts.netloc,
        "prefix": prefix,
        "endpoint": query.get("endpoint", ""),
        "region": query.get("region", "us-east-1"),
    }


def write_config(root: Path, url: str) -> dict[str, str]:
    """Record the data directory's store (no credentials: boto3 takes them from its
    usual chain — environment, shared files, the instance's role)."""
    config = parse_url(url)
    path = root / CONFIG_NAME
    path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    path.chmod(0o600)
    return config


@functools.cache
def _s3_store(bucket: str, prefix: str, endpoint: str, region: str, spool: str) -> S3BlobStore:
    import boto3  # noqa: PLC0415 - only data directories on S3 load it
    from botocore.config import Config  # noqa: PLC0415

    client = boto3.client(
        "s3",
        endpoint_url=endpoint or None,
        region_name=region,
        config=Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 3},
            connect_timeout=5,
            read_timeout=30,
        ),
    )
    return S3BlobStore(client, bucket, prefix, Path(spool))


def store_for(root: Path, blob_dir: Path) -> BlobStore:
    """The store a data directory uses: its ``blobs.json``, else ``blob_dir``."""
    path = root / CONFIG_NAME
    if not path.exists():
        return FileBlobStore(blob_dir)
    try:
        config = json.loads(path.read_text())
        if config.get("kind") != "s3":
            raise BlobStoreError(f"{path}: unknown blob store kind {config.get('kind')!r}")
        return _s3_store(
            config["bucket"], config["prefix"], config["endpoint"], config["region"],
            str(root / "spool"),
        )  # fmt: skip
    except (ValueError, KeyError) as exc:
        raise BlobStoreError(f"{path} is not a blob store configuration") from exc
