"""Open a task's segment: key grant, download, verify, decrypt and decode — in memory.

Runs on a worker thread. The ciphertext streams in; every chunk is verified
and decrypted into a :class:`SecureBuffer` as it arrives; the compressed
plaintext is decoded into per-channel int16 secure buffers and then zeroed.
Any failure leaves nothing behind: partial plaintext is zeroed, an access
event names the failure (never the content), and a typed error goes up.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable
from dataclasses import dataclass

from app.api import errors as api_errors
from app.api.client import CordonApi
from app.crypto import errors as crypto_errors
from app.crypto.key_grant import GrantBinding, open_grant
from app.crypto.secure_buffer import SecureBuffer
from app.crypto.segment_format import SegmentDecryptor
from app.domain.models import AccessEvent, Task
from app.player.decoded_audio import DecodedAudio
from app.player.decoder import DecodeError, decode
from app.player.waveform_summary import WaveformSummary
from app.services.events import EventRecorder
from app.services.session import Device
from app.wire.schemas import AccessAction, Outcome

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
MAX_SEGMENT_BYTES = 8 << 30


class SegmentOpenError(Exception):
    """Opening failed; ``user_message`` is safe to show, ``reason`` is the audit code."""

    def __init__(self, user_message: str, reason: str) -> None:
        super().__init__(f"{reason}: {user_message}")
        self.user_message = user_message
        self.reason = reason


@dataclass
class OpenedSegment:
    """A task with its decoded audio and waveform summaries; the owner must :meth:`close` it."""

    task: Task
    audio: DecodedAudio
    summaries: list[WaveformSummary]

    def close(self) -> None:
        self.audio.close()


_FAILURES: list[tuple[type[Exception], AccessAction, str, str]] = [
    (crypto_errors.GrantExpiredError, AccessAction.DECRYPT_FAILED, "grant_expired",
     "The access grant for this segment expired. Open it again."),
    (crypto_errors.KeyUnwrapError, AccessAction.DECRYPT_FAILED, "key_unwrap_failed",
     "This workstation could not unlock the segment. It may be enrolled for another device."),
    (crypto_errors.SegmentIntegrityError, AccessAction.DECRYPT_FAILED, "integrity_failed",
     "The segment failed its integrity check and was discarded."),
    (crypto_errors.SegmentFormatError, AccessAction.DECRYPT_FAILED, "format_invalid",
     "The segment is not in a format Cordon understands."),
    (DecodeError, AccessAction.DECRYPT_FAILED, "decode_failed",
     "The segment's audio could not be decoded."),
]  # fmt: skip


class SegmentService:
    def __init__(
        self, api: CordonApi, device: Callable[[], Device | None], events: EventRecorder
    ) -> None:
        self._api = api
        self._device = device
        self._events = events

    def open(self, task: Task, progress: Progress | None = None) -> OpenedSegment:
        """Fetch and decode ``task``'s segment; raises :class:`SegmentOpenError`."""
        try:
            audio = self._open(task, progress)
        except api_errors.ApiError as exc:
            self._fail(task, AccessAction.FETCH_FAILED, type(exc).__name__.lower()[:64])
            raise SegmentOpenError(exc.user_message, "fetch_failed") from exc
        except tuple(f[0] for f in _FAILURES) as exc:
            for cls, action, reason, message in _FAILURES:
                if isinstance(exc, cls):
                    self._fail(task, action, reason)
                    raise SegmentOpenError(message, reason) from exc
            raise
        self._events.record(
            AccessEvent(AccessAction.SEGMENT_OPENED, task.task_id, task.segment_id, 0)
        )
        return OpenedSegment(task, audio, [WaveformSummary(ch) for ch in audio.channels])

    def _fail(self, task: Task, action: AccessAction, reason: str) -> None:
        logger.warning("opening task %s failed: %s", task.task_id, reason)
        self._events.record(
            AccessEvent(
                action, task.task_id, task.segment_id, outcome=Outcome.FAILED, reason=reason
            )
        )

    def _open(self, task: Task, progress: Progress | None) -> DecodedAudio:
        device = self._device()
        if device is None:
            raise api_errors.AuthenticationError(401, None, "not signed in")
        grant = self._api.key_grant(task.task_id)
        binding = GrantBinding(
            project_id=task.project_id,
            segment_id=task.segment_id,
            device_id=device.device_id,
            grant_id=grant.grant_id,
            expires_at=grant.expires_at,
        )
        try:
            wrapped = base64.b64decode(grant.wrapped_key, validate=True)
        except binascii.Error as exc:
            raise crypto_errors.KeyUnwrapError("grant is not base64") from exc
        data_key = open_grant(wrapped, device.key_pair, binding)
        plain: SecureBuffer | None = None

        def allocate(size: int) -> memoryview:
            nonlocal plain
            plain = SecureBuffer(size)
            return plain.view()

        decryptor = SegmentDecryptor(
            data_key,
            project_id=task.project_id,
            segment_id=task.segment_id,
            allocate=allocate,
            max_plaintext_length=MAX_SEGMENT_BYTES,
        )
        try:
            with self._api.segment_stream(task.task_id) as (total, pieces):
                received = 0
                for piece in pieces:
                    decryptor.feed(piece)
                    received += len(piece)
                    if progress is not None:
                        progress(received, total or task.ciphertext_bytes)
            decryptor.finish()
            if plain is None:
                raise crypto_errors.SegmentIntegrityError("segment truncated")
            view = plain.view()
            try:
                return decode(view)
            finally:
                view.release()
        finally:
            if plain is not None:
                plain.close()
