"""PostgreSQL: the access-event and revocation numbers become 64-bit, like every integer.

Why: ``server/dialect.py`` creates every ``Integer`` column ``BIGINT`` on PostgreSQL,
but an autoincrementing primary key is created ``SERIAL`` before that rule applies:
``access_events.seq`` and ``revocations.seq`` were 32-bit ``integer`` columns (and
sequences) in every PostgreSQL database, so the audit trail would stop at 2**31 - 1
events. Alembic's comparison of a fresh database with the metadata showed it. On
SQLite ``INTEGER`` is already 64 bits: nothing to do.

The ``ALTER … TYPE`` rewrites each table under an exclusive lock: on a large
``access_events`` the upgrade takes as long as copying it, once.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

_NUMBERED = (("access_events", "seq"), ("revocations", "seq"))


def _retype(wider: bool) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    new, old = (sa.BigInteger(), sa.INTEGER()) if wider else (sa.INTEGER(), sa.BigInteger())
    for table, column in _NUMBERED:
        op.alter_column(table, column, type_=new, existing_type=old, existing_nullable=False)
        spelled = "BIGINT" if wider else "INTEGER"
        # The sequence's name as PostgreSQL gives it (schema-qualified, quoted if need be).
        sequence = (
            op.get_bind()
            .execute(
                sa.text("SELECT pg_get_serial_sequence(:table, :column)"),
                {"table": table, "column": column},
            )
            .scalar_one()
        )
        op.execute(f"ALTER SEQUENCE {sequence} AS {spelled}")


def upgrade() -> None:
    _retype(wider=True)


def downgrade() -> None:
    _retype(wider=False)
