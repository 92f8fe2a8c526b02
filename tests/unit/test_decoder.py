"""In-memory decoding into per-channel int16 secure buffers."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from app.player.decoder import DecodeError, decode


def encode(samples: np.ndarray, rate: int, fmt: str) -> bytearray:
    out = io.BytesIO()
    sf.write(out, samples, rate, format=fmt, subtype="PCM_16")
    return bytearray(out.getvalue())


@pytest.mark.parametrize("fmt", ["WAV", "FLAC"])
def test_stereo_decodes_to_one_array_per_channel(fmt: str) -> None:
    rng = np.random.default_rng(7)
    pcm = rng.integers(-20000, 20000, size=(200_003, 2), dtype=np.int16)
    audio = decode(memoryview(encode(pcm, 16000, fmt)))
    assert (audio.sample_rate, audio.frames, audio.channel_count) == (16000, 200_003, 2)
    assert all(ch.flags["C_CONTIGUOUS"] for ch in audio.channels)
    np.testing.assert_array_equal(audio.channels[0], pcm[:, 0])
    np.testing.assert_array_equal(audio.channels[1], pcm[:, 1])
    audio.close()
    assert audio.closed and audio.frames == 0


def test_close_zeroes_the_samples() -> None:
    pcm = np.full((5000, 1), 1234, dtype=np.int16)
    audio = decode(memoryview(encode(pcm, 8000, "WAV")))
    kept = audio.channels[0]
    audio.close()
    assert not kept.any()


def test_garbage_is_a_typed_error() -> None:
    with pytest.raises(DecodeError):
        decode(memoryview(bytearray(b"this is not audio at all" * 100)))


def test_truncated_flac_does_not_crash() -> None:
    pcm = np.random.default_rng(1).integers(-3000, 3000, size=(48000, 1), dtype=np.int16)
    data = encode(pcm, 16000, "FLAC")
    try:
        audio = decode(memoryview(data[: len(data) // 2]))
    except DecodeError:
        return
    assert audio.frames < 48000  # decoded what was there, reported the rest missing
    audio.close()
