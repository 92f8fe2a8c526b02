"""The server's key hierarchy: root key -> project key -> segment data key.

Only wrapped keys are stored in the database; the root key is the one secret
file that unlocks them. Project keys also seal labels at rest. Unwrapped keys
live only for the duration of one request.
"""

from __future__ import annotations

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

    def seal_record(
        self,
        project_id: str,
        wrapped_project_key: bytes,
        kind: str,
        task_id: str,
        record_id: str,
        data: bytes,
    ) -> bytes:
        """Seal a task's record (``kind``: a review comment, a rejection's reason)."""
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
    ) -> bytes:
        """Open what :meth:`seal_record` sealed; fails unless every binding matches."""
        pk = self.project_key(project_id, wrapped_project_key)
        return open_sealed(pk, sealed, kind, project_id, task_id, record_id)

    def seal_label(
        self,
        project_id: str,
        wrapped_project_key: bytes,
        label_id: str,
        task_id: str,
        document: bytes,
    ) -> bytes:
        """Seal a stored label (its document, JSON) under the project key."""
        return self.seal_record(project_id, wrapped_project_key, "label", task_id, label_id,
                                document)  # fmt: skip

    def open_label(
        self,
        project_id: str,
        wrapped_project_key: bytes,
        label_id: str,
        task_id: str,
        sealed: bytes,
    ) -> bytes:
        """Open a sealed label document."""
        return self.open_record(project_id, wrapped_project_key, "label", task_id, label_id,
                                sealed)  # fmt: skip
