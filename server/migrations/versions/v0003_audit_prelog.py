"""Mark the access events recorded before the data directory had an audit log.

Why: a data directory made before the audit log existed kept its access events
when a later version added the log's tables, but those events have no leaf, so
``audit verify`` failed on every one of them ("access event N has no audit leaf")
and could never pass again. Appending leaves for them now would be a false record:
a leaf says the event was logged, under the fail-closed rule, when it happened. So
this revision records, once, the events numbered below the first leaf's event (the
log's start): there are no others without a leaf in a directory that was never
tampered with, since every later event committed with its leaf. ``audit verify``
then counts them apart, and still fails on any event without a leaf after the
log began. A directory with no such events gets no row.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

# This revision's view of the tables it reads (never the live ones, which may change).
_events = sa.table("access_events", sa.column("seq", sa.Integer()))
_leaves = sa.table("audit_leaves", sa.column("event_seq", sa.Integer()))


def upgrade() -> None:
    prelog = op.create_table(
        "audit_prelog",
        sa.Column("through_seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("through_seq"),
    )
    conn = op.get_bind()
    first_logged = conn.execute(sa.select(sa.func.min(_leaves.c.event_seq))).scalar()
    before = sa.select(sa.func.max(_events.c.seq), sa.func.count())
    if first_logged is not None:
        before = before.where(_events.c.seq < first_logged)
    through, count = conn.execute(before).one()
    if count:
        conn.execute(
            sa.insert(prelog).values(
                through_seq=through, events=count, recorded_at=int(time.time())
            )
        )


def downgrade() -> None:
    op.drop_table("audit_prelog")
