"""Windowed tasks: an annotator gets only a stretch of a longer recording (least exposure).

A window is cut on the server, once, when the task is made: the stored recording is
decrypted in memory, the window's frames are encoded as lossless FLAC and sealed as a
segment of its own under a fresh data key (``segment_windows`` names its source and
its frames there). The task is an ordinary task on that segment, so every existing
route — key grant, the encrypted stream, labels, coverage — serves the window and
nothing else: audio outside it never leaves the server, and a client cannot seek to
what it never received.

Why a cut and not a byte range of the stored blob: the blob is the ingested file as it
was (FLAC, Ogg, MP3 …) in 1 MiB encrypted chunks; a chunk is a byte range of a
compressed stream, which cannot be decoded without what came before it. Serving a
range would either fail to decode or send more than the window.

The plaintext is held in ``bytearray`` buffers that are zeroed when the cut is done;
soundfile's decode and encode pass through ``bytes`` and numpy arrays the server does
not control (as at ingest, where the source file is plaintext anyway).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import soundfile as sf
from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from app.crypto.segment_format import SegmentDecryptor
from server import db, segment_meta
from server.blob_store import pieces
from server.context import ServerContext
from server.ingest import SealedBlob, insert_segment, new_id, seal_blob

#: A window shorter than this is refused (a second of speech is the least worth a task).
MIN_WINDOW_S = 1.0


class WindowError(Exception):
    """A window that cannot be cut (outside the recording, too short, a comparison)."""


@dataclass(frozen=True)
class Window:
    segment_id: str
    source_segment_id: str
    start_frame: int
    end_frame: int
    title: str


def _clock(frames: int, rate: int) -> str:
    seconds = frames // rate
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


def window_of(conn: Connection, segment_id: str) -> Any:
    """The ``segment_windows`` row of a cut segment, else ``None``."""
    return conn.execute(
        select(db.segment_windows).where(db.segment_windows.c.segment_id == segment_id)
    ).first()


def decrypt_segment(ctx: ServerContext, project: Any, seg: Any) -> bytearray:
    data_key = ctx.vault.data_key(project.id, project.wrapped_key, seg.id, seg.wrapped_data_key)
    holder: list[bytearray] = []

    def allocate(size: int) -> memoryview:
        holder.append(bytearray(size))
        return memoryview(holder[0])

    decryptor = SegmentDecryptor(
        data_key, project_id=project.id, segment_id=seg.id, allocate=allocate
    )
    for chunk in pieces(ctx.data.blobs, str(seg.blob_name)):
        decryptor.feed(chunk)
    decryptor.finish()
    return holder[0]


def cut(ctx: ServerContext, source_segment_id: str, start_s: float, end_s: float) -> Window:
    """Seal frames [start, end) of a stored recording as a segment of its own (once: the
    same window asked for again is the segment already cut, so two annotators of one
    window are a double annotation of one recording)."""
    with ctx.engine.connect() as conn:
        seg = conn.execute(select(db.segments).where(db.segments.c.id == source_segment_id)).first()
        if seg is None:
            raise WindowError(f"no recording {source_segment_id}")
        if seg.erased_at is not None:
            raise WindowError("the recording's audio was erased")
        compared = conn.execute(
            select(db.comparisons.c.kind).where(db.comparisons.c.segment_id == seg.id)
        ).first()
        if compared is not None:
            raise WindowError("an RLHF comparison has no audio timeline to window")
        if window_of(conn, seg.id) is not None:
            raise WindowError("the recording is itself a window; cut from its source")
        rate = int(seg.sample_rate)
        start, end = round(start_s * rate), round(end_s * rate)
        if not 0 <= start < end <= int(seg.frames):
            raise WindowError(
                f"the window must lie within the recording (0 to {seg.frames / rate:.1f} s)"
            )
        if end - start < MIN_WINDOW_S * rate:
            raise WindowError(f"a window is at least {MIN_WINDOW_S:g} s long")
        project = conn.execute(select(db.projects).where(db.projects.c.id == seg.project_id)).one()
        same = _same(ctx, conn, project, seg.id, start, end)  # the same window: the same segment
        if same is not None:
            return same
    plaintext = decrypt_segment(ctx, project, seg)
    encoded = io.BytesIO()
    try:
        with sf.SoundFile(io.BytesIO(plaintext)) as source:
            source.seek(start)
            frames = source.read(end - start, dtype="int16", always_2d=True)
        channels = int(frames.shape[1])
        sf.write(encoded, frames, rate, format="FLAC", subtype="PCM_16")
        frames.fill(0)
    finally:
        plaintext[:] = bytes(len(plaintext))
    segment_id = new_id("seg")
    size = len(encoded.getbuffer())
    encoded.seek(0)
    sealed = seal_blob(ctx.data, ctx.engine, ctx.vault, project.id, segment_id, encoded, size)
    encoded.seek(0)
    encoded.write(bytes(size))  # the encoded window, zeroed before it is dropped
    source_title = segment_meta.title(ctx.vault, project.id, project.wrapped_key, seg)
    title = f"{source_title} {_clock(start, rate)}-{_clock(end, rate)}"[:256]
    try:
        with ctx.engine.begin() as conn:
            _record(ctx, conn, segment_id, seg, project, title, sealed, start, end, channels)
    except IntegrityError:
        # Cut at the same moment by another request: theirs is the window, this blob goes.
        ctx.data.blobs.delete(sealed.blob_name)
        with ctx.engine.connect() as conn:
            winner = _same(ctx, conn, project, seg.id, start, end)
        if winner is None:
            raise
        return winner
    return Window(segment_id, seg.id, start, end, title)


def _same(
    ctx: ServerContext, conn: Connection, project: Any, source_id: str, start: int, end: int
) -> Window | None:
    row = conn.execute(
        select(db.segment_windows, db.segments)
        .join(db.segments, db.segments.c.id == db.segment_windows.c.segment_id)
        .where(
            db.segment_windows.c.source_segment_id == source_id,
            db.segment_windows.c.start_frame == start,
            db.segment_windows.c.end_frame == end,
        )
    ).first()
    if row is None:
        return None
    title = segment_meta.title(ctx.vault, project.id, project.wrapped_key, row)
    return Window(row.segment_id, source_id, start, end, title)


def _record(
    ctx: ServerContext, conn: Connection, segment_id: str, seg: Any, project: Any, title: str,
    sealed: SealedBlob, start: int, end: int, channels: int,
) -> None:  # fmt: skip
    """The cut's segment row and its window row (the pair is unique per source span)."""
    insert_segment(
        conn, ctx.vault, project, segment_id, title, sealed, media_format="FLAC",
        sample_rate=int(seg.sample_rate), channels=channels, frames=end - start,
        data_class=seg.data_class, subject=None,
    )  # fmt: skip
    if seg.subject_ref is not None:  # the cut is the same person's recording
        conn.execute(
            update(db.segments)
            .where(db.segments.c.id == segment_id)
            .values(subject_ref=seg.subject_ref)
        )
    conn.execute(
        insert(db.segment_windows).values(
            segment_id=segment_id, source_segment_id=seg.id, start_frame=start, end_frame=end
        )
    )
