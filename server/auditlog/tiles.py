"""Interior hashes of each audit log, stored as tiles, so a proof reads O(log n) of them.

Serving an inclusion or consistency proof from the leaves alone rehashes every
leaf of the tree (O(n) per proof: seconds at ten million leaves). transparency-dev's
tlog tiles (C2SP ``tlog-tiles``) keep the tree's hashes instead, grouped into
tiles of 256 hashes: a tile of level ``L`` holds consecutive hashes of tree
level ``8 L`` (level 0: the leaf hashes; level 1: the roots of full 256-leaf
subtrees, and so on). Any full subtree's root is then at most 255 hash
operations over one tile, and any range of the tree splits into at most
``log2 n`` full subtrees, so a proof touches O(log n) tiles whatever the size.

Only hashes of *full* subtrees are stored, so appending never rewrites a hash:
it extends the last, partial tile of each level. ``audit verify`` still
recomputes everything from the leaves, and checks these tiles against them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import (
    Column,
    Connection,
    Integer,
    LargeBinary,
    String,
    Table,
    select,
    tuple_,
)
from sqlalchemy.exc import NoResultFound

from server import db, dialect
from server.auditlog.merkle import HASH_SIZE, node_hash

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT

audit_tiles = Table(
    "audit_tiles",
    db.metadata,
    Column("log_id", String(64), primary_key=True),
    Column("level", Integer, primary_key=True),
    Column("idx", Integer, primary_key=True),
    Column("hashes", LargeBinary, nullable=False),  # up to TILE_WIDTH concatenated hashes
)


def _subtree_root(hashes: Sequence[bytes]) -> bytes:
    """Root of a full subtree of ``len(hashes)`` (a power of two) consecutive node hashes."""
    level = list(hashes)
    while len(level) > 1:
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def _split(blob: bytes) -> list[bytes]:
    return [blob[i : i + HASH_SIZE] for i in range(0, len(blob), HASH_SIZE)]


def extend(conn: Connection, log_id: str, first: int, leaf_hashes: Sequence[bytes]) -> None:
    """Add leaves ``first …`` to the log's tiles, inside the caller's transaction.

    ``first`` is the log's size before these leaves (the caller holds the write
    lock, as for the leaves themselves). Two statements, however many levels the
    leaves reach: one read of every tile position they touch, one multi-row upsert
    (each round trip is time the write lock is held: per level and per tile, a
    650-leaf append took ~7 statements). Every tile filled yields one hash for the
    level above.
    """
    if not leaf_hashes:
        return
    partial = _tiles_extended(conn, log_id, _reach(first, len(leaf_hashes)))
    written: list[dict[str, object]] = []
    level, start, new = 0, first, list(leaf_hashes)
    while new:
        tile, offset = divmod(start, TILE_WIDTH)
        hashes = partial[(level, tile)] if offset else []
        hashes.extend(new)
        filled: list[bytes] = []
        for position in range(0, len(hashes), TILE_WIDTH):
            chunk = hashes[position : position + TILE_WIDTH]
            index = tile + position // TILE_WIDTH
            written.append(
                {"log_id": log_id, "level": level, "idx": index, "hashes": b"".join(chunk)}
            )
            if len(chunk) == TILE_WIDTH:
                filled.append(_subtree_root(chunk))
        level, start, new = level + 1, tile, filled
    upsert = dialect.insert(conn, audit_tiles).values(written)  # one statement, all rows
    conn.execute(
        upsert.on_conflict_do_update(
            index_elements=["log_id", "level", "idx"], set_={"hashes": upsert.excluded.hashes}
        )
    )


@dataclass(frozen=True)
class _Span:
    """The tiles of one level an append writes: ``first`` (holding ``offset`` hashes
    already, 0 if it is new) to ``last``."""

    level: int
    first: int
    offset: int
    last: int


def _reach(first: int, count: int) -> list[_Span]:
    """The tiles, level by level, that ``count`` leaves appended to a log of ``first``
    write: known from the sizes alone, so one read can check them all."""
    spans = []
    level, start, count_at = 0, first, count
    while count_at:
        tile, offset = divmod(start, TILE_WIDTH)
        end = start + count_at  # hashes at this level after the append
        spans.append(_Span(level, tile, offset, (end - 1) // TILE_WIDTH))
        count_at = end // TILE_WIDTH - tile  # tiles this append fills
        level, start = level + 1, tile
    return spans


def _tiles_extended(
    conn: Connection, log_id: str, spans: Sequence[_Span]
) -> dict[tuple[int, int], list[bytes]]:
    """The hashes of each partial tile the append extends, read with every other tile
    position it writes, in one statement: each partial tile must hold exactly the
    hashes the log's size says, and no position past it may be taken, or the append
    fails closed — its upsert must only ever extend a partial tile."""
    wanted = [(s.level, index) for s in spans for index in range(s.first, s.last + 1)]
    rows = conn.execute(
        select(audit_tiles.c.level, audit_tiles.c.idx, audit_tiles.c.hashes).where(
            audit_tiles.c.log_id == log_id,
            tuple_(audit_tiles.c.level, audit_tiles.c.idx).in_(wanted),
        )
    ).all()
    found = {(int(level), int(idx)): _split(bytes(blob)) for level, idx, blob in rows}
    expected = {(s.level, s.first): s.offset for s in spans if s.offset}
    # Either is a database error, as a missing row was before: the group fails closed.
    unexpected = sorted(set(found) - set(expected))
    if unexpected:
        raise NoResultFound(f"audit log {log_id}: tiles {unexpected} exist past its size")
    for key, offset in expected.items():
        if len(found.get(key, ())) != offset:
            raise NoResultFound(f"audit log {log_id}: partial tile {key} is not as its size says")
    return {key: found[key] for key in expected}


class TileReader:
    """Hashes of one log's tree, read from its tiles (each tile read at most once).

    Good for any tree size up to the log's size when it was made: a proof for
    an older checkpoint uses the same tiles, since only full subtrees are stored.
    """

    def __init__(self, conn: Connection, log_id: str) -> None:
        self._conn = conn
        self._log_id = log_id
        self._tiles: dict[tuple[int, int], list[bytes]] = {}
        self.tiles_read = 0

    def tile(self, level: int, index: int) -> list[bytes]:
        """The hashes of one stored tile (``LookupError`` if it is missing)."""
        key = (level, index)
        if key not in self._tiles:
            blob = self._conn.execute(
                select(audit_tiles.c.hashes).where(
                    audit_tiles.c.log_id == self._log_id,
                    audit_tiles.c.level == level,
                    audit_tiles.c.idx == index,
                )
            ).scalar_one_or_none()
            if blob is None:
                raise LookupError(f"audit log {self._log_id}: tile {level}/{index} is missing")
            self._tiles[key] = _split(bytes(blob))
            self.tiles_read += 1
        return self._tiles[key]

    def forget(self) -> None:
        """Drop the tiles read so far (a long walk keeps one at a time)."""
        self._tiles.clear()

    def node(self, height: int, index: int) -> bytes:
        """Root of the full subtree of ``2**height`` leaves starting at leaf ``index << height``."""
        level, rest = divmod(height, TILE_HEIGHT)
        first = index << rest
        tile, offset = divmod(first, TILE_WIDTH)
        hashes = self.tile(level, tile)[offset : offset + (1 << rest)]
        if len(hashes) != 1 << rest:
            raise LookupError(f"audit log {self._log_id}: node {height}/{index} is not stored")
        return _subtree_root(hashes)

    def leaf(self, index: int) -> bytes:
        return self.node(0, index)

    def range_root(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for a range the RFC 9162 recursion visits.

        Such a range starts at a multiple of a power of two at least its width,
        so it is its size's binary decomposition into full subtrees, largest
        first, folded right to left — as :class:`~server.auditlog.merkle.CompactTree`
        folds its frontier.
        """
        parts: list[bytes] = []
        position = start
        while position < end:
            height = (end - position).bit_length() - 1
            while position % (1 << height):
                height -= 1
            parts.append(self.node(height, position >> height))
            position += 1 << height
        root = parts[-1]
        for left in reversed(parts[:-1]):
            root = node_hash(left, root)
        return root


def rebuild(conn: Connection, log_id: str, leaf_hashes: Sequence[bytes]) -> None:
    """Replace a log's tiles with ones made from all its leaf hashes (older data directories)."""
    conn.execute(audit_tiles.delete().where(audit_tiles.c.log_id == log_id))
    for start in range(0, len(leaf_hashes), 65536):
        extend(conn, log_id, start, leaf_hashes[start : start + 65536])


class TileCheck:
    """Compare a log's stored tiles with the tiles its leaves make, leaf by leaf.

    ``audit verify`` feeds every recomputed leaf hash; a tile is compared as
    soon as it is full, so memory stays at one tile per level. A tampered
    interior hash would make the server's proofs disagree with its signed
    checkpoints (clients would notice); this finds it first.
    """

    def __init__(self, conn: Connection, log_id: str) -> None:
        self._conn, self._log_id = conn, log_id
        self._reader = TileReader(conn, log_id)
        self._pending: list[list[bytes]] = [[]]
        self._counts: list[int] = [0]  # full tiles compared so far, per level
        self.problems: list[str] = []

    def add(self, leaf: bytes) -> None:
        level, value = 0, leaf
        while True:
            if level == len(self._pending):
                self._pending.append([])
                self._counts.append(0)
            pending = self._pending[level]
            pending.append(value)
            if len(pending) < TILE_WIDTH:
                return
            self._compare(level, self._counts[level], pending)
            self._counts[level] += 1
            value = _subtree_root(pending)
            self._pending[level] = []
            level += 1

    def finish(self) -> list[str]:
        """Compare the partial tiles, look for tiles the leaves do not make; every mismatch."""
        expected: set[tuple[int, int]] = set()
        for level, pending in enumerate(self._pending):
            if pending:
                self._compare(level, self._counts[level], pending)
            made = self._counts[level] + (1 if pending else 0)
            expected.update((level, index) for index in range(made))
        stored = self._conn.execute(
            select(audit_tiles.c.level, audit_tiles.c.idx).where(
                audit_tiles.c.log_id == self._log_id
            )
        ).all()
        for level, index in sorted({(int(r[0]), int(r[1])) for r in stored} - expected):
            self.problems.append(f"tile {level}/{index} is not made by the leaves")
        return self.problems

    def _compare(self, level: int, index: int, hashes: list[bytes]) -> None:
        try:
            stored = self._reader.tile(level, index)
        except LookupError:
            self.problems.append(f"tile {level}/{index} is missing")
            return
        if stored != hashes:
            self.problems.append(f"tile {level}/{index} does not match the leaves")
        self._reader.forget()  # compared once, never needed again
