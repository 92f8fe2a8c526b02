"""B3 (time to first audio), B4 (first overview) and B6 (memory) against a loopback server."""

from __future__ import annotations

import contextlib
import secrets
import statistics
import sys
import threading
import time
from pathlib import Path

import keyring

from app.api.client import CordonApi
from app.auth.demo_login import DemoAuthenticator
from app.player.playback import PlaybackEngine
from app.services.device_store import DeviceStore
from app.services.events import EventRecorder
from app.services.outbox import Outbox
from app.services.segments import OpenedSegment, SegmentService
from app.services.session import SessionService
from devtools.bench.measure import peak_rss_bytes, ratio, reset_peak_rss, rss_bytes
from devtools.memory_keyring import MemoryKeyring
from devtools.processes import start_server, stop
from server.cli import main as server_main

RUNS = 5


class _Client:
    def __init__(self, url: str, ca: Path, outbox_dir: Path) -> None:
        keyring.set_keyring(MemoryKeyring())
        self.api = CordonApi(url, ca)
        self.session = SessionService(self.api, DemoAuthenticator(self.api), DeviceStore("bench"))
        self.session.sign_in("annotator")
        self.outbox = Outbox(outbox_dir, secrets.token_bytes(32))
        self.events = EventRecorder(self.outbox)
        self.segments = SegmentService(self.api, lambda: self.session.device, self.events)
        self.tasks = {t.title: t for t in self.session.tasks()}


def _first_audio(client: _Client, engine: PlaybackEngine, title: str) -> dict[str, float]:
    """Request -> first decoded audio -> first frame handed to the output callback."""
    ready = threading.Event()
    holder: list[OpenedSegment] = []
    times: dict[str, float] = {}
    t0 = time.perf_counter()

    def on_ready(opened: OpenedSegment) -> None:
        times["ready_ms"] = (time.perf_counter() - t0) * 1000
        holder.append(opened)
        engine.load(opened.audio)
        engine.play()
        ready.set()

    done = threading.Thread(
        target=lambda: client.segments.open(client.tasks[title], on_ready), daemon=True
    )
    reset_peak_rss()
    base = rss_bytes()
    done.start()
    ready.wait(120)
    while engine.frames_delivered == 0:
        time.sleep(0.0002)
    times["first_audio_ms"] = (time.perf_counter() - t0) * 1000
    done.join(600)
    times["complete_ms"] = (time.perf_counter() - t0) * 1000
    opened = holder[0]
    audio = opened.audio
    pcm = audio.frames * audio.channel_count * 2
    times["pcm_bytes"] = pcm
    times["steady_ratio"] = round((rss_bytes() - base) / pcm, 3)
    times["peak_ratio"] = round(
        (peak_rss_bytes() - base) / (pcm + client.tasks[title].ciphertext_bytes), 3
    )
    engine.unload()
    opened.close()
    return times


def b3_b4_b6(work: Path, audio_dir: Path, engine: PlaybackEngine) -> dict[str, object]:
    data_dir = work / "server"
    with contextlib.redirect_stdout(sys.stderr):  # stdout carries only the JSON
        server_main(["init", "--data-dir", str(data_dir)])
    proc, url = start_server(data_dir, "--audio-dir", str(audio_dir), command="demo")
    try:
        client = _Client(url, data_dir / "pki" / "ca.pem", work / "outbox")
        runs = {t: [_first_audio(client, engine, t) for _ in range(RUNS)] for t in client.tasks}
        client.outbox.close()
    finally:
        stop(proc)

    def med(title: str, key: str) -> float:
        return round(statistics.median(r[key] for r in runs[title]), 1)

    long, short = "call-1h", "call-1min"
    return {
        "B3": {
            "what": "task opened -> first sample handed to the output callback (loopback TLS)",
            "first_audio_1min_ms": med(short, "first_audio_ms"),
            "first_audio_1h_ms": med(long, "first_audio_ms"),
            "ratio_1h_to_1min": ratio(med(long, "first_audio_ms"), med(short, "first_audio_ms")),
            "target_ms_max": 50,
            "target_ratio_max": 1.5,
        },
        "B4": {
            "what": "task opened -> first block decoded and in the pyramid (overview can draw)",
            "first_overview_1h_ms": med(long, "ready_ms"),
            "fully_decoded_1h_ms": med(long, "complete_ms"),
            "target_first_overview_ms_max": 100,
        },
        "B6": {
            "what": "resident memory while opening the 1 h segment, vs its int16 PCM",
            "pcm_mb": round(runs[long][0]["pcm_bytes"] / 1e6, 1),
            "steady_ratio_to_pcm": med(long, "steady_ratio"),
            "peak_ratio_to_pcm_plus_compressed": med(long, "peak_ratio"),
            "target_steady_max": 1.05,
            "target_peak_max": 1.25,
        },
    }
