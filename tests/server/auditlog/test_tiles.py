"""Proofs from stored tiles equal proofs from the leaves, and read O(log n) tiles.

The reference is :mod:`server.auditlog.merkle`'s leaf-list proofs (checked against
RFC 9162's vectors in ``test_merkle_vectors.py``). Sizes cross every tile
boundary that matters: inside the first tile, at 256, and past 65,536 leaves,
where a level-2 tile appears.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, create_engine, delete, event, insert, update
from sqlalchemy.exc import NoResultFound

from server import db
from server.auditlog import tiles
from server.auditlog.merkle import (
    consistency_path,
    consistency_proof,
    inclusion_path,
    inclusion_proof,
    leaf_hash,
    root_from_leaves,
)


def _leaves(count: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(8, "big")) for i in range(count)]


@pytest.fixture
def conn() -> Iterator[Connection]:
    engine = create_engine("sqlite://")
    db.metadata.create_all(engine)  # the tiles' table is all these tests use
    with engine.begin() as connection:
        yield connection


def _store(conn: Connection, leaves: list[bytes], seed: int = 1) -> None:
    """Append in batches of random sizes, as the ingest path does."""
    rng, position = random.Random(seed), 0  # noqa: S311 - batch sizes, not secrets
    while position < len(leaves):
        batch = rng.choice((1, 3, 100, 255, 256, 257, 1000, 5000))
        tiles.extend(conn, "p", position, leaves[position : position + batch])
        position += batch


def test_every_small_proof_equals_the_leaf_proof(conn: Connection) -> None:
    leaves = _leaves(600)
    _store(conn, leaves)
    reader = tiles.TileReader(conn, "p")
    for size in range(1, 600, 7):
        assert reader.range_root(0, size) == root_from_leaves(leaves[:size])
        for index in range(0, size, max(1, size // 9)):
            assert inclusion_path(reader.range_root, index, size) == inclusion_proof(
                leaves, index, size
            ), (index, size)
        for old in range(0, size + 1, max(1, size // 7)):
            assert consistency_path(reader.range_root, old, size) == consistency_proof(
                leaves, old, size
            ), (old, size)
    assert [reader.leaf(i) for i in range(600)] == leaves


def test_large_trees_read_few_tiles(conn: Connection) -> None:
    leaves = _leaves(70_001)
    _store(conn, leaves, seed=7)
    for size, index in ((65_536, 65_535), (65_537, 0), (70_001, 12_345), (70_001, 70_000)):
        reader = tiles.TileReader(conn, "p")
        assert inclusion_path(reader.range_root, index, size) == inclusion_proof(
            leaves, index, size
        )
        assert reader.tiles_read <= 8, reader.tiles_read  # O(log n): not 70,001 leaves
        reader = tiles.TileReader(conn, "p")
        assert consistency_path(reader.range_root, 1_000, size) == consistency_proof(
            leaves, 1_000, size
        )
        assert reader.tiles_read <= 10, reader.tiles_read


def test_a_tile_read_past_what_is_stored_is_refused(conn: Connection) -> None:
    _store(conn, _leaves(300))
    reader = tiles.TileReader(conn, "p")
    with pytest.raises(LookupError):
        reader.node(8, 1)  # leaves 256..511: only 300 stored
    with pytest.raises(LookupError):
        reader.leaf(300)


def test_the_tile_check_finds_a_changed_hash(conn: Connection) -> None:
    leaves = _leaves(700)
    _store(conn, leaves)
    check = tiles.TileCheck(conn, "p")
    for leaf in leaves:
        check.add(leaf)
    assert check.finish() == []
    forged = hashlib.sha256(b"forged").digest()
    blob = b"".join([*leaves[256:300], forged, *leaves[301:512]])
    conn.execute(
        update(tiles.audit_tiles)
        .where(tiles.audit_tiles.c.level == 0, tiles.audit_tiles.c.idx == 1)
        .values(hashes=blob)
    )
    check = tiles.TileCheck(conn, "p")
    for leaf in leaves:
        check.add(leaf)
    assert check.finish() == ["tile 0/1 does not match the leaves"]


def _check(conn: Connection, leaves: list[bytes]) -> list[str]:
    check = tiles.TileCheck(conn, "p")
    for leaf in leaves:
        check.add(leaf)
    return check.finish()


def test_the_tile_check_finds_missing_extra_and_truncated_tiles(conn: Connection) -> None:
    leaves = _leaves(600)
    _store(conn, leaves)
    table = tiles.audit_tiles
    assert _check(conn, leaves) == []
    extra = {"log_id": "p", "hashes": leaves[0]}
    conn.execute(insert(table).values(level=0, idx=9, **extra))  # past the end
    conn.execute(insert(table).values(level=3, idx=0, **extra))  # above the top
    assert _check(conn, leaves) == [
        "tile 0/9 is not made by the leaves",
        "tile 3/0 is not made by the leaves",
    ]
    conn.execute(delete(table).where(table.c.idx == 9))
    conn.execute(delete(table).where(table.c.level == 3))
    short = b"".join(leaves[256:300])
    conn.execute(update(table).where(table.c.level == 0, table.c.idx == 1).values(hashes=short))
    conn.execute(delete(table).where(table.c.level == 1))
    assert _check(conn, leaves) == [
        "tile 0/1 does not match the leaves",
        "tile 1/0 is missing",
    ]


def test_rebuild_makes_the_same_tiles(conn: Connection) -> None:
    leaves = _leaves(1_000)
    _store(conn, leaves)
    before = conn.execute(tiles.audit_tiles.select().order_by("level", "idx")).all()
    tiles.rebuild(conn, "p", leaves)
    after = conn.execute(tiles.audit_tiles.select().order_by("level", "idx")).all()
    assert before == after and len(after) == 4 + 1  # level 0: 4 tiles; level 1: one partial


def test_an_append_reads_and_writes_its_tiles_in_one_statement_each(conn: Connection) -> None:
    """Each statement is a round trip made under the write lock, so their number must not
    grow with the levels or tiles an append touches."""
    leaves = _leaves(66_000)
    tiles.extend(conn, "p", 0, leaves[:65_530])  # partial tiles at levels 0 and 1
    statements: list[str] = []

    def seen(*args: object) -> None:
        statements.append(str(args[2]).split()[0])

    event.listen(conn, "before_cursor_execute", seen)
    try:  # fills the last tiles of levels 0 and 1, and starts level 2
        tiles.extend(conn, "p", 65_530, leaves[65_530:])
    finally:
        event.remove(conn, "before_cursor_execute", seen)
    assert statements == ["SELECT", "INSERT"]
    assert _check(conn, leaves) == []
    reader = tiles.TileReader(conn, "p")
    assert reader.range_root(0, 66_000) == root_from_leaves(leaves)


def test_an_append_fails_closed_on_tiles_that_disagree_with_the_log_size(
    conn: Connection,
) -> None:
    """Its upsert may only extend the partial tile the size names: a partial tile gone or
    cut short, or a tile already where a new one goes, fails it; nothing is rewritten."""
    leaves = _leaves(301)
    _store(conn, leaves[:300])
    table = tiles.audit_tiles
    before = conn.execute(table.select().order_by("level", "idx")).all()
    with pytest.raises(NoResultFound, match=r"tiles \[\(0, 1\), \(1, 0\)\] exist past"):
        tiles.extend(conn, "p", 200, leaves[200:260])  # a wrong size: tile 0/1 is taken
    assert conn.execute(table.select().order_by("level", "idx")).all() == before
    short = b"".join(leaves[256:299])
    conn.execute(update(table).where(table.c.level == 0, table.c.idx == 1).values(hashes=short))
    with pytest.raises(NoResultFound, match=r"partial tile \(0, 1\) is not as its size says"):
        tiles.extend(conn, "p", 300, leaves[300:])
    conn.execute(delete(table).where(table.c.idx == 1))
    with pytest.raises(NoResultFound, match=r"partial tile \(0, 1\) is not as its size says"):
        tiles.extend(conn, "p", 300, leaves[300:])


def test_two_logs_keep_their_own_tiles(conn: Connection) -> None:
    ours, theirs = _leaves(700), _leaves(1_000)[300:]
    position = 0
    for size in (1, 255, 100, 300, 44):  # interleaved appends, crossing tile boundaries
        tiles.extend(conn, "p", position, ours[position : position + size])
        tiles.extend(conn, "q", position, theirs[position : position + size])
        position += size
    assert _check(conn, ours) == []
    assert tiles.TileReader(conn, "q").range_root(0, 700) == root_from_leaves(theirs)
