"""Synthetic speech-like audio for tests and benchmarks (no real voice, no real data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf

from app.player.decoded_audio import DecodedAudio

Int16Array = npt.NDArray[np.int16]


def speech_like(seconds: float, rate: int, channels: int = 1, seed: int = 0) -> Int16Array:
    """Noise and a voiced tone under a 4 Hz syllable envelope: compresses like speech.

    Shape (frames, channels); unique per seed, so it can serve as a disk-scan needle.
    """
    n = int(seconds * rate)
    rng = np.random.default_rng(seed)
    out = np.empty((n, channels), dtype=np.int16)
    block = 1 << 20  # generate in pieces: an hour at 48 kHz would not fit in float64 at once
    for start in range(0, n, block):
        t = np.arange(start, min(n, start + block)) / rate
        envelope = (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t)) ** 2
        for c in range(channels):
            tone = np.sin(2 * np.pi * (180 + 40 * c) * t)
            mix = 0.6 * tone + 0.4 * rng.standard_normal(len(t))
            out[start : start + len(t), c] = (envelope * mix * 12000).astype(np.int16)
    return out


def write_audio(path: Path, seconds: float, rate: int, channels: int = 1, seed: int = 0) -> Path:
    """Write speech-like audio; the format follows the suffix (.wav .flac .ogg .opus .mp3)."""
    formats = {
        ".wav": ("WAV", "PCM_16"),
        ".flac": ("FLAC", "PCM_16"),
        ".ogg": ("OGG", "VORBIS"),
        ".opus": ("OGG", "OPUS"),
        ".mp3": ("MP3", "MPEG_LAYER_III"),
    }
    fmt, subtype = formats[path.suffix]
    samples = speech_like(seconds, rate, channels, seed)
    with sf.SoundFile(path, "w", rate, channels, subtype, format=fmt) as out:
        for start in range(0, len(samples), 1 << 20):
            out.write(samples[start : start + (1 << 20)])
    return path


def decoded_speech(seconds: float, rate: int, channels: int = 1, seed: int = 0) -> DecodedAudio:
    """Speech-like audio already in the player's form (secure per-channel buffers)."""
    samples = speech_like(seconds, rate, channels, seed)
    audio = DecodedAudio(rate, len(samples), channels)
    for c in range(channels):
        audio.channels[c][:] = samples[:, c]
    return audio
