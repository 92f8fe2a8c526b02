"""Open an RLHF comparison: key grant, download, verify, decrypt — into memory only.

The bundle (prompt and outputs) is content, so it takes the segment's path
exactly: a key grant bound to this device, ciphertext streamed and verified
chunk by chunk, plaintext only in one mlocked, dump-excluded
:class:`SecureBuffer`. It is small (text and a few short clips), so it is
read whole before it is parsed; audio parts are decoded from views into that
buffer into secure buffers of their own. Closing zeroes all of it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from app.api import errors as api_errors
from app.api.client import CordonApi
from app.crypto import errors as crypto_errors
from app.crypto.secure_buffer import SecureBuffer
from app.crypto.segment_format import SegmentDecryptor
from app.domain.comparison import BundleError, Comparison, parse_bundle
from app.domain.models import AccessEvent, Task
from app.player.decoded_audio import DecodedAudio
from app.player.decoder import DecodeError, decode
from app.player.waveform_summary import WaveformSummary
from app.services.events import EventRecorder
from app.services.segments import (
    DeviceSource,
    SegmentCancelledError,
    SegmentOpenError,
    open_key,
)
from app.wire.schemas import AccessAction, Outcome

logger = logging.getLogger(__name__)

#: A bundle holds text and short clips; anything bigger is refused before allocation.
MAX_BUNDLE_BYTES = 512 << 20
PROMPT = "prompt"


@dataclass(eq=False)
class OpenedComparison:
    """A comparison task's prompt and outputs, with each clip decoded."""

    task: Task
    comparison: Comparison
    audio: dict[str, DecodedAudio] = field(default_factory=dict)  # by output id, or PROMPT
    summaries: dict[str, list[WaveformSummary]] = field(default_factory=dict)
    _buffer: SecureBuffer | None = None

    def close(self) -> None:
        """Zero the clips, their pyramids and the decrypted bundle. Idempotent."""
        for audio in self.audio.values():
            audio.close()
        for summaries in self.summaries.values():
            for summary in summaries:
                summary.close()
        if self._buffer is not None:
            self._buffer.close()


class ComparisonService:
    def __init__(self, api: CordonApi, device: DeviceSource, events: EventRecorder) -> None:
        self._api = api
        self._device = device
        self._events = events

    def open(self, task: Task, cancel: threading.Event | None = None) -> OpenedComparison:
        """Fetch, verify, decrypt and parse ``task``'s bundle. Raises :class:`SegmentOpenError`."""
        cancel = cancel or threading.Event()
        buffers: list[SecureBuffer] = []
        opened: OpenedComparison | None = None
        try:
            data_key = open_key(self._api, self._device, task)
            if cancel.is_set():
                raise SegmentCancelledError

            def allocate(size: int) -> memoryview:
                buffers.append(SecureBuffer(size))
                return buffers[-1].view()

            decryptor = SegmentDecryptor(
                data_key, project_id=task.project_id, segment_id=task.segment_id,
                allocate=allocate, max_plaintext_length=MAX_BUNDLE_BYTES,
            )  # fmt: skip
            with self._api.segment_stream(task.task_id) as (_total, pieces):
                for piece in pieces:
                    if cancel.is_set():
                        raise SegmentCancelledError
                    decryptor.feed(piece)
            decryptor.finish()
            if not buffers:
                raise crypto_errors.SegmentIntegrityError("bundle truncated")
            opened = OpenedComparison(task, parse_bundle(buffers[0].view()), _buffer=buffers[0])
            self._decode_clips(opened)
        except SegmentCancelledError:
            self._discard(opened, buffers)
            raise
        except api_errors.ApiError as exc:
            self._discard(opened, buffers)
            self._fail(task, AccessAction.FETCH_FAILED, type(exc).__name__.lower()[:64])
            raise SegmentOpenError(exc.user_message, "fetch_failed") from exc
        except (crypto_errors.CryptoError, BundleError, DecodeError, MemoryError) as exc:
            self._discard(opened, buffers)
            reason = "bundle_invalid" if isinstance(exc, BundleError | DecodeError) else (
                type(exc).__name__.lower()[:64]
            )  # fmt: skip
            self._fail(task, AccessAction.DECRYPT_FAILED, reason)
            raise SegmentOpenError(
                "The comparison could not be opened safely and was discarded.", reason
            ) from exc
        except BaseException:
            self._discard(opened, buffers)  # whatever failed, no decrypted byte outlives it
            raise
        self._events.record(
            AccessEvent(AccessAction.SEGMENT_OPENED, task.task_id, task.segment_id, 0)
        )
        return opened

    @staticmethod
    def _decode_clips(opened: OpenedComparison) -> None:
        parts = [(PROMPT, opened.comparison.prompt.audio)]
        parts += [(o.output_id, o.audio) for o in opened.comparison.outputs]
        for key, part in parts:
            if part is None:
                continue
            audio = decode(part)
            opened.audio[key] = audio
            opened.summaries[key] = [WaveformSummary(ch) for ch in audio.channels]

    @staticmethod
    def _discard(opened: OpenedComparison | None, buffers: list[SecureBuffer]) -> None:
        if opened is not None:
            opened.close()
        for buffer in buffers:
            buffer.close()

    def _fail(self, task: Task, action: AccessAction, reason: str) -> None:
        logger.warning("opening comparison %s failed: %s", task.task_id, reason)
        self._events.record(
            AccessEvent(
                action, task.task_id, task.segment_id, outcome=Outcome.FAILED, reason=reason
            )
        )
