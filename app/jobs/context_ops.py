"""Context around a windowed task: ask for it, hear it, go back; a reviewer's decisions.

An annotator of a windowed task may ask to hear up to N seconds either side, with a
reason (Ctrl+Shift+U). A granted stretch is fetched like the task's own audio (key
grant to this device, verified stream, decoded in memory) and *heard, not edited*: the
engine plays it in place of the window while the document and the waveform stay on
the window; Ctrl+Space pauses it, Ctrl+Shift+U again returns to the window where it
was. Its playback events name the stretch's segment, so they never count as the
window heard (listen coverage). Closing, locking or signing out zeroes it with the
task's audio.

A reviewer of a project whose asks need approval reads the pending asks with their
reasons and grants or denies each (Ctrl+Shift+K).
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

from PySide6.QtCore import SignalInstance

from app.api.client import CordonApi
from app.domain.models import AccessEvent, SegmentId
from app.jobs.review_ops import refusal_words
from app.player.playback import AudioDeviceError, PlaybackEngine, PlaybackState
from app.services.events import EventRecorder
from app.services.segments import OpenedSegment, SegmentService
from app.wire.context import ContextIn, ContextListOut, ContextOut
from app.wire.schemas import AccessAction, Role


def _around(out: ContextOut) -> str:
    return f"{out.before_s:.0f} s before and {out.after_s:.0f} s after the window"


class ContextOps:
    # Provided by Controller.
    _api: CordonApi
    _network: Any
    _downloads: Any
    _segments: SegmentService
    _engine: PlaybackEngine
    _events: EventRecorder
    _opened: OpenedSegment | None
    context_changed: SignalInstance
    context_failed: SignalInstance
    context_ask_wanted: SignalInstance
    context_asks_loaded: SignalInstance
    context_decided: SignalInstance

    def pause(self) -> None:
        raise NotImplementedError

    def _init_context(self) -> None:
        self._context: OpenedSegment | None = None
        self._context_cancel: threading.Event | None = None
        self._context_resume = 0

    @property
    def in_context(self) -> bool:
        """The engine plays a granted stretch around the window, not the window."""
        return self._context is not None

    # -- the annotator ---------------------------------------------------------------
    def context_key(self) -> None:
        """Ctrl+Shift+U: back to the window; else hear a granted stretch, say what is
        pending, or ask (``context_ask_wanted``)."""
        if self._context is not None:
            self.leave_context()
            return
        opened = self._opened
        if opened is None:
            return
        task = opened.task
        if not task.windowed or task.role is not Role.ANNOTATOR:
            self.context_failed.emit(
                "This task holds its whole recording: there is no more to hear."
            )
            return
        if task.context_max_s <= 0:
            self.context_failed.emit("The project allows no context around its windows.")
            return
        self._network.submit(
            "context", lambda: self._api.task_context(task.task_id), self._on_asks,
            lambda exc: self.context_failed.emit(refusal_words(exc)),
        )  # fmt: skip

    def _on_asks(self, listed: ContextListOut) -> None:
        opened = self._opened
        if opened is None:
            return
        asks = [r for r in listed.requests if r.task_id == opened.task.task_id]
        if not asks:
            self.context_ask_wanted.emit(opened.task.context_max_s)
            return
        newest = asks[-1]
        if newest.status == "granted":
            self._open_context(newest)
        elif newest.status == "pending":
            self.context_changed.emit(
                f"You asked for {newest.seconds} s either side; a reviewer of the project "
                "has not decided yet."
            )
        else:
            self.context_ask_wanted.emit(opened.task.context_max_s)

    def ask_context(self, seconds: int, justification: str) -> None:
        """Send the ask; a grant is heard at once, a pending ask is said so."""
        opened = self._opened
        if opened is None:
            return
        task_id = opened.task.task_id
        body = ContextIn(seconds=seconds, justification=justification)
        self._network.submit(
            "context-ask", lambda: self._api.ask_context(task_id, body), self._on_answer,
            lambda exc: self.context_failed.emit(refusal_words(exc)),
        )  # fmt: skip

    def _on_answer(self, out: ContextOut) -> None:
        if self._opened is None or self._opened.task.task_id != out.task_id:
            return
        if out.status == "granted":
            self._open_context(out)
        else:
            self.context_changed.emit(
                f"Asked for {out.seconds} s either side: a reviewer of the project decides. "
                "Ctrl+Shift+U again to see if it was granted."
            )

    def _open_context(self, out: ContextOut) -> None:
        opened = self._opened
        if opened is None or out.segment_id is None:
            return
        stretch = replace(
            opened.task, segment_id=SegmentId(out.segment_id), ciphertext_bytes=0,
            duration_s=opened.task.duration_s + out.before_s + out.after_s,
        )  # fmt: skip
        cancel = threading.Event()
        self._context_cancel = cancel
        self.context_changed.emit("Fetching the context…")
        self._downloads.submit(
            f"context:{out.request_id}",
            lambda: self._segments.open(stretch, lambda _o: None, None, cancel, out.request_id),
            lambda heard: self._play_context(heard, out),
            lambda exc: self.context_failed.emit(getattr(exc, "user_message", refusal_words(exc))),
        )  # fmt: skip

    def _play_context(self, heard: OpenedSegment, out: ContextOut) -> None:
        opened = self._opened
        if opened is None or opened.task.task_id != out.task_id or self._context is not None:
            heard.close()  # the task closed meanwhile: nothing of it is kept
            return
        if self._engine.state is PlaybackState.PLAYING:
            self.pause()
        self._context_resume = self._engine.position_frames
        try:
            self._engine.load(heard.audio)
        except AudioDeviceError as exc:
            heard.close()
            self._engine.load(opened.audio)
            self.context_failed.emit(exc.user_message)
            return
        self._context = heard
        self._engine.play()
        self._context_event(AccessAction.PLAYBACK_STARTED)
        self.context_changed.emit(
            f"Playing the context: {_around(out)}. Ctrl+Space pauses; Ctrl+Shift+U returns to "
            "the window."
        )

    def toggle_context_playback(self) -> None:
        if self._context is None:
            return
        playing = self._engine.state is PlaybackState.PLAYING
        if not playing and self._engine.state is PlaybackState.FINISHED:
            self._engine.seek(0)
        self._engine.toggle()
        self._context_event(
            AccessAction.PLAYBACK_PAUSED if playing else AccessAction.PLAYBACK_STARTED
        )

    def leave_context(self) -> None:
        """Back to the window, where it was paused."""
        heard, opened = self._context, self._opened
        if heard is None:
            return
        self._context_event(AccessAction.PLAYBACK_PAUSED)
        self._context = None
        if opened is not None:
            try:
                self._engine.load(opened.audio)
                self._engine.seek(self._context_resume)
            except AudioDeviceError as exc:
                self.context_failed.emit(exc.user_message)
        heard.close()
        self.context_changed.emit("")

    def _drop_context(self) -> None:
        """The task closes: stop any fetch and zero a stretch without reloading the window."""
        if self._context_cancel is not None:
            self._context_cancel.set()
            self._context_cancel = None
        heard, self._context = self._context, None
        if heard is not None:
            self._engine.unload()
            heard.close()
            self.context_changed.emit("")

    def _context_event(self, action: AccessAction) -> None:
        heard = self._context
        if heard is None:
            return
        rate = self._engine.sample_rate
        position = int(self._engine.position_frames * 1000 / rate) if rate else 0
        self._events.record(
            AccessEvent(
                action, heard.task.task_id, heard.task.segment_id, position, reason="context"
            )
        )

    # -- the reviewer ----------------------------------------------------------------
    def load_context_asks(self) -> None:
        """Pending asks of the projects this reviewer reviews, with their reasons."""
        self._network.submit(
            "context-asks", self._api.pending_context,
            lambda listed: self.context_asks_loaded.emit(listed.requests),
            lambda exc: self.context_failed.emit(refusal_words(exc)),
        )  # fmt: skip

    def decide_context(self, request_id: str, grant: bool) -> None:
        def done(out: ContextOut) -> None:
            self.context_decided.emit("Granted." if out.status == "granted" else "Denied.")
            self.load_context_asks()

        self._network.submit(
            "context-decide", lambda: self._api.decide_context(request_id, grant), done,
            lambda exc: self.context_failed.emit(refusal_words(exc)),
        )  # fmt: skip
