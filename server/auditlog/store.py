"""The audit log's tables, and appending one access event to its project's log.

One RFC 9162 log per project (events about no project, such as sign-ins, go to
the ``server`` log). Every access event row gets exactly one leaf, appended in
the same transaction that records the access: if the leaf cannot be written,
the access is rolled back with it (fail closed).

A leaf is the canonical JSON of the event's fields (who, what, when, where,
which, outcome), never content. The client's address is personal data, so the
leaf holds only a salted hash of it: deleting the address and its salt later
(erasure) leaves every leaf, and so every tree hash, intact.

``audit_heads`` keeps each log's compact frontier, so the current root is known
in O(log n) without reading the leaves back; ``audit_tiles``
(:mod:`server.auditlog.tiles`) keeps its interior hashes, so proofs are too.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Integer,
    LargeBinary,
    String,
    Table,
    insert,
    select,
    update,
)

from server import db, dialect
from server.auditlog import tiles
from server.auditlog.merkle import HASH_SIZE, CompactTree, leaf_hash

SERVER_LOG = "server"
LEAF_VERSION = 1
#: Access-event columns a leaf commits to (``remote_addr`` only as a salted hash).
LEAF_FIELDS = (
    "event_id", "source", "action", "outcome", "reason", "user_id", "device_id",
    "project_id", "task_id", "segment_id", "position_ms", "verified", "client_time",
    "server_time",
)  # fmt: skip

audit_leaves = Table(
    "audit_leaves",
    db.metadata,
    Column("log_id", String(64), primary_key=True),
    Column("idx", Integer, primary_key=True),
    # No foreign key to ``access_events`` (schema revision 0004): ``audit verify`` finds a
    # leaf whose event is missing, and the key's look-up cost every insert under the lock.
    Column("event_seq", Integer, nullable=False, unique=True),
    Column("data", LargeBinary, nullable=False),
    Column("addr_salt", LargeBinary, nullable=True),  # deleted on erasure, with the address
)

audit_heads = Table(
    "audit_heads",
    db.metadata,
    Column("log_id", String(64), primary_key=True),
    Column("size", Integer, nullable=False),
    Column("frontier", LargeBinary, nullable=False),  # concatenated 32-byte hashes
)

audit_checkpoints = Table(
    "audit_checkpoints",
    db.metadata,
    Column("log_id", String(64), primary_key=True),
    Column("size", Integer, primary_key=True),
    Column("root", LargeBinary, nullable=False),
    Column("note", String(4096), nullable=False),
    Column("created_at", Integer, nullable=False),
)

#: Access events recorded before this data directory had an audit log: they have no
#: leaf and never will (a leaf appended now would claim they were logged when they
#: happened). Schema revision 0003 writes the one row, once, for events numbered below
#: the first leaf's; ``audit verify`` counts them apart instead of failing on each.
audit_prelog = Table(
    "audit_prelog",
    db.metadata,
    Column("through_seq", Integer, primary_key=True, autoincrement=False),
    Column("events", Integer, nullable=False),
    Column("recorded_at", Integer, nullable=False),
)


def log_for(project_id: str | None) -> str:
    """The log an event belongs to: its project's, or the server's."""
    return project_id or SERVER_LOG


def address_commitment(salt: bytes | None, address: str | None) -> str | None:
    """Salted SHA-256 of the client address: provable if kept, forgettable if erased."""
    if salt is None or address is None:
        return None
    return hashlib.sha256(salt + address.encode()).hexdigest()


def _as_stored(value: Any) -> Any:
    """``value`` as every supported engine reads it back.

    SQLite stores ``-0.0`` as the integer 0 and reads it back as ``0.0``; a leaf
    hashed from ``-0.0`` would then never match its own row. NaN and the
    infinities are refused outright (``json.dumps(allow_nan=False)`` below):
    the wire schema keeps them out, and this keeps them out of every hash.
    """
    if isinstance(value, float) and value == 0.0:
        return 0.0
    return value


def leaf_data(event: Mapping[str, Any], addr_salt: bytes | None) -> bytes:
    """Canonical JSON of an access event (sorted keys, no spaces): the leaf's input.

    Built from the values exactly as the database gives them back, so
    re-reading the event row reproduces these bytes (``audit verify`` does).
    """
    record: dict[str, Any] = {name: _as_stored(event.get(name)) for name in LEAF_FIELDS}
    record["v"] = LEAF_VERSION
    record["addr"] = address_commitment(addr_salt, event.get("remote_addr"))
    return json.dumps(record, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def _load_head(conn: Connection, log_id: str) -> CompactTree:
    row = conn.execute(select(audit_heads).where(audit_heads.c.log_id == log_id)).first()
    if row is None:
        return CompactTree()
    blob = bytes(row.frontier)
    frontier = [blob[i : i + HASH_SIZE] for i in range(0, len(blob), HASH_SIZE)]
    return CompactTree.restore(int(row.size), frontier)


def append(conn: Connection, event_seq: int, event: Mapping[str, Any]) -> tuple[str, int]:
    """Append the leaf for access event ``event_seq``; return ``(log_id, index)``."""
    ((log_id, first, _count),) = append_prepared(conn, [(event_seq, prepare_leaf(event))])
    return log_id, first


@dataclass(frozen=True)
class PreparedLeaf:
    """An event's leaf, encoded and hashed: its bytes hold no number, so a caller can make
    it before taking the write lock (the ingest path does) and append it under the lock."""

    log_id: str
    data: bytes
    salt: bytes | None
    hash: bytes
    #: Its row's values but the numbers, encoded for the bulk insert
    #: (:func:`server.dialect.encode`), if made with a connection; else made under the lock.
    head: Any = None


def prepare_leaf(event: Mapping[str, Any], conn: Connection | None = None) -> PreparedLeaf:
    """The leaf of ``event`` (an access-event row, its number not needed); with ``conn``, a
    connection to the database it will be appended to, its row encoded as well."""
    salt = secrets.token_bytes(16) if event.get("remote_addr") else None
    data = leaf_data(event, salt)
    log_id = log_for(event.get("project_id"))
    head = None if conn is None else dialect.encode(conn, (log_id, data, salt))
    return PreparedLeaf(log_id, data, salt, leaf_hash(data), head)


def append_prepared(
    conn: Connection, leaves: Sequence[tuple[int, PreparedLeaf]]
) -> list[tuple[str, int, int]]:
    """Append ``(event_seq, leaf)`` in order; ``(log_id, first index, count)`` per log touched.

    The caller holds the write lock (and has written the event rows), so reading the
    heads here cannot race another writer, and each log's new leaves are contiguous.
    One head read and one head write per log, however many events.
    """
    by_log: dict[str, list[tuple[int, PreparedLeaf]]] = {}
    for event_seq, leaf in leaves:
        by_log.setdefault(leaf.log_id, []).append((event_seq, leaf))
    ranges = []
    for log_id, items in by_log.items():
        tree = _load_head(conn, log_id)
        first = tree.size
        rows = []
        for event_seq, leaf in items:
            head = leaf.head
            if head is None:
                head = dialect.encode(conn, (log_id, leaf.data, leaf.salt))
            rows.append((head, (tree.size, event_seq)))
            tree.append(leaf.hash)
        dialect.insert_rows(
            conn, "audit_leaves", ("log_id", "data", "addr_salt", "idx", "event_seq"), rows
        )
        tiles.extend(conn, log_id, first, [leaf.hash for _seq, leaf in items])
        frontier = b"".join(tree.frontier())
        if first == 0:
            conn.execute(
                insert(audit_heads).values(log_id=log_id, size=tree.size, frontier=frontier)
            )
        else:
            conn.execute(
                update(audit_heads)
                .where(audit_heads.c.log_id == log_id)
                .values(size=tree.size, frontier=frontier)
            )
        ranges.append((log_id, first, len(items)))
    return ranges


def head(conn: Connection, log_id: str) -> tuple[int, bytes]:
    """``(size, root)`` of a log now."""
    tree = _load_head(conn, log_id)
    return tree.size, tree.root()


def leaf_hashes(conn: Connection, log_id: str, size: int) -> list[bytes]:
    """The first ``size`` leaf hashes of a log, recomputed from the stored leaves."""
    rows = conn.execute(
        select(audit_leaves.c.data)
        .where(audit_leaves.c.log_id == log_id, audit_leaves.c.idx < size)
        .order_by(audit_leaves.c.idx)
    ).scalars()
    return [leaf_hash(bytes(data)) for data in rows]


def backfill_tiles(conn: Connection) -> list[str]:
    """Make the tiles of every log that has leaves but none (data directories from before).

    One pass over each such log's leaves, once; returns the logs filled.
    """
    filled = []
    for log_id, size in conn.execute(select(audit_heads.c.log_id, audit_heads.c.size)).all():
        have = conn.execute(
            select(tiles.audit_tiles.c.idx).where(tiles.audit_tiles.c.log_id == log_id).limit(1)
        ).first()
        if size and have is None:
            tiles.rebuild(conn, log_id, leaf_hashes(conn, log_id, size))
            filled.append(log_id)
    return filled
