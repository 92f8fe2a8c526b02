"""Signed checkpoints: commit to each log's size and root, and export them write-once.

A checkpoint is the transparency-dev checkpoint body signed as a C2SP note with
the server's Ed25519 audit key. It is stored in ``audit_checkpoints`` and
exported as one file per checkpoint under ``DataDir.checkpoint_dir`` — created
with ``O_EXCL``, fsynced, read-only, never rewritten — so a copy outside the
database exists that a later rewrite of the database cannot match. The
operator ships that directory to storage the server cannot rewrite (an
append-only mount, a WORM bucket); on Linux ``chattr +a`` on the directory
keeps even the server's own user from replacing a file.

The checkpoint thread makes one for a log that grew by :data:`EVERY_ENTRIES`
entries (it is nudged after every ingest commit, and looks at most once per
:data:`NUDGE_GAP_S`) and, every few seconds, for any log that grew at all.
Signing never runs inside a request: under load one checkpoint simply covers
everything committed since the last.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import IntegrityError

from server import leader
from server.auditlog import store
from server.auditlog.checkpoint import Checkpoint, NoteSigner
from server.datadir import DataDir, ensure_secret

logger = logging.getLogger(__name__)

KEY_NAME = "cordon-audit"
EVERY_ENTRIES = 1024
EVERY_SECONDS = 10.0
#: Nudges within this many seconds of a look are gathered into the next look. Each look
#: reads every log's head and root; done after each of ~40 group commits a second, it
#: took 15 % of the interpreter under B11's open loop, beside the requests it delays.
NUDGE_GAP_S = 0.25


def origin(log_id: str) -> str:
    """The checkpoint origin line for a log: names the log, so a note cannot be replayed."""
    return f"cordon/audit/{log_id}"


def load_signer(data: DataDir) -> NoteSigner:
    """The server's checkpoint signer (its seed is created on first use, 0600)."""
    seed = ensure_secret(data.audit_key_path, 32)
    return NoteSigner(Ed25519PrivateKey.from_private_bytes(seed), KEY_NAME)


def publish_verifier_key(data: DataDir, signer: NoteSigner) -> Path:
    """Write the public verifier key next to the checkpoints (auditors pin it)."""
    data.checkpoint_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = data.checkpoint_dir / "verifier.vkey"
    if not path.exists():
        path.write_text(signer.verifier_key() + "\n")
    return path


def export_path(data: DataDir, log_id: str, size: int) -> Path:
    return data.checkpoint_dir / log_id / f"{size:020d}.checkpoint"


def _export(data: DataDir, log_id: str, size: int, note: str) -> None:
    path = export_path(data, log_id, size)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o444)
    except FileExistsError:
        if path.read_text() != note:
            logger.error("exported checkpoint %s/%d differs from the database", log_id, size)
        return
    with os.fdopen(fd, "w") as out:
        out.write(note)
        out.flush()
        os.fsync(out.fileno())
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@dataclass
class Checkpointer:
    """Signs and exports a checkpoint for every log that grew since its last one."""

    data: DataDir
    engine: Engine
    signer: NoteSigner

    def run_once(self, min_growth: int = 1) -> list[tuple[str, int]]:
        """Checkpoint every log grown by ``min_growth``; return ``(log_id, size)`` made."""
        made = []
        with self.engine.connect() as conn:
            heads = conn.execute(select(store.audit_heads.c.log_id)).scalars().all()
            done = dict(
                conn.execute(
                    select(
                        store.audit_checkpoints.c.log_id, func.max(store.audit_checkpoints.c.size)
                    ).group_by(store.audit_checkpoints.c.log_id)
                ).all()
            )
        for log_id in heads:
            made.extend(self._checkpoint(log_id, done.get(log_id, 0), min_growth))
        return made

    def _checkpoint(self, log_id: str, last: int, min_growth: int) -> list[tuple[str, int]]:
        # The head need not be read in the insert's transaction: the log only grows,
        # so (size, root) read here stays the true root at that size.
        with self.engine.connect() as conn:
            size, root = store.head(conn, log_id)
        if size < last + min_growth:
            self._export_latest(log_id, last)
            return []
        note = self.signer.sign(Checkpoint(origin(log_id), size, root))
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(store.audit_checkpoints).values(
                        log_id=log_id, size=size, root=root, note=note, created_at=int(time.time())
                    )
                )
        except IntegrityError:
            return []  # another thread made this very checkpoint
        _export(self.data, log_id, size, note)  # only once it is committed
        return [(log_id, size)]

    def _export_latest(self, log_id: str, size: int) -> None:
        """Re-export a committed checkpoint whose file a crash kept from being written."""
        if size == 0 or export_path(self.data, log_id, size).exists():
            return
        with self.engine.connect() as conn:
            note = conn.execute(
                select(store.audit_checkpoints.c.note).where(
                    store.audit_checkpoints.c.log_id == log_id,
                    store.audit_checkpoints.c.size == size,
                )
            ).scalar_one()
        _export(self.data, log_id, size, note)


class CheckpointThread:
    """Checkpoints grown logs when nudged, every log every few seconds, until stopped."""

    def __init__(
        self, checkpointer: Checkpointer, every_s: float = EVERY_SECONDS,
        nudge_gap_s: float = NUDGE_GAP_S,
    ) -> None:  # fmt: skip
        self._checkpointer = checkpointer
        self._every = every_s
        self._gap = nudge_gap_s
        self._stop = threading.Event()
        self._nudged = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cordon-checkpoints", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def nudge(self) -> None:
        """New entries committed: checkpoint any log that crossed :data:`EVERY_ENTRIES`."""
        self._nudged.set()

    def stop(self) -> None:
        self._stop.set()
        self._nudged.set()
        self._thread.join(10)
        self._run_once(1)  # a last checkpoint on the way out

    def _run(self) -> None:
        deadline = time.monotonic() + self._every
        next_look = 0.0  # the earliest a nudge may make the next look
        while not self._stop.is_set():
            nudged = self._nudged.wait(max(0.0, deadline - time.monotonic()))
            gather = min(next_look, deadline) - time.monotonic()
            # the nudges of the groups committing meanwhile are gathered into one look
            if nudged and gather > 0 and self._stop.wait(gather):
                return
            self._nudged.clear()
            if self._stop.is_set():
                return
            if time.monotonic() >= deadline:
                self._run_once(1)
                deadline = time.monotonic() + self._every
            elif nudged:
                self._run_once(EVERY_ENTRIES)
            next_look = time.monotonic() + self._gap

    def _run_once(self, min_growth: int) -> None:
        if not leader.leads(self._checkpointer.data):
            return  # another server process on this data directory signs
        try:
            self._checkpointer.run_once(min_growth)
        except Exception as exc:  # noqa: BLE001 - the thread must outlive one failure
            logger.error("checkpoint failed: %s", type(exc).__name__)
