"""Open a task's segment: key grant, download, verify, decrypt and decode — in memory, streaming.

Runs on the downloads worker. The ciphertext streams in; every chunk is
verified and decrypted into a :class:`ProgressiveBuffer` as it arrives; a
decoder thread decodes from that buffer into per-channel secure buffers and
extends the waveform pyramid block by block. ``on_ready`` fires (on the decoder
thread) as soon as the first block is decoded, so playback starts while the
rest still arrives; the call itself returns when the whole segment has been
verified and decoded, and the compressed plaintext is zeroed then.

Ownership: once ``on_ready`` has fired, the :class:`OpenedSegment` belongs to
the caller, who must :meth:`OpenedSegment.close` it (also after a failure).
Any failure leaves nothing behind, records an access event naming the reason
(never content) and raises :class:`SegmentOpenError`.
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from app.api import errors as api_errors
from app.api.client import CordonApi
from app.crypto import errors as crypto_errors
from app.crypto.key_grant import GrantBinding, open_grant
from app.crypto.segment_format import SegmentDecryptor
from app.domain.models import AccessEvent, Task
from app.player.decoded_audio import DecodedAudio
from app.player.decoder import DecodeError
from app.player.progressive_buffer import ProgressiveBuffer
from app.player.stream_decoder import StreamDecoder
from app.player.waveform_summary import WaveformSummary
from app.services.events import EventRecorder
from app.services.session import Device
from app.wire.schemas import AccessAction, ClassControlsOut, ErrorCode, Outcome

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
DeviceSource = Callable[[], Device | None]
MAX_SEGMENT_BYTES = 8 << 30


def open_key(
    api: CordonApi, device_source: DeviceSource, task: Task, context: str | None = None
) -> bytes:
    """Ask for the task's key grant and open it with this device's key, checking its binding.

    The grant must name the project, segment and device *this* client expects and be
    unexpired; anything else raises (:mod:`app.crypto.errors`).
    """
    return open_grant_of(api, device_source, task, context)[0]


def open_grant_of(
    api: CordonApi, device_source: DeviceSource, task: Task, context: str | None = None
) -> tuple[bytes, ClassControlsOut]:
    """:func:`open_key`, with the controls of the recording's data class the grant carries."""
    device = device_source()
    if device is None:
        raise api_errors.AuthenticationError(401, None, "not signed in")
    grant = api.key_grant(task.task_id, context)
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
    return open_grant(wrapped, device.key_pair, binding), grant.controls


class SegmentOpenError(Exception):
    """Opening failed; ``user_message`` is safe to show, ``reason`` is the audit code."""

    def __init__(self, user_message: str, reason: str) -> None:
        super().__init__(f"{reason}: {user_message}")
        self.user_message = user_message
        self.reason = reason


class SegmentCancelledError(SegmentOpenError):
    """The task was closed while its segment was still arriving."""

    def __init__(self) -> None:
        super().__init__("Opening was cancelled.", "cancelled")


@dataclass(eq=False)
class OpenedSegment:
    """A task with its (possibly still decoding) audio and waveform pyramid."""

    task: Task
    audio: DecodedAudio
    summaries: list[WaveformSummary]
    _decoder: StreamDecoder | None = None
    _source: ProgressiveBuffer | None = None
    _cancel: threading.Event = field(default_factory=threading.Event)
    complete: bool = False
    #: What the recording's data class asks of this client (the watermark's strength).
    controls: ClassControlsOut = field(default_factory=ClassControlsOut)

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def close(self) -> None:
        """Stop decoding, then zero the audio and the pyramid. Idempotent, any thread."""
        self._cancel.set()
        if self._source is not None:
            self._source.fail(SegmentCancelledError())
        if self._decoder is not None:
            self._decoder.stop()
            self._decoder.join()
        self.audio.close()
        for summary in self.summaries:
            summary.close()


_FAILURES: list[tuple[type[Exception], str, str]] = [
    (crypto_errors.GrantExpiredError, "grant_expired",
     "The access grant for this segment expired. Open it again."),
    (crypto_errors.KeyUnwrapError, "key_unwrap_failed",
     "This workstation could not unlock the segment. It may be enrolled for another device."),
    (crypto_errors.SegmentIntegrityError, "integrity_failed",
     "The segment failed its integrity check and was discarded."),
    (crypto_errors.SegmentFormatError, "format_invalid",
     "The segment is not in a format Cordon understands."),
    (DecodeError, "decode_failed", "The segment's audio could not be decoded."),
    (MemoryError, "out_of_memory", "This workstation does not have the memory for the segment."),
]  # fmt: skip


#: Refusals whose server words tell the person what to do (a project rule, an approval).
_SAID_BY_SERVER = frozenset(
    {ErrorCode.RULE_REFUSED, ErrorCode.CLASS_REFUSED, ErrorCode.DEVICE_PENDING, ErrorCode.ERASED}
)


class SegmentService:
    def __init__(
        self, api: CordonApi, device: Callable[[], Device | None], events: EventRecorder
    ) -> None:
        self._api = api
        self._device = device
        self._events = events

    def open(
        self,
        task: Task,
        on_ready: Callable[[OpenedSegment], None],
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
        context: str | None = None,
    ) -> OpenedSegment:
        """Fetch, verify and decode ``task``'s segment — or, with ``context`` (a granted ask),
        the wider stretch around it, whose id ``task.segment_id`` must then name. Raises
        :class:`SegmentOpenError`."""
        run = _OpenRun(
            self._api, self._device, task, self._opened, on_ready, progress,
            cancel or threading.Event(), context,
        )  # fmt: skip
        try:
            opened = run.execute()
        except SegmentCancelledError:
            raise
        except api_errors.ApiError as exc:
            self._fail(task, AccessAction.FETCH_FAILED, type(exc).__name__.lower()[:64])
            words = exc.user_message
            if isinstance(exc, api_errors.ServerError) and exc.code in _SAID_BY_SERVER:
                words = exc.refusal_words  # which rule, or that approval is awaited
            raise SegmentOpenError(words, "fetch_failed") from exc
        except Exception as exc:
            if run.cancel.is_set():
                raise SegmentCancelledError from exc
            reason, message = next(
                ((r, m) for cls, r, m in _FAILURES if isinstance(exc, cls)),
                ("internal_error", "The segment could not be opened. The problem was recorded."),
            )
            if reason == "internal_error":
                logger.error("opening task %s failed: %s", task.task_id, type(exc).__name__)
            self._fail(task, AccessAction.DECRYPT_FAILED, reason)
            raise SegmentOpenError(message, reason) from exc
        return opened

    def _fail(self, task: Task, action: AccessAction, reason: str) -> None:
        logger.warning("opening task %s failed: %s", task.task_id, reason)
        self._events.record(
            AccessEvent(
                action, task.task_id, task.segment_id, outcome=Outcome.FAILED, reason=reason
            )
        )

    def _opened(self, task: Task) -> None:
        self._events.record(
            AccessEvent(AccessAction.SEGMENT_OPENED, task.task_id, task.segment_id, 0)
        )


class _OpenRun:
    """One open attempt: the download loop and the decoder it feeds."""

    def __init__(
        self,
        api: CordonApi,
        device: Callable[[], Device | None],
        task: Task,
        record_opened: Callable[[Task], None],
        on_ready: Callable[[OpenedSegment], None],
        progress: Progress | None,
        cancel: threading.Event,
        context: str | None = None,
    ) -> None:
        self.api = api
        self.context = context
        self.device = device
        self.record_opened = record_opened
        self.task = task
        self.on_ready = on_ready
        self.progress = progress
        self.cancel = cancel
        self.source: ProgressiveBuffer | None = None
        self.decoder: StreamDecoder | None = None
        self.opened: OpenedSegment | None = None
        self.controls = ClassControlsOut()
        self._lock = threading.Lock()

    def execute(self) -> OpenedSegment:
        if self.cancel.is_set():  # superseded while queued: do not even ask for a key
            raise SegmentCancelledError
        data_key = self._grant()
        if self.cancel.is_set():
            raise SegmentCancelledError
        decryptor = SegmentDecryptor(
            data_key,
            project_id=self.task.project_id,
            segment_id=self.task.segment_id,
            allocate=self._allocate,
            max_plaintext_length=MAX_SEGMENT_BYTES,
        )
        try:
            self._download(decryptor)
            decryptor.finish()
            if self.source is None or self.decoder is None:
                raise crypto_errors.SegmentIntegrityError("segment truncated")
            self.source.finish()
            self.decoder.join()
            if self.decoder.error is not None:
                raise self.decoder.error
            with self._lock:
                opened = self.opened
            if opened is None:
                raise DecodeError("no audio frames in segment")
            opened.complete = True
            return opened
        except BaseException as exc:
            self._abandon(exc)
            raise
        finally:
            if self.source is not None:
                self.source.close()  # the compressed plaintext is zeroed here, always

    def _grant(self) -> bytes:
        key, self.controls = open_grant_of(self.api, self.device, self.task, self.context)
        return key

    def _download(self, decryptor: SegmentDecryptor) -> None:
        with self.api.segment_stream(self.task.task_id, self.context) as (total, pieces):
            received = 0
            for piece in pieces:
                if self.cancel.is_set():
                    raise SegmentCancelledError
                if self.decoder is not None and self.decoder.error is not None:
                    raise self.decoder.error  # no point downloading what cannot decode
                decryptor.feed(piece)
                if self.source is not None:
                    self.source.advance(decryptor.plaintext_available)
                received += len(piece)
                if self.progress is not None:
                    self.progress(received, total or self.task.ciphertext_bytes)

    def _allocate(self, size: int) -> memoryview:
        self.source = ProgressiveBuffer(size)
        self.decoder = StreamDecoder(self.source, self._decoded_first_block)
        self.decoder.start()
        return self.source.view

    def _decoded_first_block(self, audio: DecodedAudio, summaries: list[WaveformSummary]) -> None:
        opened = OpenedSegment(
            self.task,
            audio,
            summaries,
            self.decoder,
            self.source,
            self.cancel,
            controls=self.controls,
        )
        with self._lock:
            self.opened = opened
        self.record_opened(self.task)
        self.on_ready(opened)

    def _abandon(self, exc: BaseException) -> None:
        """Stop the decoder; zero its output unless the caller already owns it."""
        if self.source is not None:
            self.source.fail(exc)
        if self.decoder is not None:
            self.decoder.stop()
            self.decoder.join()
            with self._lock:
                handed_over = self.opened is not None
            if not handed_over and self.decoder.audio is not None:
                self.decoder.audio.close()
                for summary in self.decoder.summaries:
                    summary.close()
