"""Ingest: encrypt an audio file into the blob store as a new segment.

The plaintext input is read once, one chunk at a time, and never copied: only
ciphertext is written, to a temporary name in the blob directory that is
fsynced and renamed into place. The file is probed with libsndfile first, so
anything Cordon cannot decode is refused at the door. The SHA-256 of the input
and of the ciphertext are kept for provenance; the title (the file's name) is
sealed, and the data subject, if named, is kept only as a keyed digest.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import soundfile as sf
from sqlalchemy import Connection, Engine, insert, select

from app.crypto.key_wrap import new_key
from app.crypto.segment_format import encrypt_stream
from server import data_classes, db, segment_meta
from server.datadir import DataDir
from server.vault import KeyVault

SUPPORTED_FORMATS = frozenset({"WAV", "FLAC", "OGG", "MP3"})


class IngestError(Exception):
    """The input cannot become a segment (unreadable, unsupported, unknown project)."""


@dataclass(frozen=True)
class IngestedSegment:
    segment_id: str
    project_id: str
    title: str
    ciphertext_bytes: int
    frames: int
    sample_rate: int
    channels: int


def new_id(prefix: str) -> str:
    """A random, URL-safe id with a readable prefix."""
    return f"{prefix}_{secrets.token_hex(8)}"


def ensure_project(engine: Engine, vault: KeyVault, name: str) -> str:
    """Return the id of project ``name``, creating it (with a fresh key) if needed."""
    with engine.begin() as conn:
        row = conn.execute(select(db.projects.c.id).where(db.projects.c.name == name)).first()
        if row is not None:
            return str(row.id)
        project_id = new_id("prj")
        conn.execute(
            insert(db.projects).values(
                id=project_id,
                name=name,
                wrapped_key=vault.new_project_key(project_id),
                created_at=int(time.time()),
            )
        )
        return project_id


@dataclass(frozen=True)
class SealedBlob:
    blob_name: str
    size: int
    wrapped_data_key: bytes
    plaintext_sha256: str
    ciphertext_sha256: str


class _HashingReader:
    """Reads through to ``source``, hashing every byte handed out."""

    def __init__(self, source: BinaryIO) -> None:
        self._source = source
        self.digest = hashlib.sha256()

    def readinto(self, out: memoryview) -> int:
        n = self._source.readinto(out)  # type: ignore[attr-defined]
        if n:
            self.digest.update(out[:n])
        return int(n or 0)

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(size)
        self.digest.update(data)
        return data


def seal_blob(
    data: DataDir,
    engine: Engine,
    vault: KeyVault,
    project_id: str,
    segment_id: str,
    source: BinaryIO,
    length: int,
) -> SealedBlob:
    """Encrypt ``length`` bytes of ``source`` under a fresh data key into the blob store.

    Only ciphertext reaches the blob store (which makes it appear whole or not at
    all, :mod:`server.blob_store`); the data key
    comes back wrapped under the project key.
    """
    with engine.connect() as conn:
        project = project_row(conn, project_id)
    blob_name = f"{segment_id}.seg"
    data_key = new_key()
    hashing = _HashingReader(source)

    def fill(sink: BinaryIO) -> None:
        encrypt_stream(
            data_key, hashing, sink, project_id=project_id,  # type: ignore[arg-type]
            segment_id=segment_id, plaintext_length=length,
        )  # fmt: skip

    written = data.blobs.write(blob_name, fill)
    wrapped = vault.wrap_data_key(project_id, project.wrapped_key, segment_id, data_key)
    return SealedBlob(blob_name, written.size, wrapped, hashing.digest.hexdigest(), written.sha256)


def insert_segment(
    conn: Connection, vault: KeyVault, project: Any, segment_id: str, title: str,
    sealed: SealedBlob, *, media_format: str, sample_rate: int, channels: int, frames: int,
    data_class: str | None = None, subject: str | None = None,
) -> None:  # fmt: skip
    """The segment's row: the title sealed, the subject a keyed digest, hashes kept."""
    sealed_title, title_ref = segment_meta.seal_title(
        vault, project.id, project.wrapped_key, segment_id, title[:256]
    )
    subject_ref = None
    if subject:
        subject_ref = segment_meta.ref(vault, project.id, project.wrapped_key, "subject", subject)
    conn.execute(
        insert(db.segments).values(
            id=segment_id, project_id=project.id, title="", sealed_title=sealed_title,
            title_ref=title_ref, subject_ref=subject_ref,
            data_class=data_classes.parse(data_class).value if data_class else None,
            wrapped_data_key=sealed.wrapped_data_key, blob_name=sealed.blob_name,
            ciphertext_bytes=sealed.size, media_format=media_format, sample_rate=sample_rate,
            channels=channels, frames=frames, created_at=int(time.time()),
            plaintext_sha256=sealed.plaintext_sha256, ciphertext_sha256=sealed.ciphertext_sha256,
        )
    )  # fmt: skip


def project_row(conn: Connection, project_id: str) -> Any:
    """The project's row; :class:`IngestError` if there is none or it was erased."""
    project = conn.execute(select(db.projects).where(db.projects.c.id == project_id)).first()
    if project is None:
        raise IngestError(f"unknown project {project_id}")
    if project.erased_at is not None:
        raise IngestError(f"project {project_id} was erased")
    return project


def ingest_file(
    data: DataDir, engine: Engine, vault: KeyVault, project_id: str, source: Path,
    *, data_class: str | None = None, subject: str | None = None,
) -> IngestedSegment:  # fmt: skip
    """Encrypt ``source`` into a new segment of ``project_id`` (``data_class``: stricter
    than the project's, if given; ``subject``: the data subject's id, kept as a digest)."""
    if data_class:
        data_classes.parse(data_class)  # refused before anything is written
    try:
        info = sf.info(str(source))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise IngestError(f"{source.name}: not a readable audio file") from exc
    if info.format not in SUPPORTED_FORMATS:
        raise IngestError(f"{source.name}: unsupported format {info.format}")
    segment_id = new_id("seg")
    with source.open("rb") as src:
        sealed = seal_blob(
            data, engine, vault, project_id, segment_id, src, os.fstat(src.fileno()).st_size
        )
    with engine.begin() as conn:
        insert_segment(
            conn, vault, project_row(conn, project_id), segment_id, source.stem, sealed,
            media_format=info.format, sample_rate=info.samplerate, channels=info.channels,
            frames=info.frames, data_class=data_class, subject=subject,
        )  # fmt: skip
    return IngestedSegment(
        segment_id, project_id, source.stem, sealed.size, info.frames, info.samplerate,
        info.channels,
    )  # fmt: skip
