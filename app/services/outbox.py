"""The outbox: every access event and label, on disk and encrypted, until the server has it.

Why a disk: a label must survive a crash, a ``kill -9`` and a dead network, and
access events must not vanish with the process. Why encrypted: the disk is
exactly where Cordon must leave nothing readable. Each record is sealed with
AES-256-GCM under a key held only in the OS keyring
(:mod:`app.crypto.outbox_format`); the files hold no plaintext.

Appends go through one writer thread that groups whatever is queued into one
``write`` and one ``fdatasync`` (about 4 ms here), so recording an event never
blocks the GUI thread on the disk, and a burst of events costs one sync. An
entry is visible to the uploader — and its :class:`Ticket` released — only
once it is on disk. A label's submit waits for its ticket: "saved" means
"fsynced". Entries get a per-device sequence number that only grows, in the
order they were recorded; the server raises an alert on gaps.

Entries leave only after the server acknowledged them: an acknowledgement is
itself an appended record, and a file is deleted once every entry in it is
acknowledged and every older file is gone. Files rotate at
:data:`ROTATE_BYTES`; each starts with the next sequence number, so the
counter survives even when every entry has been delivered.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.crypto.outbox_format import (
    HEADER_SIZE,
    OutboxFormatError,
    ReadResult,
    new_header,
    read_records,
    seal_record,
)

logger = logging.getLogger(__name__)

ROTATE_BYTES = 256 * 1024
SUFFIX = ".outbox"
DAMAGED_SUFFIX = ".damaged"
_STOP = object()


class OutboxBusyError(Exception):
    """Another Cordon process on this workstation holds this outbox."""

    user_message = "Cordon is already running for this server on this workstation."


class OutboxWriteError(Exception):
    """An entry could not be made durable (disk full, I/O error)."""

    user_message = "Cordon could not save to this workstation's disk."


@dataclass(frozen=True)
class Entry:
    """One durable, not yet acknowledged item: an access event or a label."""

    seq: int
    kind: str  # "event" or "label"
    body: dict[str, Any]
    queued_at: float = field(default_factory=time.monotonic, compare=False)


class Ticket:
    """Released once its entry is on disk (or failed to get there)."""

    def __init__(self, seq: int) -> None:
        self.seq = seq
        self._done = threading.Event()
        self._error: OutboxWriteError | None = None
        self._callbacks: list[Callable[[OutboxWriteError | None], None]] = []
        self._lock = threading.Lock()

    def _finish(self, error: OutboxWriteError | None = None) -> None:
        with self._lock:
            self._error = error
            self._done.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback(error)

    def add_done_callback(self, callback: Callable[[OutboxWriteError | None], None]) -> None:
        """Call ``callback(error or None)`` once durable (on the writer thread, or now)."""
        with self._lock:
            if not self._done.is_set():
                self._callbacks.append(callback)
                return
        callback(self._error)

    def wait(self, timeout: float = 30.0) -> None:
        """Block until durable; raises :class:`OutboxWriteError` if it is not."""
        if not self._done.wait(timeout):
            raise OutboxWriteError("the outbox writer did not answer in time")
        if self._error is not None:
            raise self._error


@dataclass
class _File:
    path: Path
    header: bytes
    records: int
    size: int
    unacked: set[int] = field(default_factory=set)


class Outbox:
    """An encrypted, append-only journal of what the server still has to receive."""

    def __init__(self, directory: Path, key: bytes) -> None:
        self._dir = directory
        self._key = key
        self._lock = threading.Lock()
        self._pending: dict[int, Entry] = {}
        self._files: list[_File] = []
        self._next_seq = 1
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._queued = {"event": 0, "label": 0}  # appended, not yet durable
        self._fd = -1
        self._listeners: list[Callable[[], None]] = []
        #: Files that failed to authenticate, set aside (renamed, never read again).
        self.damaged: list[str] = []
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(directory, 0o700)
        self._lock_fd = _lock_directory(directory)
        self._recover()
        self._writer = threading.Thread(target=self._write_loop, name="cordon-outbox", daemon=True)
        self._writer.start()

    # -- reading back ------------------------------------------------------------
    def _recover(self) -> None:
        acked: set[int] = set()
        entries: dict[int, tuple[Entry, _File]] = {}
        paths = sorted(self._dir.glob(f"*{SUFFIX}"))
        for number, path in enumerate(paths):
            last = number == len(paths) - 1
            data = path.read_bytes()
            if last and len(data) < HEADER_SIZE:
                path.unlink()  # a crash while creating it: it never held an entry
                continue
            try:
                result = read_records(self._key, data)
            except OutboxFormatError as exc:
                self._set_aside(path, str(exc))
                continue
            if result.torn:
                self._cut_torn_tail(path, result, last)
            file = _File(path, result.header, len(result.records), result.good_length)
            self._files.append(file)
            for raw in result.records:
                record = json.loads(raw)
                kind = record["t"]
                if kind == "start":
                    self._next_seq = max(self._next_seq, int(record["next_seq"]))
                elif kind == "ack":
                    acked.update(int(s) for s in record["seqs"])
                else:
                    seq = int(record["seq"])
                    entries[seq] = (Entry(seq, kind, record["b"]), file)
                    self._next_seq = max(self._next_seq, seq + 1)
        for seq in sorted(entries):
            if seq not in acked:
                entry, file = entries[seq]
                self._pending[seq] = entry
                file.unacked.add(seq)
        self._open_active()
        logger.info(
            "outbox: %d entries waiting, next sequence %d, %d files",
            len(self._pending), self._next_seq, len(self._files),
        )  # fmt: skip

    def _set_aside(self, path: Path, why: str) -> None:
        """A file that fails to authenticate is kept (ciphertext only) but never trusted."""
        target = path.with_suffix(DAMAGED_SUFFIX)
        path.rename(target)
        self.damaged.append(target.name)
        logger.error("outbox file %s set aside: %s", path.name, why)

    @staticmethod
    def _cut_torn_tail(path: Path, result: ReadResult, last: bool) -> None:
        if last:
            with path.open("r+b") as handle:
                handle.truncate(result.good_length)
                os.fsync(handle.fileno())
        logger.warning("outbox file %s ended in a torn record (a crash mid-write)", path.name)

    def _open_active(self) -> None:
        if not self._files or self._files[-1].size >= ROTATE_BYTES:
            self._new_file()
        else:
            self._fd = os.open(self._files[-1].path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)

    def _new_file(self) -> None:
        number = int(self._files[-1].path.stem) + 1 if self._files else 1
        path = self._dir / f"{number:012d}{SUFFIX}"
        header = new_header()
        start = seal_record(
            self._key, header, 0, _dumps({"t": "start", "next_seq": self._next_seq})
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o600)
        os.write(fd, header + start)
        os.fsync(fd)
        _fsync_dir(self._dir)
        if self._fd >= 0:
            os.close(self._fd)
        self._fd = fd
        self._files.append(_File(path, header, 1, len(header) + len(start)))

    # -- appending ---------------------------------------------------------------
    def add_listener(self, callback: Callable[[], None]) -> None:
        """Called (on the writer thread) after entries became durable or were acknowledged."""
        self._listeners.append(callback)

    def append(self, kind: str, body: dict[str, Any]) -> Ticket:
        """Queue one entry; its sequence number is fixed now, in call order."""
        with self._lock:
            seq = self._next_seq
            self._next_seq += 1
            ticket = Ticket(seq)
            self._queued[kind] += 1
            self._queue.put((Entry(seq, kind, body), ticket))
        return ticket

    @property
    def next_seq(self) -> int:
        """The number the next :meth:`append` will get."""
        with self._lock:
            return self._next_seq

    def acknowledge(self, seqs: Iterable[int]) -> None:
        """The server has these (or refused them for good): forget them, durably."""
        done = sorted(seqs)
        with self._lock:
            for seq in done:
                self._pending.pop(seq, None)
        self._queue.put(("ack", done))

    def _write_loop(self) -> None:
        while True:
            items = [self._queue.get()]
            while True:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(item is _STOP for item in items)
            work = [item for item in items if item is not _STOP]
            if work:
                self._write(work)
            if stop:
                return

    def _seal(self, items: list[Any], active: _File) -> tuple[bytes, list[Any], list[int]]:
        """The records for ``items`` as one buffer, the entries in it, and the seqs acknowledged."""
        chunks, written, acked = [], [], []
        for index, item in enumerate(items, start=active.records):
            if item[0] == "ack":
                record: dict[str, Any] = {"t": "ack", "seqs": item[1]}
                acked.extend(item[1])
            else:
                entry, ticket = item
                record = {"t": entry.kind, "seq": entry.seq, "b": entry.body}
                written.append((entry, ticket))
            chunks.append(seal_record(self._key, active.header, index, _dumps(record)))
        return b"".join(chunks), written, acked

    def _write(self, items: list[Any]) -> None:
        active = self._files[-1]
        data, written, acked = self._seal(items, active)
        try:
            os.write(self._fd, data)
            os.fdatasync(self._fd)
        except OSError as exc:
            logger.error("outbox write failed: %s", type(exc).__name__)
            _truncate_quietly(self._fd, active.size)
            with self._lock:
                for entry, _ticket in written:
                    self._queued[entry.kind] -= 1
            for _entry, ticket in written:
                ticket._finish(OutboxWriteError(type(exc).__name__))
            return
        active.records += len(items)
        active.size += len(data)
        with self._lock:
            for entry, _ticket in written:
                self._pending[entry.seq] = entry
                self._queued[entry.kind] -= 1
                active.unacked.add(entry.seq)
            for file in self._files:
                file.unacked.difference_update(acked)
        if active.size >= ROTATE_BYTES:
            self._rotate()  # before the tickets: a caller that waited sees the files as they are
        for _entry, ticket in written:
            ticket._finish()
        for listener in self._listeners:
            listener()

    def _rotate(self) -> None:
        try:
            self._new_file()
            while len(self._files) > 1 and not self._files[0].unacked:
                self._files.pop(0).path.unlink()
            _fsync_dir(self._dir)
        except OSError as exc:
            logger.error("outbox rotation failed: %s", type(exc).__name__)

    # -- what the uploader sees ----------------------------------------------------
    def pending(self, limit: int | None = None) -> list[Entry]:
        """Durable entries not yet acknowledged, oldest first."""
        with self._lock:
            entries = [self._pending[s] for s in sorted(self._pending)]
        return entries if limit is None else entries[:limit]

    def counts(self) -> tuple[int, int]:
        """(events, labels) not yet acknowledged, counting those still being written."""
        with self._lock:
            labels = sum(1 for e in self._pending.values() if e.kind == "label")
            events = len(self._pending) - labels
            return events + self._queued["event"], labels + self._queued["label"]

    @property
    def directory(self) -> Path:
        return self._dir

    @property
    def files(self) -> list[Path]:
        with self._lock:
            return [f.path for f in self._files]

    def close(self) -> None:
        """Write what is queued, then stop the writer and close the file."""
        self._queue.put(_STOP)
        self._writer.join(10)
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if self._lock_fd >= 0:
            os.close(self._lock_fd)  # releases the lock
            self._lock_fd = -1


def _lock_directory(directory: Path) -> int:
    """Hold an exclusive lock on the outbox: two writers would interleave records.

    POSIX ``flock``; on Windows the installer's single-instance rule stands in (no lock).
    """
    fd = os.open(directory / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        import fcntl  # noqa: PLC0415 - POSIX only

        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except ImportError:
        pass
    except OSError as exc:
        os.close(fd)
        raise OutboxBusyError(str(directory)) from exc
    return fd


def _dumps(record: dict[str, Any]) -> bytes:
    return json.dumps(record, separators=(",", ":")).encode()


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _truncate_quietly(fd: int, size: int) -> None:
    try:
        os.ftruncate(fd, size)
    except OSError:
        logger.error("outbox could not cut a failed write back")
