"""Cordon's versioned schema migrations (Alembic), run by :mod:`server.schema_version`.

``env.py`` and ``versions/`` are read by Alembic from this package's directory;
nothing here relies on an ``alembic.ini`` or on the working directory.
"""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config

#: The directory Alembic reads ``env.py``, ``script.py.mako`` and ``versions/`` from.
SCRIPT_LOCATION = Path(__file__).resolve().parent


def config() -> Config:
    """Alembic's configuration for Cordon, built in code (no ini file, any cwd).

    Revision files are named ``v<rev>_<slug>.py``: a module name may not start with a
    digit, and ruff and mypy check these files like any other server module.
    """
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPT_LOCATION))
    cfg.set_main_option("file_template", "v%%(rev)s_%%(slug)s")
    return cfg
