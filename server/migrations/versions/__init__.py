"""Revision files, oldest first by ``down_revision``; Alembic skips this ``__init__``."""
