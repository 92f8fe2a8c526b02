"""B13: the annotation workspace on a 2-hour call with 2,000 segments.

Three figures, each against a floor measured in the same run:

* opening: the document handed to the window -> segment list, waveform and
  overview drawn (floor: the same with an empty document);
* typing: one keystroke in a segment's text while audio plays -> every view
  that changed repainted (floor: the same keystroke in a one-segment document);
* autosave: on the GUI thread (snapshot + hand-off) and on the drafts thread
  (encode + seal + write + fsync) for the whole document.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.domain.label_document import LabelDocument
from app.domain.models import ProjectId, SegmentId, Task, TaskId
from app.domain.project_schema import parse_schema
from app.player.playback import PlaybackEngine, PlaybackState
from app.player.waveform_summary import WaveformSummary
from app.services.annotation import DocumentEditor
from app.services.drafts import DraftStore
from app.ui.main_window import MainWindow
from app.wire.schemas import Role, TaskStatus
from devtools.bench.measure import percentile, ratio
from devtools.documents import spread_segments
from devtools.synthetic_audio import decoded_speech
from server.demo import DEMO_SCHEMA
from server.project_schemas import read_file

RATE = 8000


def _task(frames: int) -> Task:
    return Task(
        TaskId("tsk_bench"), ProjectId("prj_bench"), "Bench", SegmentId("seg_bench"),
        "bench-call", Role.ANNOTATOR, TaskStatus.ASSIGNED, frames / RATE, RATE, 2, 0,
    )  # fmt: skip


def _settle(app: QApplication) -> None:
    app.sendPostedEvents()
    app.processEvents()


class _Workspace:
    """A window showing a long call, and the measurements made on it."""

    def __init__(self, minutes: float) -> None:
        app = QApplication.instance()
        assert isinstance(app, QApplication)  # noqa: S101
        self.app = app
        self.schema = parse_schema(read_file(DEMO_SCHEMA), version=1)
        self.audio = decoded_speech(minutes * 60, RATE, 2, seed=13)
        self.summaries = [WaveformSummary(ch) for ch in self.audio.channels]
        self.window = MainWindow(["annotator"], "https://127.0.0.1:1")
        self.window.resize(1600, 1000)
        self.window.show()
        self.window.stack.setCurrentIndex(1)
        self.window.show_segment(_task(self.audio.frames), self.summaries, RATE)
        self.editor: DocumentEditor | None = None
        _settle(app)

    def editor_for(self, doc: LabelDocument) -> DocumentEditor:
        return DocumentEditor(self.schema, self.audio.frames, 2, RATE, doc)

    def open_ms(self, editor: DocumentEditor) -> float:
        """The document handed over -> list, waveform and overview drawn."""
        t0 = time.perf_counter()
        self.window.show_document(editor)
        self.window.show_segments(editor, None)
        _settle(self.app)
        self.window.repaint()
        return (time.perf_counter() - t0) * 1000

    def _edit(self, segment_id: str, text: str) -> None:
        """What the controller and the window do on a keystroke (app.main wires the same)."""
        assert self.editor is not None  # noqa: S101
        self.editor.set_text(segment_id, text)
        self.window.show_segment_text(self.editor, segment_id)

    def typing_ms(self, editor: DocumentEditor, keystrokes: int) -> list[float]:
        """One key typed into a segment in the middle -> every changed view repainted."""
        window = self.window
        window.show_document(editor)
        target = editor.segments[len(editor) // 2]
        self.editor = editor
        window.annotation.text_edited.connect(self._edit)
        window.show_segments(editor, target.id)
        window.editor.setFocus()
        _settle(self.app)
        times = []
        for i in range(keystrokes):
            key = Qt.Key.Key_Backspace if i % 2 else Qt.Key.Key_A
            t0 = time.perf_counter()
            QTest.keyClick(window.editor, key)
            _settle(self.app)
            times.append((time.perf_counter() - t0) * 1000)
        window.annotation.text_edited.disconnect(self._edit)
        return times

    def autosave_ms(self, doc: LabelDocument) -> tuple[list[float], list[float], int]:
        """(GUI-thread hand-off, drafts-thread write) per save, and the draft's size."""
        with tempfile.TemporaryDirectory(prefix="cordon-bench-drafts-") as tmp:
            drafts = DraftStore(Path(tmp), os.urandom(32))
            big = self.editor_for(doc)
            on_gui, off_gui = [], []
            for i in range(20):
                big.set_text(big.segments[i].id, f"edit {i}")
                t0 = time.perf_counter()
                drafts.save("usr_bench", "tsk_bench", big.snapshot(), None)
                on_gui.append((time.perf_counter() - t0) * 1000)
                drafts.flush()
                off_gui.append(drafts.last_write_s * 1000)
            size = sum(p.stat().st_size for p in Path(tmp).glob("*.draft"))
            drafts.close()
        return on_gui, off_gui, size

    def close(self) -> None:
        self.window.show_document(None)
        self.window.quit_without_asking()
        self.window.close()
        self.window.deleteLater()
        _settle(self.app)
        for summary in self.summaries:
            summary.close()
        self.audio.close()


def b13_workspace(minutes: float, segments: int, keystrokes: int = 200) -> dict[str, object]:
    bench = _Workspace(minutes)
    full = spread_segments(segments, bench.audio.frames, RATE)
    empty = [bench.open_ms(bench.editor_for(LabelDocument(schema_version=1))) for _ in range(5)]
    opened = [bench.open_ms(bench.editor_for(full)) for _ in range(5)]
    engine = PlaybackEngine()
    engine.load(bench.audio)
    engine.play()
    one = spread_segments(1, bench.audio.frames, RATE)
    floor_typing = bench.typing_ms(bench.editor_for(one), keystrokes)
    typing = bench.typing_ms(bench.editor_for(full), keystrokes)
    playing = engine.state is PlaybackState.PLAYING
    underflows = engine.underflows
    engine.close()
    on_gui, off_gui, size = bench.autosave_ms(full)
    bench.close()
    open_p50, floor_open = percentile(opened, 50), percentile(empty, 50)
    type_p99, floor_type_p99 = percentile(typing, 99), percentile(floor_typing, 99)
    return {
        "what": f"{minutes:.0f} min 8 kHz stereo call, {segments} segments, window 1600x1000",
        "open_floor_empty_document_p50_ms": round(floor_open, 1),
        "open_p50_ms": round(open_p50, 1),
        "open_max_ms": round(max(opened), 1),
        "open_ratio_p50": ratio(open_p50, floor_open),
        "target_open_ms_max": 200,
        "keystroke_floor_one_segment_p99_ms": round(floor_type_p99, 2),
        "keystroke_p50_ms": round(percentile(typing, 50), 2),
        "keystroke_p99_ms": round(type_p99, 2),
        "keystroke_ratio_p99": ratio(type_p99, floor_type_p99),
        "audio_playing_throughout": playing,
        "underflows_while_typing": underflows,
        "target_keystroke_p99_ms_max": 16,
        "autosave_gui_thread_p50_ms": round(percentile(on_gui, 50), 3),
        "autosave_gui_thread_max_ms": round(max(on_gui), 3),
        "autosave_drafts_thread_p50_ms": round(percentile(off_gui, 50), 2),
        "autosave_drafts_thread_max_ms": round(max(off_gui), 2),
        "draft_bytes": size,
        "target_autosave_off_gui_ms_max": 20,
    }
