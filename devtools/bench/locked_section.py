"""B11L: the ingest's locked section alone, uncontended — what one write lock allows.

B11 runs the load generator on the server's own two cores, so every thread of
the server waits for a core and the write lock's section is stretched by that
wait. Here the group committer's own code runs alone in this process: groups of
13 requests x 50 events (the group size B11 produced on PostgreSQL), each
request from its own user and device with an ``Idempotency-Key``, as B11's
are. Measured per event: the lock held (taken → committed, wall and CPU), and
the work before it (the device, task, stored-event and key reads; rows and
leaves built and encoded for the bulk insert), which runs
on each request's own thread, in every server process at once, and not on the
committer's. One lock over the whole database caps
every process together at 1 / (held per event): the figure the per-core
projection in ``docs/performance.md`` needs. Beside it, in the same run, the
raw driver floor with 500 rows per commit.
"""

from __future__ import annotations

import contextlib
import hashlib
import statistics
import sys
import time
import uuid
from pathlib import Path

from sqlalchemy import Engine, insert

from app.wire.schemas import EventBatchIn
from server import db, provision
from server.api import idempotency
from server.api.event_batch import ENDPOINT, EventBatch
from server.api.principal import Principal
from server.cli import main as server_main
from server.context import open_context
from server.datadir import DataDir

REQUESTS = 13
BATCH = 50
GROUPS = 60


def b11_locked(work: Path, postgres: str | None, floor: float) -> dict[str, object]:
    """The section on SQLite, or on the PostgreSQL server at ``postgres``; ``floor``: the
    same run's raw events/s at 500 rows per commit on that engine."""
    engine = "postgresql" if postgres else "sqlite"
    data_dir = work / f"locked-{engine}"
    init = ["init", "--data-dir", str(data_dir)]
    if postgres:
        from devtools.postgres import new_database  # noqa: PLC0415

        init += ["--database", new_database(postgres)]
    with contextlib.redirect_stdout(sys.stderr):
        server_main(init)
    ctx = open_context(DataDir(data_dir))
    try:
        principals = _workstations(ctx.engine)
        committer = ctx.committer
        held, held_cpu, before = [], [], []
        for group in range(GROUPS + 5):  # the first five warm the caches; not counted
            seq = group + 1
            jobs = []
            for number, principal in enumerate(principals):
                body = EventBatchIn.model_validate({"events": [
                    {"event_id": str(uuid.uuid4()), "action": "capture_attempt",
                     "client_time": time.time(), "seq": seq * BATCH + i}
                    for i in range(BATCH)
                ]})  # fmt: skip
                key = f"locked-{number}-{seq}"
                digest = idempotency.request_hash(ENDPOINT, body)
                jobs.append(EventBatch(principal, body.events, key, digest))
            began = time.perf_counter()
            for job in jobs:  # on each request's thread in the server
                committer.prepare(job)
            prepared = time.perf_counter() - began
            locked_s, locked_cpu_s = committer.locked_s, committer.locked_cpu_s
            outcomes = committer.run_group(jobs)
            if not all(getattr(o, "accepted", 0) == BATCH for o in outcomes):
                raise RuntimeError(f"a request of the group was not stored: {outcomes}")
            if group >= 5:
                held.append(committer.locked_s - locked_s)
                held_cpu.append(committer.locked_cpu_s - locked_cpu_s)
                before.append(prepared)
    finally:
        ctx.engine.dispose()
    events = REQUESTS * BATCH
    held_us = statistics.median(held) / events * 1e6
    return {
        "what": f"groups of {REQUESTS} requests x {BATCH} events through the group committer "
        "alone (no HTTP, no other load): the write lock's section per event",
        "database": engine,
        "groups": GROUPS,
        "locked_us_per_event_p50": round(held_us, 1),
        "locked_us_per_event_max": round(max(held) / events * 1e6, 1),
        "locked_cpu_us_per_event_p50": round(statistics.median(held_cpu) / events * 1e6, 1),
        "before_lock_us_per_event_p50": round(statistics.median(before) / events * 1e6, 1),
        "lock_capacity_events_per_s": round(1e6 / held_us),
        "floor_raw_500_per_commit_events_per_s": round(floor),
        "ratio_to_floor": round(1e6 / held_us / floor, 3),
        "target_events_per_s_min": 20_000,
    }


def _workstations(engine: Engine) -> list[Principal]:
    """``REQUESTS`` users, each with a device of its own (its key's thumbprint as ``jkt``)."""
    principals = []
    for i in range(REQUESTS):
        user_id = provision.ensure_user(engine, f"locked{i:02d}", f"Locked {i}")
        jkt = hashlib.sha256(f"workstation-{i}".encode()).hexdigest()[:43]
        with engine.begin() as conn:
            conn.execute(insert(db.devices).values(
                id=f"dev_locked{i:02d}", user_id=user_id, name=f"ws{i}", public_key=b"-",
                fingerprint=jkt, created_at=int(time.time()), jkt=jkt,
            ))  # fmt: skip
        principals.append(Principal(user_id=user_id, remote_addr="127.0.0.1", jkt=jkt))
    return principals
