"""Project schemas on the server: apply a new version, read the one a document names.

Applying is all or nothing: the file is validated completely
(:func:`app.domain.project_schema.parse_schema`) before anything is written,
and the new version row and its audit leaf commit in one transaction. A file
identical to the current version applies nothing (no new version).
"""

from __future__ import annotations

import hashlib
import json
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select

from app.domain.project_schema import ProjectSchema, SchemaError, from_wire, parse_schema
from app.wire.project_schema import ProjectSchemaWire
from app.wire.schemas import AccessAction
from server import audit, db


@dataclass(frozen=True)
class Applied:
    version: int
    changed: bool


def read_file(path: Path) -> Any:
    """A schema file as data: TOML for ``.toml``, JSON otherwise; a parse error names the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SchemaError("$", f"cannot read {path.name}: {exc}") from None
    try:
        if path.suffix.lower() == ".toml":
            return tomllib.loads(text)
        return json.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SchemaError("$", f"not valid TOML: {exc}") from None
    except json.JSONDecodeError as exc:
        raise SchemaError("$", f"not valid JSON: {exc.msg} at line {exc.lineno}") from None


def _canonical(wire: ProjectSchemaWire) -> bytes:
    return json.dumps(wire.model_dump(mode="json"), sort_keys=True, separators=(",", ":")).encode()


def apply_schema(engine: Engine, project_id: str, data: Any, actor: audit.Actor) -> Applied:
    """Validate ``data`` (loaded JSON/TOML) and store it as the project's next version.

    Raises :class:`app.domain.project_schema.SchemaError` (with the JSON path) before
    anything is written.
    """
    parse_schema(data)  # every rule, so nothing is half-applied
    wire = ProjectSchemaWire.model_validate(data)
    body = _canonical(wire)
    digest = hashlib.sha256(body).hexdigest()
    with engine.begin() as conn:
        current = conn.execute(
            select(db.project_schemas.c.version, db.project_schemas.c.digest)
            .where(db.project_schemas.c.project_id == project_id)
            .order_by(db.project_schemas.c.version.desc())
            .limit(1)
        ).first()
        if current is not None and current.digest == digest:
            return Applied(int(current.version), changed=False)
        version = (int(current.version) if current is not None else 0) + 1
        conn.execute(
            insert(db.project_schemas).values(
                project_id=project_id,
                version=version,
                body=body,
                digest=digest,
                created_at=int(time.time()),
            )
        )
        audit.record(
            conn, actor, AccessAction.SCHEMA_APPLIED, reason=f"version_{version}",
            project_id=project_id,
        )  # fmt: skip
    return Applied(version, changed=True)


def current_version(conn: Connection, project_id: str) -> int:
    """The project's newest schema version (0: it declared none)."""
    value = conn.execute(
        select(func.max(db.project_schemas.c.version)).where(
            db.project_schemas.c.project_id == project_id
        )
    ).scalar()
    return int(value or 0)


def load(
    conn: Connection, project_id: str, version: int
) -> tuple[ProjectSchema, ProjectSchemaWire] | None:
    """Schema ``version`` of the project (version 0 is the empty schema); ``None`` if unknown."""
    if version == 0:
        return ProjectSchema(), ProjectSchemaWire()
    body = conn.execute(
        select(db.project_schemas.c.body).where(
            db.project_schemas.c.project_id == project_id,
            db.project_schemas.c.version == version,
        )
    ).scalar()
    if body is None:
        return None
    wire = ProjectSchemaWire.model_validate_json(body)
    return from_wire(wire, version), wire
