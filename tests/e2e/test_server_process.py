"""The server as processes: what `scripts/demo.sh` and an operator start."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from app.api.client import CordonApi
from app.crypto.dpop import NONCE_HEADER, PROOF_HEADER, SCHEME, DPoPKey
from app.wire.schemas import EventBatchIn
from devtools.processes import start_server, stop
from server.cli import main as server_main
from server.datadir import DataDir

pytestmark = pytest.mark.e2e


def test_the_demo_initialises_a_fresh_data_directory(tmp_path: Path) -> None:
    """`cordon-server demo` on an empty directory makes it (as the demo launcher relies on)."""
    data = tmp_path / "fresh"
    proc, url = start_server(data, command="demo")
    try:
        assert url.startswith("https://127.0.0.1:")
        DataDir(data).require_initialised()
    finally:
        stop(proc)


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _signed_in(url: str, ca: Path) -> CordonApi:
    api = CordonApi(url, ca)
    api.set_proof_key(DPoPKey.generate())
    api.set_token(api.demo_login("annotator").access_token)
    return api


def _events(count: int, first_seq: int) -> EventBatchIn:
    return EventBatchIn.model_validate(
        {
            "events": [
                {
                    "event_id": str(uuid.uuid4()),
                    "action": "playback_started",
                    "seq": seq,
                    "client_time": 1.0,
                }
                for seq in range(first_seq, first_seq + count)
            ]
        }
    )


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    data = tmp_path / "data"
    proc, url = start_server(data, "--workers", "2", command="demo")
    try:
        yield proc, url, data
    finally:
        stop(proc)


def test_two_workers_share_the_port_the_log_and_the_checkpoints(
    two_workers: tuple[subprocess.Popen[bytes], str, Path],
) -> None:
    """Eight workstations posting at once through two processes: every event once, in one
    verified log per project, checkpoints signed by one process; both processes worked."""
    proc, url, data = two_workers
    workers = _children(proc.pid)
    assert len(workers) == 2
    before = {pid: _cpu_s(pid) for pid in workers}
    ca = data / "pki" / "ca.pem"
    accepted: list[int] = []

    def workstation() -> None:
        api = _signed_in(url, ca)
        for batch in range(20):
            ack = api.post_events(_events(25, batch * 25 + 1), idempotency_key=str(uuid.uuid4()))
            accepted.append(ack.accepted)
        api.close()

    threads = [threading.Thread(target=workstation) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert sum(accepted) == 8 * 20 * 25
    assert all(_cpu_s(pid) - before[pid] > 0.2 for pid in workers), "one process did nothing"
    time.sleep(6)  # the leader's checkpoint round (every few seconds)
    assert server_main(["audit", "verify", "--data-dir", str(data)]) == 0
    exported = list((data / "audit-checkpoints").rglob("*"))
    assert [p for p in exported if p.is_file()]  # someone signed, and verify agreed with it


def _sockets(pid: int) -> int:
    fds = Path(f"/proc/{pid}/fd")
    return sum(1 for fd in fds.iterdir() if os.readlink(fd).startswith("socket:"))


def test_a_proof_replayed_on_another_connection_is_refused_by_every_worker(
    two_workers: tuple[subprocess.Popen[bytes], str, Path],
) -> None:
    """One proof, sent again on open connections held by both processes: only the first
    use passes. With a replay cache per process, the other process would take it once."""
    proc, url, data = two_workers
    ca = data / "pki" / "ca.pem"
    key = DPoPKey.generate()
    api = CordonApi(url, ca)
    api.set_proof_key(key)
    token = api.demo_login("annotator").access_token
    api.close()
    target = url + "/v1/tasks"
    workers = _children(proc.pid)
    before = {pid: _sockets(pid) for pid in workers}
    sessions = []
    for _ in range(12):
        session = requests.Session()
        session.trust_env = False
        session.verify = str(ca)
        sessions.append(session)
    barrier = threading.Barrier(len(sessions))

    def connect(session: requests.Session) -> None:
        barrier.wait()  # all at once, so both processes accept some
        assert session.get(url + "/v1/health", timeout=10).status_code == 200

    threads = [threading.Thread(target=connect, args=(s,)) for s in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    held = {pid: _sockets(pid) - before[pid] for pid in workers}
    assert all(count > 0 for count in held.values()), f"connections per process: {held}"
    headers = {"Authorization": f"{SCHEME} {token}"}
    first = sessions[0].get(
        target, headers={**headers, PROOF_HEADER: key.proof("GET", target, access_token=token)}
    )
    proof = key.proof("GET", target, access_token=token, nonce=first.headers[NONCE_HEADER])
    answers = [
        s.get(target, headers={**headers, PROOF_HEADER: proof}).status_code for s in sessions
    ]
    for session in sessions:
        session.close()
    assert answers[0] == 200 and answers[1:] == [401] * (len(sessions) - 1), answers


def test_stopping_the_server_stops_every_worker(
    two_workers: tuple[subprocess.Popen[bytes], str, Path],
) -> None:
    proc, _url, _data = two_workers
    workers = _children(proc.pid)
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(30) == 0
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()


def test_one_process_leads_a_data_directory_until_it_exits(tmp_path: Path) -> None:
    """The singletons' lock: a second process cannot lead while the first lives."""
    DataDir(tmp_path).root.mkdir(exist_ok=True)
    code = (
        "import sys, time; from pathlib import Path; from server import leader;"
        "from server.datadir import DataDir; d = DataDir(Path(sys.argv[1]));"
        "print(leader.leads(d), flush=True); time.sleep(float(sys.argv[2]))"
    )
    first = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path), "30"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert first.stdout is not None and first.stdout.readline().strip() == "True"
        second = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path), "0"], capture_output=True, text=True,
            check=True,
        )  # fmt: skip
        assert second.stdout.strip() == "False"
    finally:
        first.kill()
        first.wait()
    third = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path), "0"], capture_output=True, text=True, check=True
    )
    assert third.stdout.strip() == "True"


def test_a_second_server_on_the_port_is_refused_not_joined(tmp_path: Path) -> None:
    """The workers' sockets share the port (SO_REUSEPORT); a second server started on it,
    even of the same user and with workers too, must not take a share of its connections."""
    data, other = tmp_path / "data", tmp_path / "other"
    for where in (data, other):
        assert server_main(["init", "--data-dir", str(where)]) == 0
    proc, url = start_server(data, "--workers", "2")
    try:
        port = url.rsplit(":", 1)[1]
        second = subprocess.run(
            [sys.executable, "-m", "server", "serve", "--data-dir", str(other), "--port", port,
             "--workers", "2"],
            check=False, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert second.returncode == 2, second.stderr
        assert f"cannot listen on 127.0.0.1:{port}" in second.stderr
        assert "nothing was started" in second.stderr
        assert len(_children(proc.pid)) == 2  # the first server is untouched
    finally:
        stop(proc)


def test_serve_with_workers_and_no_worker_outlives_its_supervisor(tmp_path: Path) -> None:
    """`serve --workers 2` on an initialised directory; a supervisor killed outright
    (no chance to stop anyone) still takes its workers with it, and the port is free."""
    data = tmp_path / "data"
    assert server_main(["init", "--data-dir", str(data)]) == 0
    proc, url = start_server(data, "--workers", "2")
    try:
        workers = _children(proc.pid)
        assert len(workers) == 2
        ca = data / "pki" / "ca.pem"
        with requests.Session() as session:
            session.trust_env = False
            session.verify = str(ca)
            assert session.get(url + "/v1/health", timeout=10).status_code == 200
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 20
        while any(Path(f"/proc/{pid}").exists() for pid in workers):
            assert time.monotonic() < deadline, "a worker outlived its supervisor"
            time.sleep(0.1)
        port = int(url.rsplit(":", 1)[1])
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))  # nobody holds the port any more
    finally:
        stop(proc)


def test_two_workers_on_postgresql_keep_one_log_order_and_every_acknowledged_event(
    tmp_path: Path,
) -> None:
    """Two processes writing one PostgreSQL database (the ingest path's COPY inserts, its
    numbering, its one advisory write lock): each batch's leaves are the range its
    acknowledgement names, holding exactly its events — no batch interleaved with
    another or numbered twice — the log's order is the events' order, and after the
    server is killed outright every acknowledged event is there with its leaf."""
    import psycopg  # noqa: PLC0415 - only for this engine

    from devtools.postgres import new_database, private_postgres  # noqa: PLC0415

    if not list(Path("/usr/lib/postgresql").glob("*/bin/postgres")):
        pytest.skip("PostgreSQL is not installed")
    with private_postgres() as base:
        data = tmp_path / "data"
        database = new_database(base)
        assert server_main(["init", "--data-dir", str(data), "--database", database]) == 0
        proc, url = start_server(data, "--workers", "2", command="demo")
        batches: list[tuple[str, int, int, list[str]]] = []
        try:
            ca = data / "pki" / "ca.pem"

            def workstation() -> None:
                api = _signed_in(url, ca)
                for number in range(15):
                    batch = _events(25, number * 25 + 1)
                    ack = api.post_events(batch, idempotency_key=str(uuid.uuid4()))
                    assert ack.accepted == 25
                    ((log,),) = [ack.logs]  # no task named: all in the server's log
                    ids = [e.event_id for e in batch.events]
                    batches.append((log.log_id, log.first_index, log.count, ids))
                api.close()

            threads = [threading.Thread(target=workstation) for _ in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(120)
            os.killpg(proc.pid, signal.SIGKILL)  # no graceful shutdown: acks must already hold
            proc.wait(10)
        finally:
            stop(proc)
        assert len(batches) == 8 * 15
        spans = sorted((first, first + count) for _log, first, count, _ids in batches)
        assert all(end <= following for (_, end), (following, _) in itertools.pairwise(spans))
        with psycopg.connect(database.replace("postgresql+psycopg://", "postgresql://")) as conn:
            for log_id, first, count, ids in batches:
                stored = conn.execute(
                    "SELECT e.event_id FROM audit_leaves l JOIN access_events e"
                    " ON e.seq = l.event_seq WHERE l.log_id = %s AND l.idx >= %s AND l.idx < %s",
                    (log_id, first, first + count),
                ).fetchall()
                assert sorted(row[0] for row in stored) == sorted(ids)
            out_of_order = conn.execute(
                "SELECT count(*) FROM (SELECT event_seq, lag(event_seq) OVER (ORDER BY idx)"
                " AS before FROM audit_leaves WHERE log_id = 'server') AS leaves"
                " WHERE before >= event_seq"
            ).fetchone()
        assert out_of_order == (0,)
        assert server_main(["audit", "verify", "--data-dir", str(data)]) == 0
