"""Gather a project's accepted work and lay it out as one export archive, in memory.

What goes out: every accepted task whose records were not erased, as its newest
handed-in revision (what the reviewer accepted), with the provenance chain of
its handed-in revisions; optionally the audio (FLAC, PII spans bleeped when
masked). Masking (``server.masking``) replaces every marked PII span — and every
pattern hit the annotators did not mark — with a per-export pseudonym, drops
titles (file names often carry a name), and bleeps the marked audio spans.

The archive is a tar built in memory (every member's time is the export's, so
the bytes depend on the content only) and is handed to ``server.exports.sealed``;
nothing here writes to disk. Memory: the archive and one decoded recording at a
time.
"""

from __future__ import annotations

import io
import json
import tarfile
import time
from dataclasses import dataclass, field
from typing import Any

import soundfile as sf
from sqlalchemy import Connection, select

from app.domain.label_document import LabelDocument, read_stored
from app.domain.project_schema import ProjectSchema
from server import data_classes, db, masking, project_schemas, provenance, segment_meta, task_keys
from server.api.task_lifecycle import newest_handed_in
from server.coded_error import CodedError
from server.context import ServerContext
from server.exports.eaf import eaf_bytes
from server.exports.items import ExportItem
from server.exports.jsonl import jsonl_lines
from server.exports.label_studio import label_studio_config, label_studio_tasks
from server.exports.textgrid import textgrid_bytes
from server.windows import decrypt_segment

FORMATS = ("jsonl", "eaf", "textgrid", "label-studio")
#: Why labels leave Cordon: a closed list, so the audit leaf names it without free text.
PURPOSES = ("training", "evaluation", "interchange", "legal", "audit")


class ExportError(CodedError):
    """An export that cannot be made as asked; ``code`` is stable for scripts."""


@dataclass(frozen=True)
class ExportRequest:
    project_id: str
    fmt: str
    masked: bool
    audio: bool
    purpose: str
    schema_version: int | None = None


@dataclass
class Built:
    """The archive and what it holds (counts and ids only)."""

    archive: bytes
    export_id: str
    created_at: int
    tasks: list[str] = field(default_factory=list)
    audio_files: int = 0
    schema_version: int | None = None
    data_class: str = ""

    @property
    def data_class_enum(self) -> data_classes.DataClass:
        return data_classes.parse(self.data_class)


def check(conn: Connection, req: ExportRequest) -> data_classes.DataClass:
    """Refuse what the request or the project's data class does not allow."""
    if req.fmt not in FORMATS:
        raise ExportError("unknown_format", f"format must be one of {', '.join(FORMATS)}")
    if req.purpose not in PURPOSES:
        raise ExportError("unknown_purpose", f"purpose must be one of {', '.join(PURPOSES)}")
    project = conn.execute(select(db.projects).where(db.projects.c.id == req.project_id)).first()
    if project is None:
        raise ExportError("unknown_project", f"no project {req.project_id}")
    if project.erased_at is not None:
        raise ExportError("erased", "the project was erased")
    data_class = data_classes.of_project(conn, req.project_id)
    if data_classes.controls(data_class).exports_masked and not req.masked:
        raise ExportError(
            "class_refused", f"{data_class.value} projects are exported masked only (--masked)"
        )
    return data_class


def _documents(
    ctx: ServerContext, conn: Connection, project: Any, req: ExportRequest
) -> list[tuple[Any, LabelDocument]]:
    tasks = conn.execute(
        select(db.tasks, db.segments.c.frames)
        .join(db.segments, db.segments.c.id == db.tasks.c.segment_id)
        .where(
            db.tasks.c.project_id == req.project_id,
            db.tasks.c.status == "accepted",
            db.tasks.c.erased_at.is_(None),
        )
        .order_by(db.tasks.c.created_at, db.tasks.c.id)
    ).all()
    out = []
    for task in tasks:
        revision = newest_handed_in(conn, task.id)
        row = conn.execute(
            select(db.labels).where(
                db.labels.c.task_id == task.id, db.labels.c.revision == revision
            )
        ).first()
        if row is None:
            continue
        stored = task_keys.open_stored_label(ctx.vault, project, task, row)
        document = read_stored(stored, int(task.frames))
        if req.schema_version is not None and document.schema_version != req.schema_version:
            continue
        out.append((task, document))
    return out


def _schema(conn: Connection, req: ExportRequest, docs: list[LabelDocument]) -> ProjectSchema:
    versions = sorted({d.schema_version for d in docs})
    if len(versions) > 1 and req.fmt != "jsonl":
        raise ExportError(
            "schema_mixed",
            f"the accepted tasks were labelled under schema versions {versions}: "
            "export one version at a time (--schema-version N)",
        )
    loaded = project_schemas.load(conn, req.project_id, versions[0] if versions else 0)
    return loaded[0] if loaded is not None else ProjectSchema()


def _audio(
    ctx: ServerContext, project: Any, segment: Any, document: LabelDocument, masked: bool
) -> bytes:
    """The recording as FLAC, with PII spans bleeped when masked (in memory only)."""
    plaintext = decrypt_segment(ctx, project, segment)
    try:
        with sf.SoundFile(io.BytesIO(plaintext)) as source:
            samples = source.read(dtype="int16", always_2d=True)
            rate = source.samplerate
    finally:
        plaintext[:] = bytes(len(plaintext))
    if masked:
        spans = masking.audio_spans(document) + masking.unmarked_hit_spans(document)
        bleeped = masking.bleep(samples, rate, spans)
        samples.fill(0)
        samples = bleeped
    out = io.BytesIO()
    sf.write(out, samples, rate, format="FLAC", subtype="PCM_16")
    samples.fill(0)
    return out.getvalue()


def build(ctx: ServerContext, req: ExportRequest, export_id: str) -> Built:
    """The export's archive (``manifest.jsonl`` always, the format's files, audio)."""
    created_at = int(time.time())
    pseudonyms = masking.Pseudonymizer()  # a fresh key: tokens unlinkable across exports
    with ctx.engine.connect() as conn:
        data_class = check(conn, req)
        project = conn.execute(select(db.projects).where(db.projects.c.id == req.project_id)).one()
        docs = _documents(ctx, conn, project, req)
        # A recording stricter than its project makes the whole export follow it.
        data_class = data_classes.stricter(
            data_class.value, *(data_classes.of_segment(conn, t.segment_id).value for t, _ in docs)
        )
        if data_classes.controls(data_class).exports_masked and not req.masked:
            raise ExportError(
                "class_refused",
                f"the project holds {data_class.value} recordings: exported masked only (--masked)",
            )
        schema = _schema(conn, req, [d for _, d in docs])
        categories = [c.name for c in schema.pii]
        items: list[ExportItem] = []
        files: dict[str, bytes] = {}
        for task, original in docs:
            segment = conn.execute(
                select(db.segments).where(db.segments.c.id == task.segment_id)
            ).one()
            document = original
            if req.masked:
                document = masking.mask_document(original, pseudonyms, categories=categories)
            audio_ref = None
            if req.audio and segment.erased_at is None and segment.media_format != "COMPARISON":
                audio_ref = f"audio/{task.id}.flac"
                # the original's spans: masking keeps them, and its pattern pass is not
                # needed to find which segments hold unmarked hits
                files[audio_ref] = _audio(ctx, project, segment, original, req.masked)
            title = "" if req.masked else segment_meta.title(
                ctx.vault, project.id, project.wrapped_key, segment
            )  # fmt: skip
            items.append(
                ExportItem(
                    task_id=str(task.id), segment_id=str(segment.id), title=title,
                    sample_rate=int(segment.sample_rate), frames=int(segment.frames),
                    channels=int(segment.channels), document=document, audio_ref=audio_ref,
                    provenance=_provenance(conn, str(task.id), masked=req.masked),
                )
            )  # fmt: skip
    files["manifest.jsonl"] = jsonl_lines(items)
    if req.fmt == "eaf":
        for item in items:
            files[f"eaf/{item.task_id}.eaf"] = eaf_bytes(item, schema)
    elif req.fmt == "textgrid":
        for item in items:
            files[f"textgrid/{item.task_id}.TextGrid"] = textgrid_bytes(item, schema)
    elif req.fmt == "label-studio":
        files["label-studio/config.xml"] = label_studio_config(schema).encode("utf-8")
        files["label-studio/tasks.json"] = label_studio_tasks(items, schema)
    audio_files = sum(1 for i in items if i.audio_ref)
    summary = {
        "export_id": export_id, "project_id": req.project_id, "created_at": created_at,
        "format": req.fmt, "masked": req.masked, "purpose": req.purpose,
        "data_class": data_class.value, "tasks": len(items),
        "schema_version": schema.version, "audio_files": audio_files,
    }  # fmt: skip
    files["export.json"] = json.dumps(summary, indent=2, sort_keys=True).encode()
    return Built(
        archive=_tar(files, created_at), export_id=export_id, created_at=created_at,
        tasks=[i.task_id for i in items], audio_files=audio_files,
        schema_version=schema.version, data_class=data_class.value,
    )  # fmt: skip


#: What a masked export leaves out of provenance: people's user names (ids stay) and the
#: plaintext hash, which would confirm which recording it was to whoever holds it.
_MASKED_OUT = frozenset({"author", "plaintext_sha256", "segment_plaintext_sha256"})


def _provenance(conn: Connection, task_id: str, *, masked: bool) -> dict[str, Any]:
    record: dict[str, Any] = provenance.task_record(conn, task_id)
    record["revisions"] = [r.as_dict() for r in provenance.chain(conn, task_id, drafts=False)]
    if masked:
        record = {k: v for k, v in record.items() if k not in _MASKED_OUT}
        record["revisions"] = [
            {k: v for k, v in r.items() if k not in _MASKED_OUT} for r in record["revisions"]
        ]
    return record


def _tar(files: dict[str, bytes], mtime: int) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(files[name]), mtime, 0o600
            tar.addfile(info, io.BytesIO(files[name]))
    return out.getvalue()
