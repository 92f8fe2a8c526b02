"""A private PostgreSQL server for the tests: its own directory, port and socket, stopped by pid.

Debian's ``initdb`` refuses to run as root (and CI runs as root), so as root the
server is made and started as the ``postgres`` user, in a directory that user
owns; as anyone else, as that user. ``trust`` authentication on 127.0.0.1 only:
the server accepts connections from this machine alone and lives for one test
run, without fsync (tests check behaviour, not durability). Stopped with SIGINT
(PostgreSQL's fast shutdown) to the postmaster's pid.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

#: A test run's server: speed over durability (the bench runs with the durable defaults).
_FAST = ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]


def _bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not found:
        raise FileNotFoundError(f"PostgreSQL's {name} is not installed (Debian: postgresql)")
    return str(found[-1])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_owner(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.getuid() == 0 else command


@contextmanager
def private_postgres(*, durable: bool = False) -> Iterator[str]:
    """Start a server; yield its base URL (``postgresql+psycopg://postgres@127.0.0.1:PORT``).

    ``durable``: PostgreSQL's own defaults (fsync, ``synchronous_commit=on``), for the
    benchmark; otherwise without fsync, for the tests' speed.
    """
    root = Path(tempfile.mkdtemp(prefix="cordon-pg-", dir="/tmp"))
    data, sockets = root / "data", root / "sockets"
    sockets.mkdir()
    if os.getuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    port = _free_port()
    subprocess.run(
        _as_owner([_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                   "--no-instructions", "-E", "UTF8"]),
        check=True, capture_output=True,
    )  # fmt: skip
    server = subprocess.Popen(
        _as_owner([_bin("postgres"), "-D", str(data), "-p", str(port), "-k", str(sockets),
                   "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=300",
                   *([] if durable else _FAST)]),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    url = f"postgresql://postgres@127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(url + "/postgres", connect_timeout=2):
                    break
            except psycopg.OperationalError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the test PostgreSQL server did not start") from None
                time.sleep(0.2)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        # SIGINT to the postmaster (its pid from postmaster.pid: runuser does not pass
        # SIGINT on while clients are connected) is a fast shutdown; then wait for it.
        if server.poll() is None:
            os.kill(_postmaster_pid(data) or server.pid, signal.SIGINT)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        shutil.rmtree(root, ignore_errors=True)


def _postmaster_pid(data: Path) -> int | None:
    try:
        return int((data / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def new_database(base_url: str) -> str:
    """A fresh, empty database on the server at ``base_url``; its URL."""
    name = "cordon_" + os.urandom(6).hex()
    plain = base_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain + "/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")  # a name made here: no quoting needed
    return f"{base_url}/{name}"


#: The role :func:`owned_database` makes: a login role, neither superuser nor BYPASSRLS.
OWNER_ROLE = "cordon_owner"


def owned_database(base_url: str) -> str:
    """A fresh database owned by :data:`OWNER_ROLE`, and its URL as that role — what the
    README's production recipe makes (``createuser``, ``createdb -O``), and a role
    PostgreSQL applies forced row-level security to."""
    name = "cordon_" + os.urandom(6).hex()
    plain = base_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain + "/postgres", autocommit=True) as conn:
        with contextlib.suppress(psycopg.errors.DuplicateObject):  # made for an earlier one
            conn.execute(f"CREATE ROLE {OWNER_ROLE} LOGIN")
        conn.execute(f"CREATE DATABASE {name} OWNER {OWNER_ROLE}")
    return f"{base_url.replace('://postgres@', f'://{OWNER_ROLE}@')}/{name}"
