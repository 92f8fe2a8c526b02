"""Local drafts: the open task's document, sealed on this workstation's disk as it is edited.

Why: "nothing typed is lost" has to hold through a ``kill -9``, a power cut or
a dead network, a few seconds after the last keystroke, without handing the
task in or adding a server revision per pause in typing. Why not the outbox:
outbox entries are numbered for the server and must all be delivered; a draft
is replaced many times and delivered never.

One file per (user, task), named by ids only, holding one record sealed with
AES-256-GCM under the outbox key (the OS keyring's; :mod:`app.crypto.outbox_format`).
The record names its user and task, so a file copied over another task's
fails the check and is set aside like a damaged outbox file, never loaded.
Writes are atomic (temporary file, ``fsync``, rename, directory ``fsync``) and
run on the ``cordon-drafts`` thread; the caller hands over a frozen snapshot
(a pointer copy) and never waits. Only the newest snapshot per task is
written: a burst of saves costs one write.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.crypto.outbox_format import OutboxFormatError, new_header, read_records, seal_record
from app.domain.label_document import LabelDocument, from_wire, to_json_dict
from app.wire.label_document import LabelDocumentWire

logger = logging.getLogger(__name__)

SUFFIX = ".draft"
DAMAGED_SUFFIX = ".damaged"


class DraftDamagedError(Exception):
    """A draft file failed to authenticate or names another user or task; it was set aside."""

    user_message = (
        "A locally saved draft of this task could not be verified and was set aside unread."
    )


@dataclass(frozen=True)
class Draft:
    task_id: str
    document: LabelDocument
    #: The server revision the work started from (``None``: a new annotation).
    base_revision: int | None
    saved_at: float


@dataclass
class _Job:
    user_id: str
    task_id: str
    document: LabelDocument | None  # None: delete the draft
    base_revision: int | None
    done: list[Callable[[float], None]]


class DraftStore:
    """Sealed drafts in ``directory``; saves run on their own thread."""

    def __init__(self, directory: Path, key: bytes) -> None:
        self._dir = directory
        self._key = key
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(directory, 0o700)
        self._cond = threading.Condition()
        self._jobs: dict[tuple[str, str], _Job] = {}
        self._busy = False
        self._closed = False
        #: Files set aside unread (damaged, or naming another user or task).
        self.damaged: list[str] = []
        #: The last save's duration (seconds), for the benchmark and the log.
        self.last_write_s = 0.0
        self._thread = threading.Thread(target=self._loop, name="cordon-drafts", daemon=True)
        self._thread.start()

    def _path(self, user_id: str, task_id: str) -> Path:
        return self._dir / f"{user_id}.{task_id}{SUFFIX}"

    # -- saving (any thread; never blocks on the disk) -----------------------
    def save(
        self,
        user_id: str,
        task_id: str,
        document: LabelDocument,
        base_revision: int | None,
        on_saved: Callable[[float], None] | None = None,
    ) -> None:
        """Queue ``document`` (a frozen snapshot) to be sealed and written; newest wins."""
        with self._cond:
            if self._closed:
                return
            key = (user_id, task_id)
            earlier = self._jobs.get(key)
            done = earlier.done if earlier is not None else []
            if on_saved is not None:
                done.append(on_saved)
            self._jobs[key] = _Job(user_id, task_id, document, base_revision, done)
            self._cond.notify()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued save is on disk (quit, sign-out, lock)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._jobs or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._jobs and not self._closed:
                    self._cond.wait()
                if not self._jobs:
                    return
                key = next(iter(self._jobs))
                job = self._jobs.pop(key)
                self._busy = True
            try:
                if job.document is None:
                    self._path(job.user_id, job.task_id).unlink(missing_ok=True)
                    continue
                started = time.perf_counter()
                self._write(job, job.document)
                self.last_write_s = time.perf_counter() - started
                saved_at = time.time()
                for callback in job.done:
                    callback(saved_at)
            except Exception as exc:  # noqa: BLE001 - the thread outlives any one draft
                logger.error("draft of task %s not saved: %s", job.task_id, type(exc).__name__)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _write(self, job: _Job, document: LabelDocument) -> None:
        record = {
            "user_id": job.user_id,
            "task_id": job.task_id,
            "base_revision": job.base_revision,
            "saved_at": time.time(),
            "document": to_json_dict(document),
        }
        header = new_header()
        data = header + seal_record(
            self._key, header, 0, json.dumps(record, separators=(",", ":")).encode("utf-8")
        )
        path = self._path(job.user_id, job.task_id)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        dir_fd = os.open(self._dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    # -- reading and dropping ------------------------------------------------
    def load(self, user_id: str, task_id: str) -> Draft | None:
        """The task's draft; :class:`DraftDamagedError` (after setting it aside) if not genuine.

        Waits for queued writes first (a task reopened at once must see the draft its
        closing queued). Runs off the GUI thread.
        """
        self.flush()
        path = self._path(user_id, task_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            result = read_records(self._key, data)
            if result.torn or len(result.records) != 1:
                raise OutboxFormatError("not one whole record")
            record: dict[str, Any] = json.loads(result.records[0])
            if record.get("user_id") != user_id or record.get("task_id") != task_id:
                raise OutboxFormatError("the draft names another user or task")
            document = from_wire(LabelDocumentWire.model_validate(record["document"]))
            base = record.get("base_revision")
            return Draft(task_id, document, base if isinstance(base, int) else None,
                         float(record.get("saved_at", 0.0)))  # fmt: skip
        except (OutboxFormatError, ValueError, KeyError, TypeError) as exc:
            self._set_aside(path, type(exc).__name__)
            raise DraftDamagedError(task_id) from exc

    def discard(self, user_id: str, task_id: str) -> None:
        """Drop the draft (the outbox holds the document now); done on the drafts thread,
        after any write queued before it, so the caller never waits on the disk."""
        with self._cond:
            if self._closed:
                return
            self._jobs[(user_id, task_id)] = _Job(user_id, task_id, None, None, [])
            self._cond.notify()

    def _set_aside(self, path: Path, why: str) -> None:
        target = path.with_name(f"{path.name}.{int(time.time())}{DAMAGED_SUFFIX}")
        os.replace(path, target)
        self.damaged.append(target.name)
        logger.error("draft file %s set aside unread: %s", path.name, why)

    def files(self) -> list[Path]:
        return sorted(self._dir.glob(f"*{SUFFIX}"))

    def close(self) -> None:
        """Write what is queued, then stop the thread."""
        self.flush()
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=10)
