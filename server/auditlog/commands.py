"""``cordon-server audit verify`` and ``cordon-server audit export``.

Both only read: they open the database without creating anything, so they can
run against a copy of a data directory on an auditor's machine. ``verify``
takes the verifier key to trust with ``--vkey``; pin a copy taken when the
server was set up, because the one inside the data directory could have been
replaced along with everything else.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from server import db
from server.auditlog import store
from server.auditlog.checkpoint import parse_verifier_key
from server.auditlog.merkle import leaf_hash
from server.auditlog.verify import default_vkey_path, verify
from server.datadir import DataDir, DataDirError


def _open(args: argparse.Namespace) -> tuple[DataDir, Engine]:
    data = DataDir(Path(args.data_dir).resolve())
    if not data.db_path.exists() and not data.database_url_path.exists():
        raise DataDirError(f"no Cordon database in {data.root}")
    return data, db.make_engine(data.database_url)


def cmd_verify(args: argparse.Namespace) -> int:
    data, engine = _open(args)
    vkey_path = Path(args.vkey) if args.vkey else default_vkey_path(data)
    try:
        verifier = parse_verifier_key(vkey_path.read_text().strip())
    except (OSError, ValueError) as exc:
        print(f"audit verify: cannot read the verifier key {vkey_path}: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    report = verify(data, engine, verifier)
    for problem in report.problems:
        print(f"FAIL {problem}")  # noqa: T201
    summary = f"{report.logs} logs, {report.leaves} leaves, {report.checkpoints} checkpoints"
    if report.before_log:
        summary += f" ({report.before_log} access events from before the audit log: in no log)"
    print(f"audit verify: {summary}: {'OK' if report.ok else 'FAILED'}")  # noqa: T201
    return 0 if report.ok else 1


def _no_constant(name: str) -> Any:
    """``NaN`` and ``Infinity`` are not JSON: a SIEM would choke on them."""
    raise ValueError(name)


@dataclass
class ExportProblems:
    """Rows ``audit export`` could not turn into records (the feed goes on past them)."""

    lines: list[str] = field(default_factory=list)


def export_rows(
    engine: Engine, log_id: str | None, after: int, problems: ExportProblems | None = None
) -> Iterator[dict[str, Any]]:
    """Leaves as SIEM records: the committed event, its hash, and the address if kept.

    Streamed (a log can be large). A leaf that is not a JSON object is not a
    record: it is added to ``problems`` by log and index and skipped, so one
    damaged row never stops the feed — and the command still fails at the end.
    """
    leaves, events = store.audit_leaves, db.access_events
    query = (
        select(leaves.c.log_id, leaves.c.idx, leaves.c.data, events.c.remote_addr)
        .join(events, events.c.seq == leaves.c.event_seq)
        .where(leaves.c.idx > after)
        .order_by(leaves.c.log_id, leaves.c.idx)
    )
    if log_id is not None:
        query = query.where(leaves.c.log_id == log_id)
    problems = problems if problems is not None else ExportProblems()
    with engine.connect() as conn:
        for row in conn.execution_options(stream_results=True).execute(query):
            try:
                data = bytes(row.data)
                event = json.loads(data, parse_constant=_no_constant)
                if not isinstance(event, dict):
                    raise TypeError("not an object")
            except (TypeError, ValueError):
                problems.lines.append(f"log {row.log_id!r} leaf {row.idx!r}: not a JSON object")
                continue
            yield {
                "log_id": row.log_id,
                "index": row.idx,
                "leaf_hash": leaf_hash(data).hex(),
                "event": event,
                "remote_addr": row.remote_addr,
            }


def cmd_export(args: argparse.Namespace) -> int:
    _data, engine = _open(args)
    problems = ExportProblems()
    for record in export_rows(engine, args.log, args.after, problems):
        sys.stdout.write(json.dumps(record, sort_keys=True, allow_nan=False) + "\n")
    for line in problems.lines:
        print(f"audit export: FAIL {line}", file=sys.stderr)  # noqa: T201
    if problems.lines:
        print(f"audit export: {len(problems.lines)} leaves not exported", file=sys.stderr)  # noqa: T201
        return 1
    return 0


def add_parser(
    sub: Any, with_data: Callable[[argparse.ArgumentParser], argparse.ArgumentParser]
) -> None:
    """Register ``audit verify`` and ``audit export`` under ``cordon-server``."""
    audit = sub.add_parser("audit", help="verify or export the audit log").add_subparsers(
        dest="audit_command", required=True
    )
    p = with_data(audit.add_parser("verify", help="recompute every tree, check every checkpoint"))
    p.add_argument("--vkey", help="pinned verifier key file (default: the data directory's)")
    p.set_defaults(func=cmd_verify)
    p = with_data(audit.add_parser("export", help="stream the log as JSON lines, for a SIEM"))
    p.add_argument("--log", help="only this log (a project id, or 'server')")
    p.add_argument("--after", type=int, default=-1, help="only leaves after this index")
    p.set_defaults(func=cmd_export)
