"""RLHF comparisons on the server: ingest a manifest, and know each task's outputs.

``cordon-server ingest --project P --comparison manifest.json`` reads a manifest
naming the prompt and the model outputs (text inline, audio as files next to
it), builds one bundle (:mod:`app.domain.comparison`) and seals it exactly like
a segment: a fresh data key, chunked AES-256-GCM, only ciphertext on disk, the
key wrapped under the project key. The ``comparisons`` table keeps what the
server needs to check a label document — the kind and the output ids — which
are names, not content.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import soundfile as sf
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Connection, Engine, insert, select

from app.domain.comparison import build_bundle
from app.domain.project_schema import json_path
from app.wire.comparison import (
    MAX_OUTPUT_TEXT,
    MAX_OUTPUTS,
    AudioPart,
    BundleHeader,
    ContentWire,
    OutputWire,
)
from app.wire.label_document import Name
from server import db
from server.datadir import DataDir
from server.ingest import (
    SUPPORTED_FORMATS,
    IngestedSegment,
    IngestError,
    insert_segment,
    new_id,
    project_row,
    seal_blob,
)
from server.vault import KeyVault

MAX_AUDIO_BYTES = 256 << 20


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ManifestContent(_Strict):
    text: Annotated[str, Field(max_length=MAX_OUTPUT_TEXT)] | None = None
    #: An audio file, relative to the manifest.
    audio: Annotated[str, Field(min_length=1, max_length=512)] | None = None


class ManifestOutput(ManifestContent):
    id: Name


class Manifest(_Strict):
    kind: Literal["pairwise", "ranking"]
    title: Annotated[str, Field(min_length=1, max_length=256)]
    prompt: ManifestContent
    outputs: Annotated[list[ManifestOutput], Field(min_length=2, max_length=MAX_OUTPUTS)]


@dataclass(frozen=True)
class TaskOutputs:
    """What a label document of this task may compare."""

    kind: str  # "transcription", "pairwise" or "ranking"
    output_ids: tuple[str, ...] = ()


def outputs_of(conn: Connection, segment_id: str) -> TaskOutputs:
    row = conn.execute(
        select(db.comparisons.c.kind, db.comparisons.c.output_ids).where(
            db.comparisons.c.segment_id == segment_id
        )
    ).first()
    if row is None:
        return TaskOutputs("transcription")
    return TaskOutputs(str(row.kind), tuple(json.loads(row.output_ids)))


class _Audio:
    """The audio parts of a bundle, appended one after another."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.buffer = io.BytesIO()

    def add(self, name: str | None, where: str) -> AudioPart | None:
        if name is None:
            return None
        path = (self.base / name).resolve()
        try:
            info = sf.info(str(path))
            data = path.read_bytes()
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            raise IngestError(f"{where}.audio: not a readable audio file") from exc
        if info.format not in SUPPORTED_FORMATS:
            raise IngestError(f"{where}.audio: unsupported format {info.format}")
        if self.buffer.tell() + len(data) > MAX_AUDIO_BYTES:
            raise IngestError(f"{where}.audio: the bundle would pass {MAX_AUDIO_BYTES >> 20} MiB")
        offset = self.buffer.tell()
        self.buffer.write(data)
        return AudioPart(offset=offset, length=len(data))


def read_manifest(path: Path) -> Manifest:
    try:
        return Manifest.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise IngestError(f"{path.name}: cannot read it: {exc.strerror}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        raise IngestError(
            f"{path.name}: {json_path(tuple(first['loc']))}: {first['msg']}"
        ) from None


def ingest_comparison(
    data: DataDir, engine: Engine, vault: KeyVault, project_id: str, manifest_path: Path
) -> IngestedSegment:
    """Seal the prompt and outputs a manifest names into one new comparison of ``project_id``."""
    manifest = read_manifest(manifest_path)
    audio = _Audio(manifest_path.parent)

    def content(wire: ManifestContent, where: str) -> ContentWire:
        if wire.text is None and wire.audio is None:
            raise IngestError(f"{where}: text, audio or both")
        return ContentWire(text=wire.text, audio=audio.add(wire.audio, where))

    prompt = content(manifest.prompt, "$.prompt")
    outputs = []
    for i, out in enumerate(manifest.outputs):
        part = content(out, f"$.outputs[{i}]")
        outputs.append(OutputWire(id=out.id, text=part.text, audio=part.audio))
    try:
        header = BundleHeader(kind=manifest.kind, prompt=prompt, outputs=outputs)
    except ValidationError as exc:
        raise IngestError(f"{manifest_path.name}: {exc.errors()[0]['msg']}") from None
    plaintext = build_bundle(header, audio.buffer.getvalue())
    segment_id = new_id("seg")
    sealed = seal_blob(data, engine, vault, project_id, segment_id, io.BytesIO(plaintext),
                       len(plaintext))  # fmt: skip
    with engine.begin() as conn:
        insert_segment(
            conn, vault, project_row(conn, project_id), segment_id, manifest.title, sealed,
            media_format="COMPARISON", sample_rate=1, channels=0, frames=0,
        )  # fmt: skip
        conn.execute(
            insert(db.comparisons).values(
                segment_id=segment_id,
                kind=manifest.kind,
                output_ids=json.dumps([o.id for o in manifest.outputs]),
            )
        )
    return IngestedSegment(segment_id, project_id, manifest.title, sealed.size, 0, 1, 0)
