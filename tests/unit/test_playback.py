"""The playback engine on a real PortAudio stream (ALSA null device: unpaced, fast).

Everything is checked on the frames the callback actually delivered: order,
seek target, loop wrap (sample-exact), pitch at other speeds, channel solo.
The null device pulls frames as fast as it can, so the ring sometimes runs
dry; those periods are silence, and the checks look at the audible frames.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from app.player.decoded_audio import DecodedAudio
from app.player.playback import AudioDeviceError, PlaybackEngine, PlaybackState
from devtools.audio_tap import TappedOutput


def make_audio(frames: int, channels: int = 1, rate: int = 48000) -> DecodedAudio:
    audio = DecodedAudio(rate, frames, channels)
    ramp = np.arange(frames, dtype=np.int64)
    for c in range(channels):
        audio.channels[c][:] = (ramp * (c + 1)) % 30000 + 1  # never 0: silence is unambiguous
    return audio


def tone(frames: int, rate: int, hz: float) -> DecodedAudio:
    audio = DecodedAudio(rate, frames, 1)
    audio.channels[0][:] = (np.sin(2 * np.pi * hz * np.arange(frames) / rate) * 12000).astype(
        np.int16
    )
    return audio


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.002)


def audible(tap: TappedOutput) -> np.ndarray:
    out = tap.delivered()
    return out[np.any(out != 0, axis=1)]


@pytest.fixture
def engine_and_tap() -> Iterator[tuple[PlaybackEngine, TappedOutput]]:
    tap = TappedOutput()
    engine = PlaybackEngine(tap.factory)
    yield engine, tap
    engine.close()


def test_plays_every_frame_in_order_on_both_ears(
    engine_and_tap: tuple[PlaybackEngine, TappedOutput],
) -> None:
    engine, tap = engine_and_tap
    audio = make_audio(50_001)
    engine.load(audio)
    opened = tap.opened[0]
    assert (opened["samplerate"], opened["channels"], opened["dtype"]) == (48000, 2, "float32")
    engine.play()
    wait_for(lambda: engine.state is PlaybackState.FINISHED)
    played = audible(tap)
    expected = audio.channels[0].astype(np.float32) / 32768
    np.testing.assert_array_equal(played[:, 0], expected)
    np.testing.assert_array_equal(played[:, 1], expected)
    audio.close()


def test_paused_is_silent_and_seek_lands_on_the_exact_frame(
    engine_and_tap: tuple[PlaybackEngine, TappedOutput],
) -> None:
    engine, tap = engine_and_tap
    audio = make_audio(40_000)
    engine.load(audio)
    wait_for(lambda: len(tap.blocks) > 3)
    assert not tap.delivered().any(), "a paused stream must be silent"
    engine.seek(30_000)
    engine.play()
    wait_for(lambda: engine.state is PlaybackState.FINISHED)
    expected = audio.channels[0][30_000:].astype(np.float32) / 32768
    np.testing.assert_array_equal(audible(tap)[:, 0], expected)
    audio.close()


def test_loop_wraps_sample_exactly(engine_and_tap: tuple[PlaybackEngine, TappedOutput]) -> None:
    engine, tap = engine_and_tap
    audio = make_audio(48_000)
    engine.load(audio)
    engine.set_loop(10_000, 12_345)
    engine.play()
    wait_for(lambda: engine.frames_delivered > 12 * 2_345)
    engine.pause()
    played = audible(tap)[:, 0]
    region = audio.channels[0][10_000:12_345].astype(np.float32) / 32768
    loops = len(played) // len(region)
    assert loops >= 10
    np.testing.assert_array_equal(played[: loops * len(region)], np.tile(region, loops))
    audio.close()


def test_resampling_keeps_length_and_frequency(
    engine_and_tap: tuple[PlaybackEngine, TappedOutput],
) -> None:
    engine, tap = engine_and_tap
    audio = tone(16_000, 16_000, 440.0)
    engine.load(audio)
    engine.play()
    wait_for(lambda: engine.state is PlaybackState.FINISHED)
    played = audible(tap)[:, 0]
    assert abs(len(played) - 48_000) < 64
    assert abs(dominant_hz(played[4800:-4800], 48_000) - 440.0) < 2.0
    audio.close()


def dominant_hz(signal: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal)), n=len(signal) * 8))
    return float(np.argmax(spectrum) * rate / (len(signal) * 8))


@pytest.mark.parametrize("speed", [0.5, 2.0])
def test_speed_change_keeps_pitch_within_two_percent(
    engine_and_tap: tuple[PlaybackEngine, TappedOutput], speed: float
) -> None:
    engine, tap = engine_and_tap
    audio = tone(32_000, 16_000, 300.0)  # 2 s
    engine.load(audio)
    engine.set_speed(speed)
    engine.play()
    wait_for(lambda: engine.state is PlaybackState.FINISHED)
    played = audible(tap)[:, 0]
    assert abs(len(played) / 96_000 - 1 / speed) < 0.05  # duration scales with 1/speed
    assert abs(dominant_hz(played[9600:-9600], 48_000) / 300.0 - 1) < 0.02
    audio.close()


def test_solo_sends_one_speaker_to_both_ears(
    engine_and_tap: tuple[PlaybackEngine, TappedOutput],
) -> None:
    engine, tap = engine_and_tap
    audio = DecodedAudio(48_000, 20_000, 2)
    audio.channels[0][:] = 1000
    audio.channels[1][:] = 2000
    engine.load(audio)
    engine.set_channel_gains([0.0, 1.0])
    engine.play()
    wait_for(lambda: engine.state is PlaybackState.FINISHED)
    played = audible(tap)
    assert np.all(played == np.float32(2000 / 32768))
    audio.close()


def test_streaming_segment_plays_only_what_is_decoded(
    engine_and_tap: tuple[PlaybackEngine, TappedOutput],
) -> None:
    engine, tap = engine_and_tap
    audio = make_audio(20_000)
    audio.frames_ready = 5_000
    engine.load(audio)
    engine.play()
    wait_for(lambda: engine.frames_delivered >= 5_000 and engine.starved > 0)
    assert engine.state is PlaybackState.PLAYING  # buffering, not finished
    assert len(audible(tap)) == 5_000
    audio.frames_ready = 20_000
    wait_for(lambda: engine.state is PlaybackState.FINISHED)
    expected = audio.channels[0].astype(np.float32) / 32768
    np.testing.assert_array_equal(audible(tap)[:, 0], expected)
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


def test_impossible_device_settings_are_a_clear_error() -> None:
    engine = PlaybackEngine(device_rate=12_345_678)
    audio = make_audio(10)
    with pytest.raises(AudioDeviceError):
        engine.load(audio)
    engine.close()
    audio.close()


def test_volume_scales_output_without_replaying(
    engine_and_tap: tuple[PlaybackEngine, TappedOutput],
) -> None:
    engine, tap = engine_and_tap
    audio = make_audio(30_000)
    engine.load(audio)
    engine.set_volume(0.5)
    engine.play()
    wait_for(lambda: engine.state is PlaybackState.FINISHED)
    expected = (audio.channels[0].astype(np.float32) / 32768) * np.float32(0.5)
    np.testing.assert_array_equal(audible(tap)[:, 0], expected)
    audio.close()


def test_unload_zeroes_what_was_prepared(
    engine_and_tap: tuple[PlaybackEngine, TappedOutput],
) -> None:
    engine, _tap = engine_and_tap
    audio = make_audio(200_000)
    engine.load(audio)
    engine.play()
    wait_for(lambda: engine.frames_delivered > 10_000)
    engine.unload()
    assert not engine._ring.data.any()
    audio.close()


def test_a_lost_device_is_reopened_at_the_next_load(
    engine_and_tap: tuple[PlaybackEngine, TappedOutput],
) -> None:
    engine, tap = engine_and_tap
    audio = make_audio(20_000)
    engine.load(audio)
    engine._on_stream_finished()  # what PortAudio reports when the device goes away
    assert engine.device_error is not None
    engine.load(audio)
    assert len(tap.opened) == 2 and engine.device_error is None
    engine.play()
    wait_for(lambda: engine.state is PlaybackState.FINISHED)
    audio.close()
