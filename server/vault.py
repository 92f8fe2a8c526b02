"""The server's key hierarchy: root key -> project key -> segment data key / task key.

Only wrapped keys are stored in the database; the root key is the one secret
file that unlocks them. A task's records (its labels, review comments, reasons,
context justifications) are sealed under the task's own key, so destroying that
key shreds every copy of them; records sealed before tasks had keys stay under
the project key and still open. Project keys seal metadata (titles) and gold
answers. Unwrapped keys live only for the duration of one request.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.crypto.errors import KeyUnwrapError
from app.crypto.fields import encode_fields
from app.crypto.key_wrap import new_key, open_sealed, seal, unwrap_key, wrap_key


class KeyVault:
    """Wraps and unwraps keys under the root key, binding each to what it protects."""

    def __init__(self, root_key: bytes) -> None:
        self._root = root_key

    def new_project_key(self, project_id: str) -> bytes:
        """A fresh project key, returned wrapped under the root key."""
        return wrap_key(self._root, new_key(), "project", project_id)

    def project_key(self, project_id: str, wrapped: bytes) -> bytes:
        """Unwrap a project key."""
        return unwrap_key(self._root, wrapped, "project", project_id)

    def index_key(self, project_id: str, wrapped_project_key: bytes, purpose: str) -> bytes:
        """A project-key subkey for keyed lookup digests (``purpose``: title, subject).

        HKDF keeps the project key itself to AES-GCM: one key, one primitive.
        """
        pk = self.project_key(project_id, wrapped_project_key)
        return HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None,
            info=b"cordon/index/v1\x00" + encode_fields(purpose, project_id),
        ).derive(pk)  # fmt: skip

    def wrap_data_key(
        self, project_id: str, wrapped_project_key: bytes, segment_id: str, data_key: bytes
    ) -> bytes:
        """Wrap a segment's data key under its project key."""
        pk = self.project_key(project_id, wrapped_project_key)
        return wrap_key(pk, data_key, "segment", project_id, segment_id)

    def data_key(
        self, project_id: str, wrapped_project_key: bytes, segment_id: str, wrapped: bytes
    ) -> bytes:
        """Unwrap a segment's data key."""
        pk = self.project_key(project_id, wrapped_project_key)
        return unwrap_key(pk, wrapped, "segment", project_id, segment_id)

    def new_task_key(self, project_id: str, wrapped_project_key: bytes, task_id: str) -> bytes:
        """A fresh task key, returned wrapped under the project key."""
        pk = self.project_key(project_id, wrapped_project_key)
        return wrap_key(pk, new_key(), "task", project_id, task_id)

    def _task_key(
        self, project_id: str, wrapped_project_key: bytes, task_id: str, wrapped: bytes
    ) -> bytes:
        pk = self.project_key(project_id, wrapped_project_key)
        return unwrap_key(pk, wrapped, "task", project_id, task_id)

    def seal_record(
        self,
        project_id: str,
        wrapped_project_key: bytes,
        kind: str,
        task_id: str,
        record_id: str,
        data: bytes,
        task_key: bytes | None = None,
    ) -> bytes:
        """Seal a task's record (``kind``: a label, a review comment, a reason).

        ``task_key`` is the task's wrapped key (``server.task_keys.ensure``); without
        one (gold answers, keyed by recording) the record is sealed under the project key.
        """
        if task_key is not None:
            tk = self._task_key(project_id, wrapped_project_key, task_id, task_key)
            return seal(tk, data, "task-record", kind, project_id, task_id, record_id)
        pk = self.project_key(project_id, wrapped_project_key)
        return seal(pk, data, kind, project_id, task_id, record_id)

    def open_record(
        self,
        project_id: str,
        wrapped_project_key: bytes,
        kind: str,
        task_id: str,
        record_id: str,
        sealed: bytes,
        task_key: bytes | None = None,
    ) -> bytes:
        """Open what :meth:`seal_record` sealed; fails unless every binding matches.

        A record of a task that has a key opens under it; one sealed before the task
        had a key opens under the project key.
        """
        if task_key is not None:
            tk = self._task_key(project_id, wrapped_project_key, task_id, task_key)
            try:
                return open_sealed(tk, sealed, "task-record", kind, project_id, task_id, record_id)
            except KeyUnwrapError:
                pass  # sealed before the task had a key: the project key's
        pk = self.project_key(project_id, wrapped_project_key)
        return open_sealed(pk, sealed, kind, project_id, task_id, record_id)

    def seal_label(
        self,
        project_id: str,
        wrapped_project_key: bytes,
        label_id: str,
        task_id: str,
        document: bytes,
        task_key: bytes | None = None,
    ) -> bytes:
        """Seal a stored label (its document, JSON) under the task key."""
        return self.seal_record(project_id, wrapped_project_key, "label", task_id, label_id,
                                document, task_key)  # fmt: skip

    def open_label(
        self,
        project_id: str,
        wrapped_project_key: bytes,
        label_id: str,
        task_id: str,
        sealed: bytes,
        task_key: bytes | None = None,
    ) -> bytes:
        """Open a sealed label document."""
        return self.open_record(project_id, wrapped_project_key, "label", task_id, label_id,
                                sealed, task_key)  # fmt: skip
