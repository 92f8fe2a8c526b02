"""Write a new schema revision file into ``server/migrations/versions``.

``python -m devtools.new_migration "what changes" [--empty]``

Run from anywhere in the repository after changing a table in ``server/db*.py`` or
``server/auditlog``: it upgrades a scratch SQLite database to the current head, lets
Alembic's autogenerate compare it with the metadata, and writes
``v<next>_<slug>.py`` with the operations it found (``--empty``: none, for a data
migration). Read and finish the file: autogenerate sees added and dropped tables,
columns and indexes, not renames, data to move, or what only PostgreSQL shows
(compare there with ``tests/server/test_migrations.py``'s PostgreSQL run). Then
``ruff format`` it and run the migration tests on both engines.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from pathlib import Path

from alembic import command

from server import db, migrations, schema_version


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="new_migration", description=__doc__)
    parser.add_argument("message", help="what the revision changes, one line")
    parser.add_argument("--empty", action="store_true", help="write no operations")
    args = parser.parse_args(argv)
    rev_id = f"{int(schema_version.head()) + 1:04d}"
    with tempfile.TemporaryDirectory(prefix="cordon-migration-") as scratch:
        engine = db.make_engine(Path(scratch) / "head.sqlite3")
        schema_version.upgrade(engine)
        cfg = migrations.config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            written = command.revision(
                cfg, message=args.message, autogenerate=not args.empty, rev_id=rev_id
            )
        engine.dispose()
    for script in written if isinstance(written, list) else [written]:
        if script is not None:
            print(script.path)  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
