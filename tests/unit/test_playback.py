"""The playback engine on a real PortAudio stream (ALSA null device).

What the callback delivered is checked frame by frame: the whole segment in
order, silence while paused, and a seek landing on the exact frame.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from app.player.decoded_audio import DecodedAudio
from app.player.playback import AudioDeviceError, PlaybackEngine, PlaybackState
from tests.audio_tap import TappedOutput


def make_audio(frames: int, channels: int = 2, rate: int = 16000) -> DecodedAudio:
    audio = DecodedAudio(rate, frames, channels)
    ramp = np.arange(frames, dtype=np.int64)
    for c in range(channels):
        audio.channels[c][:] = ((ramp * (c + 1)) % 30000).astype(np.int16)
    return audio


def wait_for(predicate: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.005)


def nonsilent(block: np.ndarray) -> np.ndarray:
    return block[np.any(block != 0, axis=1)]


def test_plays_every_frame_in_order() -> None:
    tap = TappedOutput()
    engine = PlaybackEngine(tap.factory)
    audio = make_audio(50_001)
    engine.load(audio)
    assert tap.opened[0]["samplerate"] == 16000 and tap.opened[0]["channels"] == 2
    engine.play()
    wait_for(lambda: engine.state is PlaybackState.FINISHED)
    engine.unload()
    played = nonsilent(tap.delivered())
    expected = np.stack(audio.channels, axis=1)
    np.testing.assert_array_equal(played, nonsilent(expected))
    assert engine.frames_delivered == 50_001
    audio.close()


def test_paused_engine_outputs_silence_and_seek_is_exact() -> None:
    tap = TappedOutput()
    engine = PlaybackEngine(tap.factory)
    audio = make_audio(40_000, channels=1)
    audio.channels[0][:] = np.arange(1, 40_001, dtype=np.int64).astype(np.int16)
    engine.load(audio)
    wait_for(lambda: len(tap.blocks) > 3)
    assert not tap.delivered().any(), "a paused stream must be silent"
    engine.seek(30_000)
    engine.play()
    wait_for(lambda: engine.state is PlaybackState.FINISHED)
    engine.unload()
    played = nonsilent(tap.delivered())[:, 0]
    np.testing.assert_array_equal(played, audio.channels[0][30_000:])
    audio.close()


def test_missing_device_is_a_clear_error() -> None:
    def broken(**_kwargs: object) -> object:
        raise AudioDeviceError("no device")

    engine = PlaybackEngine(broken)  # type: ignore[arg-type]
    audio = make_audio(100)
    with pytest.raises(AudioDeviceError):
        engine.load(audio)
    assert engine.state is PlaybackState.STOPPED
    audio.close()


def test_real_stream_with_impossible_settings_is_a_clear_error() -> None:
    engine = PlaybackEngine()
    audio = DecodedAudio(16000, 10, 1)
    audio.channels = []  # zero channels: PortAudio refuses the stream
    with pytest.raises(AudioDeviceError):
        engine.load(audio)
    audio.close()
