"""Spectrogram columns: the right frequency in the right column, silence where not decoded."""

from __future__ import annotations

import numpy as np

from app.player.spectrogram import N_FFT, spectrogram_columns

RATE = 16000
BIN_HZ = RATE / N_FFT


def tone(hz: float, seconds: float, amplitude: float = 20000.0) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    return (np.sin(2 * np.pi * hz * t) * amplitude).astype(np.int16)


def test_each_column_shows_the_frequency_playing_there() -> None:
    samples = np.concatenate([tone(500.0, 5.0), tone(3000.0, 5.0)])
    out = spectrogram_columns(samples, len(samples), 0, len(samples), 200)
    assert out.shape == (200, N_FFT // 2 + 1) and out.dtype == np.uint8
    peaks = out.argmax(axis=1)
    assert np.all(np.abs(peaks[5:95] - 500 / BIN_HZ) <= 1)
    assert np.all(np.abs(peaks[105:195] - 3000 / BIN_HZ) <= 1)


def test_louder_is_brighter_and_silence_is_black() -> None:
    loud = spectrogram_columns(tone(1000.0, 1.0), RATE, 0, RATE, 50)
    quiet = spectrogram_columns(tone(1000.0, 1.0, 200.0), RATE, 0, RATE, 50)
    silent = spectrogram_columns(np.zeros(RATE, np.int16), RATE, 0, RATE, 50)
    assert loud.max() > quiet.max() + 60  # 40 dB quieter is ~113 levels darker
    assert not silent.any()


def test_columns_past_what_is_decoded_are_silent() -> None:
    samples = tone(1000.0, 10.0)
    out = spectrogram_columns(samples, RATE * 4, 0, len(samples), 100)
    assert out[:38].max() > 200
    assert not out[42:].any()  # from 4 s on (plus half a window), nothing yet


def test_cost_does_not_depend_on_the_length_of_the_call() -> None:
    hour = np.zeros(RATE * 3600, np.int16)
    centre = int(960.5 * len(hour) / 1920)  # column 960's centre: 1800.9375 s
    hour[centre - 2000 : centre + 2000] = tone(2000.0, 0.25)
    out = spectrogram_columns(hour, len(hour), 0, len(hour), 1920)
    assert out.shape == (1920, N_FFT // 2 + 1)  # one FFT per pixel column, not per sample
    assert out[960].argmax() == round(2000 / BIN_HZ)
    # Zoomed out, a column samples its 1.9 s span: the burst shows in its column only.
    assert not out[959].any() and not out[961].any()


def test_empty_inputs() -> None:
    samples = tone(1000.0, 1.0)
    assert not spectrogram_columns(samples, 0, 0, RATE, 10).any()
    assert spectrogram_columns(samples, RATE, 100, 100, 10).shape == (10, N_FFT // 2 + 1)
    assert spectrogram_columns(samples, RATE, 0, RATE, 0).shape == (0, N_FFT // 2 + 1)
