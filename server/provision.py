"""Users, memberships and lookups by name (admin CLI and the demo use these).

Task assignment has its rules in :mod:`server.assignment`."""

from __future__ import annotations

import time

from sqlalchemy import Engine, insert, select

from app.wire.schemas import Role
from server import db, segment_meta
from server.ingest import new_id
from server.upsert import upsert
from server.vault import KeyVault


class ProvisionError(Exception):
    """An admin operation named something that does not exist."""


def ensure_user(engine: Engine, username: str, display_name: str, *, demo: bool = False) -> str:
    """Return the id of ``username``, creating the user if needed."""
    with engine.begin() as conn:
        row = conn.execute(select(db.users.c.id).where(db.users.c.username == username)).first()
        if row is not None:
            return str(row.id)
        user_id = new_id("usr")
        conn.execute(
            insert(db.users).values(
                id=user_id,
                username=username,
                display_name=display_name,
                is_demo=demo,
                created_at=int(time.time()),
            )
        )
        return user_id


def set_membership(engine: Engine, user_id: str, project_id: str, role: Role) -> None:
    """Give ``user_id`` ``role`` in ``project_id`` (replacing any earlier role)."""
    with engine.begin() as conn:
        values = {
            "user_id": user_id, "project_id": project_id, "role": role.value, "granted_by": None
        }  # fmt: skip
        upsert(conn, db.memberships, ["user_id", "project_id"], values)


def user_id_for(engine: Engine, username: str) -> str:
    """Look up a user id by name."""
    with engine.connect() as conn:
        row = conn.execute(select(db.users.c.id).where(db.users.c.username == username)).first()
    if row is None:
        raise ProvisionError(f"unknown user {username}")
    return str(row.id)


def segment_titled(engine: Engine, vault: KeyVault, project_id: str, title: str) -> str | None:
    """The id of the project's recording titled ``title`` (``None``: there is none).

    Titles are sealed: the lookup is by keyed digest (``server.segment_meta``).
    """
    with engine.connect() as conn:
        project_key = conn.execute(
            select(db.projects.c.wrapped_key).where(db.projects.c.id == project_id)
        ).scalar_one()
        found = conn.execute(
            select(db.segments.c.id)
            .where(segment_meta.titled(vault, project_id, project_key, title))
            .where(db.segments.c.erased_at.is_(None))
            .order_by(db.segments.c.created_at, db.segments.c.id)
        ).scalar()
    return str(found) if found is not None else None


def project_id_for(engine: Engine, ref: str) -> str:
    """A project named by its id or its name."""
    with engine.connect() as conn:
        row = conn.execute(
            select(db.projects.c.id).where((db.projects.c.id == ref) | (db.projects.c.name == ref))
        ).first()
    if row is None:
        raise ProvisionError(f"unknown project {ref}")
    return str(row.id)
