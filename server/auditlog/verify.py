"""``cordon-server audit verify``: recompute every tree and check every checkpoint.

Read-only. For each log it checks that

- leaf indices run 0, 1, 2, … with none missing, repeated or out of place;
- every leaf is the canonical encoding of the access event it names, and every
  access event has exactly one leaf, in its project's log (except the events a
  data directory recorded before it had an audit log, which schema revision 0003
  marked once: they are counted and reported apart, as in no log);
- the stored head equals the tree recomputed from the leaves, and so does every
  stored tile of interior hashes (what proofs are served from);
- every checkpoint (in the database and every exported file) carries a valid
  signature by the pinned audit key, names this log, and commits to the root
  recomputed from the stored leaves at its size.

Each failure is reported with the log and the leaf index or checkpoint size
where it was found. Every stored byte is treated as hostile: a leaf that is
not JSON, a row of the wrong type or a log that cannot be read at all is a
failure line like any other, and the remaining leaves and logs are still
checked. What a passing verify proves, and what it cannot, is in
``docs/security.md``.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, func, inspect, select
from sqlalchemy.exc import SQLAlchemyError

from server import db
from server.auditlog import store
from server.auditlog.checkpoint import CheckpointError, NoteVerifier, open_checkpoint
from server.auditlog.checkpoints import origin
from server.auditlog.merkle import HASH_SIZE, CompactTree, leaf_hash
from server.auditlog.tiles import TileCheck
from server.datadir import DataDir


@dataclass
class Report:
    logs: int = 0
    leaves: int = 0
    checkpoints: int = 0
    #: Access events recorded before the data directory had an audit log: in no log.
    before_log: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _exported(data: DataDir, log_id: str) -> dict[int, str]:
    folder = data.checkpoint_dir / log_id
    if not folder.is_dir():
        return {}
    found = {}
    for path in sorted(folder.glob("*.checkpoint")):
        try:
            found[int(path.stem)] = path.read_text()
        except (ValueError, UnicodeDecodeError):
            found[-1] = ""  # reported as malformed below
    return found


def _log_ids(conn: Connection, data: DataDir) -> list[str]:
    ids = set(conn.execute(select(store.audit_leaves.c.log_id).distinct()).scalars())
    ids |= set(conn.execute(select(store.audit_heads.c.log_id)).scalars())
    ids |= set(conn.execute(select(store.audit_checkpoints.c.log_id)).scalars())
    if data.checkpoint_dir.is_dir():
        ids |= {p.name for p in data.checkpoint_dir.iterdir() if p.is_dir()}
    return sorted(ids)


class _LeafUnreadableError(Exception):
    """A stored leaf or its row is not what the writer could have written."""


def _leaf_matches_event(data: bytes, salt: bytes | None, event: dict[str, Any]) -> bool:
    try:
        expected = store.leaf_data(event, salt)
    except (TypeError, ValueError) as exc:  # e.g. a NaN written into the event row
        raise _LeafUnreadableError("its access event row holds values no leaf can encode") from exc
    if salt is None and event.get("remote_addr") is None:
        # Erased address: the leaf keeps its commitment; compare everything else.
        try:
            stored = json.loads(data)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError alike
            raise _LeafUnreadableError("is not canonical JSON") from exc
        if not isinstance(stored, dict):
            raise _LeafUnreadableError("is not a JSON object")
        stored.pop("addr", None)
        wanted = json.loads(expected)
        wanted.pop("addr", None)
        return bool(stored == wanted)
    return hmac.compare_digest(expected, data)


def _as_bytes(value: object) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise _LeafUnreadableError(f"is stored as {type(value).__name__}, not bytes")


class _LogCheck:
    """One log: walk its leaves once, recording roots at every checkpoint size."""

    def __init__(self, conn: Connection, data: DataDir, log_id: str, report: Report) -> None:
        self.conn, self.data, self.log_id, self.report = conn, data, log_id, report
        self.roots: dict[int, bytes] = {0: CompactTree().root()}
        self.size = 0

    def problem(self, text: str) -> None:
        self.report.problems.append(f"log {self.log_id}: {text}")

    def run(self, verifier: NoteVerifier) -> None:
        stored = dict(
            self.conn.execute(
                select(store.audit_checkpoints.c.size, store.audit_checkpoints.c.note).where(
                    store.audit_checkpoints.c.log_id == self.log_id
                )
            ).all()
        )
        exported = _exported(self.data, self.log_id)
        wanted = set(stored) | set(exported)
        tree = self._walk_leaves(wanted)
        self.size = tree.size
        self._check_head(tree)
        for size, note in sorted(stored.items()):
            self._check_checkpoint(f"checkpoint {size} (database)", size, note, verifier)
        for size, note in sorted(exported.items()):
            self._check_checkpoint(f"checkpoint {size} (exported file)", size, note, verifier)
            if size in stored and stored[size] != note:
                self.problem(f"checkpoint {size}: exported file differs from the database")

    def _leaves(self) -> Iterator[Any]:
        leaves = store.audit_leaves
        events = db.access_events
        query = (
            select(leaves, events)
            .join(events, events.c.seq == leaves.c.event_seq, isouter=True)
            .where(leaves.c.log_id == self.log_id)
            .order_by(leaves.c.idx)
        )
        yield from self.conn.execute(query).mappings()

    def _walk_leaves(self, wanted: set[int]) -> CompactTree:
        tree = CompactTree()
        tiles = TileCheck(self.conn, self.log_id)
        last_seq = 0
        for row in self._leaves():
            if row["idx"] != tree.size:
                self.problem(f"leaf {tree.size} is missing (next stored leaf is {row['idx']!r})")
                break
            try:
                data = _as_bytes(row["data"])
            except _LeafUnreadableError as exc:
                self.problem(f"leaf {tree.size} {exc}")
                break  # no hash to go on with: the tree cannot be recomputed past it
            try:
                last_seq = self._check_leaf(tree.size, row, data, last_seq)
            except _LeafUnreadableError as exc:
                self.problem(f"leaf {tree.size} {exc}")
            hashed = leaf_hash(data)
            tree.append(hashed)
            tiles.add(hashed)
            self.report.leaves += 1
            if tree.size in wanted:
                self.roots[tree.size] = tree.root()
        for text in tiles.finish():
            self.problem(text)
        return tree

    def _check_leaf(self, index: int, row: Any, data: bytes, last_seq: int) -> int:
        """Check one leaf against its event row; return the highest event seq so far."""
        event_seq = row["event_seq"]
        if not isinstance(event_seq, int):
            raise _LeafUnreadableError(f"names event {event_seq!r}, not a row number")
        if event_seq <= last_seq:  # appended under the write lock: seq only grows
            self.problem(f"leaf {index} is out of order (event {event_seq})")
        salt = None if row["addr_salt"] is None else _as_bytes(row["addr_salt"])
        if row["seq"] is None:
            self.problem(f"leaf {index} names access event {event_seq}, not found")
        elif store.log_for(row["project_id"]) != self.log_id:
            self.problem(f"leaf {index} holds an event of log {row['project_id']!r}")
        elif not _leaf_matches_event(data, salt, dict(row)):
            self.problem(f"leaf {index} does not match access event {event_seq}")
        return max(last_seq, event_seq)

    def _check_head(self, tree: CompactTree) -> None:
        row = self.conn.execute(
            select(store.audit_heads).where(store.audit_heads.c.log_id == self.log_id)
        ).first()
        if row is None:
            if tree.size:
                self.problem("has leaves but no head")
            return
        blob = bytes(row.frontier)
        frontier = [blob[i : i + HASH_SIZE] for i in range(0, len(blob), HASH_SIZE)]
        if row.size != tree.size or frontier != tree.frontier():
            self.problem(f"head (size {row.size}) does not match the {tree.size} stored leaves")

    def _check_checkpoint(self, what: str, size: int, note: str, verifier: NoteVerifier) -> None:
        self.report.checkpoints += 1
        try:
            checkpoint = open_checkpoint(note, verifier, origin(self.log_id))
        except CheckpointError as exc:
            self.problem(f"{what}: {exc}")
            return
        if checkpoint.size != size:
            self.problem(f"{what}: says size {checkpoint.size}")
        elif size not in self.roots:
            self.problem(f"{what}: the log has only {self.size} leaves")
        elif not hmac.compare_digest(self.roots[size], checkpoint.root_hash):
            self.problem(f"{what}: root does not match the stored leaves")


def _before_log(conn: Connection, report: Report) -> int:
    """The highest event number recorded before the log began (schema revision 0003's
    mark), or 0. A mark that reaches an event the log holds is a failure, not a pass."""
    if not inspect(conn).has_table(store.audit_prelog.name):
        return 0  # a copy of a data directory not upgraded yet: every orphan counts
    marks = conn.execute(select(store.audit_prelog)).all()
    if not marks:
        return 0
    if len(marks) > 1:  # revision 0003 writes one row, once: more is not Cordon's doing
        report.problems.append(
            f"{len(marks)} marks of events before the audit log; the upgrade writes one"
        )
        return 0
    mark = marks[0]
    first = conn.execute(select(func.min(store.audit_leaves.c.event_seq))).scalar()
    if first is not None and mark.through_seq >= first:
        report.problems.append(
            f"the mark of events before the audit log (through {mark.through_seq}) "
            f"reaches event {first}, which the log holds"
        )
        return 0
    events = db.access_events
    count = conn.execute(
        select(func.count()).select_from(events).where(events.c.seq <= mark.through_seq)
    ).scalar_one()
    if count != mark.events:  # events are never deleted: one was added or removed since
        report.problems.append(
            f"{count} access events are numbered before the audit log began; "
            f"the upgrade that marked them counted {mark.events}"
        )
    report.before_log = int(mark.events)
    return int(mark.through_seq)


def _orphan_events(conn: Connection, report: Report) -> None:
    """Every access event must have a leaf (none recorded outside the log), except those
    recorded before the data directory had an audit log (:func:`_before_log`)."""
    events, leaves = db.access_events, store.audit_leaves
    through = _before_log(conn, report)
    missing = conn.execute(
        select(events.c.seq)
        .join(leaves, leaves.c.event_seq == events.c.seq, isouter=True)
        .where(leaves.c.event_seq.is_(None), events.c.seq > through)
        .order_by(events.c.seq)
        .limit(20)
    ).scalars()
    for seq in missing:
        report.problems.append(f"access event {seq} has no audit leaf")


def verify(data: DataDir, engine: Engine, verifier: NoteVerifier) -> Report:
    """Check every log in ``data``; see the module docstring for what is checked."""
    report = Report()
    with engine.connect() as conn:
        for log_id in _log_ids(conn, data):
            report.logs += 1
            try:
                _LogCheck(conn, data, log_id, report).run(verifier)
            except (SQLAlchemyError, TypeError, ValueError, OverflowError) as exc:
                # A row SQLAlchemy cannot even convert (text where a number belongs …).
                report.problems.append(f"log {log_id}: cannot be read: {type(exc).__name__}")
        _orphan_events(conn, report)
    return report


def default_vkey_path(data: DataDir) -> Path:
    return data.checkpoint_dir / "verifier.vkey"
