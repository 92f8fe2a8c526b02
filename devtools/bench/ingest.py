"""B11: durable event ingest — 200 concurrent clients on loopback TLS vs raw SQLite.

The floor is plain ``sqlite3`` inserting the same kind of row (UUID unique,
``ON CONFLICT DO NOTHING``) with WAL and ``synchronous=FULL``, one thread, 50
and 500 rows per transaction, in the same run. The measured side is the real
server (``cordon-server demo``) taking 50-event batches from 200 simulated
workstations (each its own user, device, token, TLS session and sequence) with
an ``Idempotency-Key``, each waiting for its acknowledgement before sending
the next: throughput, and p50/p99 of the acknowledgement latency. Then an open
loop (a batch every 4 s from each workstation): the acknowledgement latency at a
given load, measured once every workstation has its TLS session and DPoP nonce
(its first request, a handshake and a nonce round trip more, is reported apart).

The load generator runs on the same 2 cores as the server (four processes of
50 threads): its own CPU use is part of what limits the figure.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import multiprocessing
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.api.client import CordonApi
from app.api.errors import ApiError
from app.crypto.device_keys import DeviceKeyPair
from app.crypto.dpop import DPoPKey
from app.wire.schemas import EventBatchIn, Role
from devtools.bench.measure import ratio
from devtools.processes import start_server, stop
from server import provision
from server.cli import main as server_main
from server.datadir import DataDir
from server.db import make_engine

CLIENTS = 200
PROCESSES = 4
BATCH = 50
#: Open loop: each workstation sends a batch every 4 s, 2,500 events/s in all. Not 5 s:
#: the server closes a connection idle for 5 s, and a batch sent as it closes pays a
#: second send and a new TLS handshake (the client's answer to that race).
OPEN_LOOP_INTERVAL_S = 4.0
#: The open loop's measured window, in closed-loop windows: 20 s, five batches per
#: workstation (about 1,000 acknowledgements), after one interval of first requests.
OPEN_LOOP_WINDOWS = 2


@dataclass
class Load:
    """What one phase of load measured."""

    events_per_s: float
    ack_p50_ms: float
    ack_p99_ms: float
    requests: int
    server_cpu_share: float
    failed: int
    database_cpu_share: float | None
    machine_busy_cores: float
    failed_by_kind: dict[str, int]
    #: Open loop: each workstation's first request (TLS handshake, DPoP nonce), apart.
    first_p50_ms: float | None = None
    first_p99_ms: float | None = None


def sqlite_floor(path: Path, per_txn: int, seconds: float) -> float:
    """Events per second, raw sqlite3, WAL + FULL, ``per_txn`` rows per commit."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS e (seq INTEGER PRIMARY KEY, event_id TEXT UNIQUE, "
        "action TEXT, outcome TEXT, user_id TEXT, client_time REAL, server_time REAL)"
    )
    done, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        now = time.time()
        rows = [(str(uuid.uuid4()), "capture_attempt", "ok", "u", now, now) for _ in range(per_txn)]
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO e (event_id, action, outcome, user_id, client_time, server_time) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            rows,
        )
        conn.execute("COMMIT")
        done += per_txn
    rate = done / (time.perf_counter() - began)
    conn.close()
    return rate


def postgres_floor(base_url: str, per_txn: int, seconds: float) -> float:
    """Events per second, raw psycopg batch inserts, ``synchronous_commit=on`` (the
    server's durable default), ``per_txn`` rows per commit."""
    import psycopg  # noqa: PLC0415 - only for the PostgreSQL runs

    from devtools.postgres import new_database  # noqa: PLC0415

    url = new_database(base_url).replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        conn.execute(
            "CREATE TABLE e (seq BIGSERIAL PRIMARY KEY, event_id TEXT UNIQUE, action TEXT, "
            "outcome TEXT, user_id TEXT, client_time DOUBLE PRECISION, "
            "server_time DOUBLE PRECISION)"
        )
        conn.commit()
        done, began = 0, time.perf_counter()
        while time.perf_counter() - began < seconds:
            now = time.time()
            rows = [(str(uuid.uuid4()), "capture_attempt", "ok", "u", now, now)
                    for _ in range(per_txn)]  # fmt: skip
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO e (event_id, action, outcome, user_id, client_time, "
                    "server_time) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                    rows,
                )
            conn.commit()
            done += per_txn
        return done / (time.perf_counter() - began)


def provision_workstations(data_dir: Path, url: str, ca: Path) -> list[tuple[str, str]]:
    """200 users, each on a workstation of their own with an enrolled device.

    Returns (token, workstation signing key as base64 PKCS#8): every request is
    proven with DPoP, as Cordon's client proves it.
    """
    engine = make_engine(DataDir(data_dir).database_url)
    clients = []
    for i in range(CLIENTS):
        user = provision.ensure_user(engine, f"bench{i:03d}", f"Bench {i}", demo=True)
        provision.set_membership(engine, user, _demo_project(engine), Role.ANNOTATOR)
        key = DPoPKey.generate()
        api = CordonApi(url, ca)
        api.set_proof_key(key)
        token = api.demo_login(f"bench{i:03d}").access_token
        api.set_token(token)
        public = base64.b64encode(DeviceKeyPair.generate().public_bytes()).decode()
        api.enroll_device(f"ws{i}", public)
        api.close()
        clients.append((token, base64.b64encode(key.private_bytes()).decode()))
    engine.dispose()
    return clients


def _demo_project(engine: Any) -> str:
    from sqlalchemy import select  # noqa: PLC0415

    from server import db  # noqa: PLC0415

    with engine.connect() as conn:
        return str(conn.execute(select(db.projects.c.id)).scalars().first())


def _worker(
    url: str,
    ca: str,
    clients: list[tuple[str, str]],
    seconds: float,
    interval: float,
    out: Any,
    seq_from: int,
) -> None:
    """One process: a thread per simulated workstation.

    ``interval`` 0: each sends its next batch as soon as the last is acknowledged
    (closed loop: the server's capacity). Otherwise one batch every ``interval``
    seconds, start times spread (open loop: latency at a given offered load): the
    first, in the first interval, opens the workstation's connection and fetches its
    nonce, as a workstation does once a session; ``seconds`` of batches follow.
    """
    latencies: list[float] = []
    firsts: list[float] = []
    accepted, failed = [0], [0]
    kinds: dict[str, int] = {}  # what the failed requests were: exception class and code
    lock = threading.Lock()
    stop_at = time.perf_counter() + interval + seconds

    def workstation(token: str, key: str) -> None:
        api = CordonApi(url, Path(ca), timeout=(5.0, 60.0))
        api.set_token(token)
        api.set_proof_key(DPoPKey.from_private_bytes(base64.b64decode(key)))
        device = hashlib.sha256(key.encode()).hexdigest()[:12]  # a valid Idempotency-Key part
        # Each phase goes on from far ahead of the last: new numbers, new keys.
        seq, mine, errors, took = seq_from, 0, 0, []
        due = time.perf_counter() + random.uniform(0, interval)  # noqa: S311 - spread only
        while (due if interval else time.perf_counter()) < stop_at:
            if interval:
                time.sleep(max(0.0, due - time.perf_counter()))
                due += interval
            events = []
            for _ in range(BATCH):
                seq += 1
                events.append(
                    {"event_id": str(uuid.uuid4()), "action": "capture_attempt",
                     "client_time": time.time(), "seq": seq}
                )  # fmt: skip
            batch = EventBatchIn.model_validate({"events": events})
            began = time.perf_counter()
            try:
                ack = api.post_events(batch, idempotency_key=f"bench-{device}-{seq}")
                mine += ack.accepted
            except ApiError as exc:
                errors += 1  # counted: a refused or failed batch is not throughput
                kind = f"{type(exc).__name__}:{getattr(exc, 'code', '')}"
                with lock:
                    kinds[kind] = kinds.get(kind, 0) + 1
            took.append(time.perf_counter() - began)
        with lock:
            if interval and took:
                firsts.append(took.pop(0))
            latencies.extend(took)
            accepted[0] += mine
            failed[0] += errors
        api.close()

    threads = [threading.Thread(target=workstation, args=c) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.put((accepted[0], latencies, failed[0], kinds, firsts))


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its live children so far (``/proc``):
    with ``--workers`` the server is a supervisor and its worker processes."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return own + sum(_cpu_seconds(int(child)) for child in children)


def _machine_busy_s() -> float:
    """CPU seconds the whole machine has spent busy (every core, every process) so far."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # less idle, iowait


def postmaster_pid(base_url: str) -> int:
    """The PostgreSQL server's own pid (its backends are its children), found from a backend."""
    import psycopg  # noqa: PLC0415 - only for the PostgreSQL runs

    plain = base_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain + "/postgres") as conn:
        ((backend,),) = conn.execute("SELECT pg_backend_pid()").fetchall()
    return int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])


def b11_ingest(
    work: Path, seconds: float, workers: int = 1, postgres: str | None = None
) -> dict[str, object]:
    """B11 on SQLite, or with the database on the PostgreSQL server at ``postgres``."""
    engine = "postgresql" if postgres else "sqlite"
    floor_50 = sqlite_floor(work / f"floor50-{engine}{workers}.db", 50, 3.0)
    floor_500 = sqlite_floor(work / f"floor500-{engine}{workers}.db", 500, 3.0)
    pg_floors = {}
    if postgres:
        pg_floors = {
            "floor_postgres_50_per_txn_events_per_s": round(postgres_floor(postgres, 50, 3.0)),
            "floor_postgres_500_per_txn_events_per_s": round(postgres_floor(postgres, 500, 3.0)),
        }
    data_dir, proc, url, ca = start_demo_server(work / "ingest", workers, postgres)
    try:
        clients = provision_workstations(data_dir, url, ca)
        database_pid = postmaster_pid(postgres) if postgres else None
        closed = load(url, ca, clients, seconds, 0.0, proc.pid, database_pid)
        open_loop = load(
            url, ca, clients, seconds * OPEN_LOOP_WINDOWS, OPEN_LOOP_INTERVAL_S, proc.pid
        )
    finally:
        stop(proc)
    rate, cpu = closed.events_per_s, closed.server_cpu_share
    offered = CLIENTS * BATCH / OPEN_LOOP_INTERVAL_S
    return {
        "what": "50-event batches from 200 workstations over loopback TLS, ack after FULL commit",
        "database": engine,
        "server_processes": workers,
        "clients": CLIENTS,
        "closed_loop_events_per_s": round(rate),
        "closed_loop_ack_p50_ms": closed.ack_p50_ms,
        "closed_loop_ack_p99_ms": closed.ack_p99_ms,
        "closed_loop_requests": closed.requests,
        "closed_loop_failed_requests": closed.failed,
        "open_loop_failed_requests": open_loop.failed,
        "failed_requests_by_kind": {
            "closed_loop": closed.failed_by_kind,
            "open_loop": open_loop.failed_by_kind,
        },
        "server_cpu_share_of_one_core": cpu,
        # Per event, so runs with different rates compare: what one core would sustain.
        "server_cpu_us_per_event": round(cpu / rate * 1e6) if rate else None,
        **({"database_cpu_share_of_one_core": closed.database_cpu_share} if postgres else {}),
        # The load generator shares these cores: near their count, the box is saturated.
        "machine_busy_cores": closed.machine_busy_cores,
        "open_loop_offered_events_per_s": round(offered),
        "open_loop_events_per_s": round(open_loop.events_per_s),
        "open_loop_acks_measured": open_loop.requests,
        "open_loop_ack_p50_ms": open_loop.ack_p50_ms,
        "open_loop_ack_p99_ms": open_loop.ack_p99_ms,
        # Once per workstation session: a TLS handshake and a nonce round trip more.
        "open_loop_first_request_p50_ms": open_loop.first_p50_ms,
        "open_loop_first_request_p99_ms": open_loop.first_p99_ms,
        "floor_sqlite_50_per_txn_events_per_s": round(floor_50),
        "floor_sqlite_500_per_txn_events_per_s": round(floor_500),
        "ratio_to_floor_500": ratio(rate, floor_500),
        **pg_floors,
        "target_events_per_s_min": 20_000,
        "target_ack_p99_ms_max": 50,
        "target_ratio_min": 0.5,
    }


def start_demo_server(
    prefix: Path, workers: int, postgres: str | None
) -> tuple[Path, subprocess.Popen[bytes], str, Path]:
    """A fresh demo server (its data directory, process, URL and CA) on SQLite, or on a
    new database of the PostgreSQL server at ``postgres``; stop it with ``stop``."""
    name = f"{prefix.name}-{'postgresql' if postgres else 'sqlite'}{workers}"
    data_dir = prefix.with_name(f"{name}-server")
    empty = prefix.with_name(f"{name}-audio")
    empty.mkdir()
    init = ["init", "--data-dir", str(data_dir)]
    if postgres:
        from devtools.postgres import new_database  # noqa: PLC0415

        init += ["--database", new_database(postgres)]
    with contextlib.redirect_stdout(sys.stderr):
        server_main(init)
    proc, url = start_server(
        data_dir, "--audio-dir", str(empty), "--workers", str(workers), command="demo"
    )
    return data_dir, proc, url, data_dir / "pki" / "ca.pem"


def _percentile_ms(values: list[float], q: float) -> float | None:
    ordered = sorted(values)
    return round(ordered[max(0, int(len(ordered) * q) - 1)] * 1000, 1) if ordered else None


def load(
    url: str,
    ca: Path,
    clients: list[tuple[str, str]],
    seconds: float,
    interval: float,
    pid: int,
    database_pid: int | None = None,
    *,
    seq_from: int | None = None,
    processes: int = PROCESSES,
) -> Load:
    """One phase of load from ``processes`` processes of workstations (``_worker``).

    ``seq_from``: where each workstation's event numbers (and so its idempotency keys)
    start; a phase after another on the same server must start past the last one's.
    """
    if seq_from is None:
        seq_from = 1_000_000 if interval else 0
    context = multiprocessing.get_context("spawn")
    queue: Any = context.Queue()
    procs = [
        context.Process(
            target=_worker,
            args=(
                url,
                str(ca),
                clients[i::processes],
                seconds,
                interval,
                queue,
                seq_from,
            ),
        )
        for i in range(processes)
    ]
    for p in procs:
        p.start()
    cpu_before, began = _cpu_seconds(pid), time.perf_counter()
    database_before = _cpu_seconds(database_pid) if database_pid else 0.0
    busy_before = _machine_busy_s()
    results = [queue.get(timeout=interval + seconds + 120) for _ in procs]
    elapsed = time.perf_counter() - began
    server_cpu = _cpu_seconds(pid) - cpu_before
    busy = round((_machine_busy_s() - busy_before) / elapsed, 2)
    database_cpu = (
        round((_cpu_seconds(database_pid) - database_before) / elapsed, 2) if database_pid else None
    )
    for p in procs:
        p.join(30)
    latencies = [x for r in results for x in r[1]]
    firsts = [x for r in results for x in r[4]]
    kinds: dict[str, int] = {}
    for r in results:
        for kind, n in r[3].items():
            kinds[kind] = kinds.get(kind, 0) + n
    return Load(
        events_per_s=sum(r[0] for r in results) / elapsed,
        ack_p50_ms=round(statistics.median(latencies) * 1000, 1) if latencies else 0.0,
        ack_p99_ms=_percentile_ms(latencies, 0.99) or 0.0,
        requests=len(latencies),
        server_cpu_share=round(server_cpu / elapsed, 2),
        failed=sum(r[2] for r in results),
        database_cpu_share=database_cpu,
        machine_busy_cores=busy,
        failed_by_kind=kinds,
        first_p50_ms=round(statistics.median(firsts) * 1000, 1) if firsts else None,
        first_p99_ms=_percentile_ms(firsts, 0.99),
    )
