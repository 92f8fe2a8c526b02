"""Ingest: encrypt an audio file into the blob store as a new segment.

The plaintext input is read once, one chunk at a time, and never copied: only
ciphertext is written, to a temporary name in the blob directory that is
fsynced and renamed into place. The file is probed with libsndfile first, so
anything Cordon cannot decode is refused at the door.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import soundfile as sf
from sqlalchemy import Engine, insert, select

from app.crypto.key_wrap import new_key
from app.crypto.segment_format import encrypt_stream
from server import db
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

    Only ciphertext is written (to a temporary name, fsynced, renamed); the data key
    comes back wrapped under the project key.
    """
    with engine.connect() as conn:
        project = conn.execute(select(db.projects).where(db.projects.c.id == project_id)).first()
    if project is None:
        raise IngestError(f"unknown project {project_id}")
    blob_name = f"{segment_id}.seg"
    final = data.blob_dir / blob_name
    partial = data.blob_dir / f".{blob_name}.partial"
    data_key = new_key()
    with partial.open("wb") as sink:
        encrypt_stream(
            data_key, source, sink, project_id=project_id, segment_id=segment_id,
            plaintext_length=length,
        )  # fmt: skip
        sink.flush()
        os.fsync(sink.fileno())
    os.replace(partial, final)
    wrapped = vault.wrap_data_key(project_id, project.wrapped_key, segment_id, data_key)
    return SealedBlob(blob_name, final.stat().st_size, wrapped)


def ingest_file(
    data: DataDir, engine: Engine, vault: KeyVault, project_id: str, source: Path
) -> IngestedSegment:
    """Encrypt ``source`` into a new segment of ``project_id``."""
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
        conn.execute(
            insert(db.segments).values(
                id=segment_id,
                project_id=project_id,
                title=source.stem[:256],
                wrapped_data_key=sealed.wrapped_data_key,
                blob_name=sealed.blob_name,
                ciphertext_bytes=sealed.size,
                media_format=info.format,
                sample_rate=info.samplerate,
                channels=info.channels,
                frames=info.frames,
                created_at=int(time.time()),
            )
        )
    return IngestedSegment(
        segment_id, project_id, source.stem, sealed.size, info.frames, info.samplerate,
        info.channels,
    )  # fmt: skip
