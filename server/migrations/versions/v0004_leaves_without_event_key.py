"""The audit leaves no longer hold a foreign key to their access events.

Why: the key made the database look up the event row of every leaf as it was
inserted, inside the write lock: on PostgreSQL 4.5-8 µs per leaf row (measured
twice, alone: ``docs/performance.md``), 3-5 ms of the ~45 ms a 650-event group held
the lock, for a guarantee the code and ``audit verify`` already give. Each leaf is
written in the same transaction as its event, numbered from it under the lock; and
``audit verify`` joins every leaf to its event and fails on one whose event is
missing ("names access event N, not found") or differs, and on any event after the
log began that has no leaf. The key did not stop tampering either: whoever can
delete an event row can drop the key. ``UNIQUE(event_seq)`` stays (one leaf per
event, and the index a proof by event number reads).

SQLite cannot drop a constraint in place: the table is copied once (Alembic's
batch mode), which on a large log takes as long as copying its leaves. A database
without the key (made some other way) is left as it is. The downgrade puts the key
back, and fails if a leaf names an event that is gone (which ``audit verify``
reports).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

#: The key's name while this revision works on it: SQLite's is unnamed (the baseline
#: gave it none), and batch mode names reflected constraints with this convention.
_NAMING = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}
_SQLITE_NAME = "fk_audit_leaves_event_seq_access_events"


def upgrade() -> None:
    conn = op.get_bind()
    keys = [
        key
        for key in sa.inspect(conn).get_foreign_keys("audit_leaves")
        if key["referred_table"] == "access_events"
    ]
    if not keys:
        return
    if conn.dialect.name == "sqlite":
        with op.batch_alter_table(
            "audit_leaves", recreate="always", naming_convention=_NAMING
        ) as batch:
            batch.drop_constraint(_SQLITE_NAME, type_="foreignkey")
        return
    for key in keys:  # PostgreSQL names every constraint
        op.drop_constraint(str(key["name"]), "audit_leaves", type_="foreignkey")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("audit_leaves", recreate="always") as batch:
            batch.create_foreign_key(_SQLITE_NAME, "access_events", ["event_seq"], ["seq"])
        return
    op.create_foreign_key(
        "audit_leaves_event_seq_fkey", "audit_leaves", "access_events", ["event_seq"], ["seq"]
    )
