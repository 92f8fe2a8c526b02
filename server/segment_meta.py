"""A recording's metadata at rest: its title sealed, its lookups by keyed digest.

Titles are often the original file name ("2026-03-04 J. Smith card dispute.wav"),
so the database keeps none: the title is sealed under the project key (bound to
the project and the recording) and a keyed digest of it (``title_ref``) answers
"is this file already ingested" and "which recording is called X". The same
digest, under its own purpose, names a data subject (``subject_ref``) so an
erasure request can find a person's recordings without the database holding the
person's id. Rows from before this was built keep their clear ``title`` and are
read as they are.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from sqlalchemy import ColumnElement, Engine, select, update

from app.crypto.errors import CryptoError
from server import db
from server.vault import KeyVault

_KIND = "title"
#: What a title shows once the recording was erased, or if its seal is damaged.
ERASED_TITLE = "(erased)"
DAMAGED_TITLE = "(title unreadable)"


def ref(vault: KeyVault, project_id: str, project_key: bytes, purpose: str, value: str) -> str:
    """A keyed digest of ``value`` for lookups (HMAC-SHA256 under a project-key subkey)."""
    key = vault.index_key(project_id, project_key, purpose)
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def seal_title(
    vault: KeyVault, project_id: str, project_key: bytes, segment_id: str, title: str
) -> tuple[bytes, str]:
    """The sealed title and its ``title_ref``."""
    sealed = vault.seal_record(
        project_id, project_key, _KIND, segment_id, segment_id, title.encode("utf-8")
    )
    return sealed, ref(vault, project_id, project_key, _KIND, title)


def title(vault: KeyVault, project_id: str, project_key: bytes, segment: Any) -> str:
    """The title of a segment row (``id``, ``title``, ``sealed_title``, ``erased_at``)."""
    return opened_title(
        vault, project_id, project_key, str(segment.id), segment.title, segment.sealed_title,
        getattr(segment, "erased_at", None),
    )  # fmt: skip


def opened_title(
    vault: KeyVault, project_id: str, project_key: bytes, segment_id: str,
    clear: str | None, sealed: bytes | None, erased_at: int | None,
) -> str:  # fmt: skip
    """A recording's title from its columns: opened if sealed, as stored if older."""
    if erased_at is not None:
        return ERASED_TITLE
    if sealed is None:
        return str(clear or "")
    try:
        opened = vault.open_record(
            project_id, project_key, _KIND, segment_id, segment_id, bytes(sealed)
        )
    except (CryptoError, ValueError):
        return DAMAGED_TITLE
    return opened.decode("utf-8")


def seal_clear_titles(vault: KeyVault, engine: Engine) -> int:
    """Seal the titles a data directory made before titles were sealed; how many.

    Run at every open (a no-op once done): one transaction per project, so a title
    is either clear or sealed with its digest, never half-moved.
    """
    sealed = 0
    with engine.connect() as conn:
        projects = conn.execute(
            select(db.projects.c.id, db.projects.c.wrapped_key)
            .where(db.projects.c.erased_at.is_(None))
            .where(
                db.projects.c.id.in_(
                    select(db.segments.c.project_id).where(
                        db.segments.c.sealed_title.is_(None),
                        db.segments.c.title != "",
                        db.segments.c.erased_at.is_(None),
                    )
                )
            )
        ).all()
    for project in projects:
        with engine.begin() as conn:
            rows = conn.execute(
                select(db.segments.c.id, db.segments.c.title).where(
                    db.segments.c.project_id == project.id,
                    db.segments.c.sealed_title.is_(None),
                    db.segments.c.title != "",
                )
            ).all()
            for row in rows:
                blob, digest = seal_title(
                    vault, project.id, project.wrapped_key, row.id, str(row.title)
                )
                conn.execute(
                    update(db.segments)
                    .where(db.segments.c.id == row.id)
                    .values(title="", sealed_title=blob, title_ref=digest)
                )
                sealed += 1
    return sealed


def titled(vault: KeyVault, project_id: str, project_key: bytes, name: str) -> ColumnElement[bool]:
    """A WHERE clause for the project's recordings titled ``name`` (sealed or older)."""
    digest = ref(vault, project_id, project_key, _KIND, name)
    return (db.segments.c.project_id == project_id) & (
        (db.segments.c.title_ref == digest)
        | (db.segments.c.sealed_title.is_(None) & (db.segments.c.title == name))
    )
