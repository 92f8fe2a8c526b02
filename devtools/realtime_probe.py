"""Real-time playback under load, in its own process: ``python -m devtools.realtime_probe``.

Plays a speech-like segment through the engine into the default output (run it
with :func:`devtools.pulse.null_sink`'s environment for a paced 48 kHz sink)
while a waveform view of a long stereo call pans at 60 fps and, optionally,
another segment decodes in the background. Prints one JSON object: output
underflows reported by PortAudio, periods the producer could not fill, frames
delivered, and the view's redraw times. Used by the tests and by cordon-bench.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import threading
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import soundfile as sf
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from app.player.decoder import decode
from app.player.playback import AUDIO_SWITCH_INTERVAL_S, PlaybackEngine, PlaybackState
from app.player.waveform_summary import WaveformSummary
from app.ui.transcript_editor import release_clipboard
from app.ui.waveform_view import WaveformView
from devtools.documents import SPEAKERS, spread_segments
from devtools.synthetic_audio import decoded_speech, speech_like


def _background_decode(stop: threading.Event, done: list[int]) -> None:
    buf = io.BytesIO()
    sf.write(buf, speech_like(600, 16000), 16000, format="FLAC")
    data = bytearray(buf.getvalue())
    while not stop.is_set():
        decode(memoryview(data)).close()
        done[0] += 1


def run(
    seconds: float, speed: float, view_minutes: float, background: bool, segments: int = 0
) -> dict[str, object]:
    """Play while the view pans; ``segments`` speaker-coloured segments are drawn on it."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    play = decoded_speech(max(seconds * speed + 5, 10), 16000, 1, seed=1)
    shown = decoded_speech(view_minutes * 60, 48000, 2, seed=2)
    view = WaveformView()
    view.resize(1920, 300)
    view.show()
    view.set_audio([WaveformSummary(ch) for ch in shown.channels], shown.sample_rate)
    if segments:
        doc = spread_segments(segments, shown.frames, shown.sample_rate)
        view.set_segments(doc.segments, doc.pii, shown.sample_rate, SPEAKERS)
    redraws: list[float] = []
    rng = np.random.default_rng(5)
    duration = shown.frames / shown.sample_rate

    def pan() -> None:
        width = duration * float(rng.uniform(0.0005, 1.0))
        left = float(rng.uniform(0, max(duration - width, 0.001)))
        t0 = time.perf_counter()
        view.setXRange(left, left + width, padding=0)
        view.grab()
        redraws.append((time.perf_counter() - t0) * 1000)

    stop = threading.Event()
    decoded = [0]
    worker = threading.Thread(target=_background_decode, args=(stop, decoded), daemon=True)
    if background:
        worker.start()
    engine = PlaybackEngine()
    engine.load(play)
    engine.set_speed(speed)
    engine.play()
    timer = QTimer()
    timer.timeout.connect(pan)
    timer.start(16)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and engine.state is PlaybackState.PLAYING:
        app.processEvents()
        time.sleep(0.001)
    timer.stop()
    result: dict[str, object] = {
        "seconds": seconds,
        "speed": speed,
        "underflows": engine.underflows,
        "starved_periods": engine.starved,
        "frames_delivered": engine.frames_delivered,
        "output_latency_ms": round(engine.output_latency_s * 1000, 2),
        "redraws": len(redraws),
        "redraw_p50_ms": round(float(np.percentile(redraws, 50)), 2) if redraws else None,
        "redraw_p99_ms": round(float(np.percentile(redraws, 99)), 2) if redraws else None,
        "background_decodes": decoded[0],
    }
    stop.set()
    engine.close()
    view.clear_audio()
    view.close()
    view.deleteLater()
    app.processEvents()
    release_clipboard()
    play.close()
    shown.close()
    if background:
        worker.join()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--view-minutes", type=float, default=120.0)
    parser.add_argument("--background-decode", action="store_true")
    parser.add_argument("--segments", type=int, default=0, help="segments drawn on the view")
    parser.add_argument("--switch-interval-ms", type=float, default=AUDIO_SWITCH_INTERVAL_S * 1000)
    args = parser.parse_args()
    sys.setswitchinterval(args.switch_interval_ms / 1000)
    result = run(args.seconds, args.speed, args.view_minutes, args.background_decode, args.segments)
    print(json.dumps(result), flush=True)  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
