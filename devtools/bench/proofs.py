"""B15: audit inclusion and consistency proofs at 1 M and 10 M leaves, from stored tiles.

The measured side is what the server runs per proof request: a fresh
:class:`~server.auditlog.tiles.TileReader` on the log's tiles — a SQLite file, or
a PostgreSQL database (``B15PG``) — then RFC 9162's PATH or PROOF over it (every
proof is checked against the tree's root, so a fast wrong answer cannot pass).
The floor, in the same run, is the raw driver (``sqlite3`` or ``psycopg``)
fetching the same number of tile rows by primary key — the reads no proof can
avoid. For scale, the old way (rehash the leaves) is timed
at 1 M leaves on the hashes alone, before reading any leaf from the database.
"""

from __future__ import annotations

import hashlib
import random
import sqlite3
import statistics
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event

from devtools.bench.measure import percentile, ratio
from devtools.postgres import new_database
from server.auditlog import tiles
from server.auditlog.merkle import (
    CompactTree,
    consistency_path,
    inclusion_path,
    inclusion_proof,
    verify_consistency,
    verify_inclusion,
)

_BATCH = 65_536


def _leaf(index: int) -> bytes:
    return hashlib.sha256(b"\x00" + index.to_bytes(8, "big")).digest()


def _build(url: str, size: int) -> tuple[bytes, dict[int, bytes], float]:
    """Write the tiles of a ``size``-leaf log; the root at ``size`` and at a few older sizes."""
    engine = create_engine(url)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", lambda c, _r: c.execute("PRAGMA journal_mode=WAL"))
    tiles.audit_tiles.create(engine)
    tree, roots = CompactTree(), {}
    older = {size // 3, size // 2 + 1, size - 12_345}
    started = time.perf_counter()
    with engine.begin() as conn:
        for first in range(0, size, _BATCH):
            batch = [_leaf(i) for i in range(first, min(size, first + _BATCH))]
            tiles.extend(conn, "p", first, batch)
            for leaf in batch:
                tree.append(leaf)
                if tree.size in older:
                    roots[tree.size] = tree.root()
    engine.dispose()
    return tree.root(), roots, time.perf_counter() - started


def _floor_ms(url: str, tiles_per_proof: float, rng: random.Random, runs: int) -> float:
    """p50 of the raw driver reading ``tiles_per_proof`` tile rows by key."""
    if url.startswith("sqlite"):
        conn: Any = sqlite3.connect(url.removeprefix("sqlite:///"))
        mark = "?"
    else:
        import psycopg  # noqa: PLC0415 - only for the PostgreSQL run

        conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
        mark = "%s"
    query = f"SELECT hashes FROM audit_tiles WHERE log_id='p' AND level=0 AND idx={mark}"  # noqa: S608 - a constant
    top = conn.execute("SELECT max(idx) FROM audit_tiles WHERE level = 0").fetchone()[0]
    count = max(1, round(tiles_per_proof))
    times = []
    for _ in range(runs):
        keys = [rng.randrange(top + 1) for _ in range(count)]
        t0 = time.perf_counter()
        for key in keys:
            conn.execute(query, (key,)).fetchone()
        times.append((time.perf_counter() - t0) * 1000)
    conn.close()
    return statistics.median(times)


def _one_size(work: Path, size: int, runs: int, postgres: str | None) -> dict[str, object]:
    path = work / f"tiles-{size}.db"
    url = new_database(postgres) if postgres else f"sqlite:///{path}"
    root, older, build_s = _build(url, size)
    engine = create_engine(url)
    rng = random.Random(size)  # noqa: S311 - which leaves to prove, not secrets
    inclusion, consistency, read = [], [], []
    with engine.connect() as conn:
        for _ in range(runs):
            index = rng.randrange(size)
            t0 = time.perf_counter()
            reader = tiles.TileReader(conn, "p")
            leaf = reader.leaf(index)
            proof = inclusion_path(reader.range_root, index, size)
            inclusion.append((time.perf_counter() - t0) * 1000)
            read.append(reader.tiles_read)
            verify_inclusion(leaf, index, size, proof, root)
        for old_size, old_root in sorted(older.items()) * max(1, runs // 30):
            t0 = time.perf_counter()
            proof = consistency_path(tiles.TileReader(conn, "p").range_root, old_size, size)
            consistency.append((time.perf_counter() - t0) * 1000)
            verify_consistency(old_size, size, old_root, root, proof)
    engine.dispose()
    tiles_per_proof = statistics.mean(read)
    floor = _floor_ms(url, tiles_per_proof, rng, runs)
    p50 = statistics.median(inclusion)
    return {
        "leaves": size,
        "build_s": round(build_s, 1),
        "db_bytes": _bytes(url, path, work),
        "inclusion_ms": {
            "p50": round(p50, 3),
            "p99": round(percentile(inclusion, 99), 3),
            "max": round(max(inclusion), 3),
        },
        "consistency_ms": {
            "p50": round(statistics.median(consistency), 3),
            "p99": round(percentile(consistency, 99), 3),
        },
        "tiles_read_per_inclusion": round(tiles_per_proof, 2),
        "floor_raw_tile_reads_ms_p50": round(floor, 3),
        "ratio_p50_to_floor": ratio(p50, floor),
        "target_p99_ms": 5.0,
    }


def _bytes(url: str, path: Path, work: Path) -> int:
    if url.startswith("sqlite"):
        return path.stat().st_size + sum(p.stat().st_size for p in work.glob("*-wal"))
    engine = create_engine(url)
    with engine.connect() as conn:
        size = int(
            conn.exec_driver_sql("SELECT pg_total_relation_size('audit_tiles')").scalar_one()
        )
    engine.dispose()
    return size


def _rehash_ms(size: int) -> float:
    """One inclusion proof the old way (leaf hashes already in memory), at ``size``."""
    leaves = [_leaf(i) for i in range(size)]
    t0 = time.perf_counter()
    inclusion_proof(leaves, size // 2, size)
    return (time.perf_counter() - t0) * 1000


def b15_proofs(work: Path, quick: bool, postgres: str | None = None) -> dict[str, object]:
    """Proof times at 1 M and 10 M leaves on SQLite, or on PostgreSQL at ``postgres``."""
    sizes = (100_000,) if quick else (1_000_000, 10_000_000)
    runs = 200 if quick else 1_000
    out: dict[str, object] = {str(size): _one_size(work, size, runs, postgres) for size in sizes}
    if postgres is None:
        out["rehash_from_leaves_ms"] = {str(sizes[0]): round(_rehash_ms(sizes[0]), 1)}
    return out
