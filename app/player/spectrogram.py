"""Spectrogram columns for the visible range, at a cost set by the view's width.

A transcriber switches to the spectrogram to see what the waveform hides:
formants under noise, a fricative at the start of a word, two speakers at once.
Computing a short-time Fourier transform of a whole hour-long call for every zoom
would take seconds, so each pixel column gets one Hann-windowed FFT of
``n_fft`` samples centred on it. Redraw cost is ``width * n_fft * log(n_fft)``
whatever the call's length. Zoomed out, each column is a sample of its span,
not an average over it: the picture is for finding things, and zooming in
shows the detail. Below ``n_fft`` samples per column the windows overlap and
the picture is continuous.

Output is an 8-bit magnitude in dB over a fixed range, so loudness differences
between calls stay visible. It is audio-derived: the caller zeroes it when the
segment closes.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

N_FFT = 512
#: dB below full scale that maps to 0; full scale (0 dBFS) maps to 255.
DYNAMIC_RANGE_DB = 90.0

Int16Array = npt.NDArray[np.int16]
UInt8Array = npt.NDArray[np.uint8]

_WINDOWS: dict[int, npt.NDArray[np.float32]] = {}


def _hann(n_fft: int) -> npt.NDArray[np.float32]:
    window = _WINDOWS.get(n_fft)
    if window is None:
        window = np.hanning(n_fft).astype(np.float32)
        _WINDOWS[n_fft] = window
    return window


def spectrogram_columns(
    samples: Int16Array, ready: int, start: int, end: int, width: int, n_fft: int = N_FFT
) -> UInt8Array:
    """Magnitudes for ``width`` columns over samples ``[start, end)``: shape (width, n_fft/2+1).

    Row ``i`` is column ``i`` (left to right), frequency bins from 0 Hz up to
    Nyquist. Only the first ``ready`` samples are read (the rest are still
    decoding and draw as silence); window parts past either end are zero.
    """
    bins = n_fft // 2 + 1
    out = np.zeros((max(width, 0), bins), dtype=np.uint8)
    ready = max(0, min(ready, len(samples)))
    if width <= 0 or end <= start or ready == 0:
        return out
    centres = start + (np.arange(width, dtype=np.float64) + 0.5) * ((end - start) / width)
    first = centres.astype(np.int64) - n_fft // 2
    index = first[:, None] + np.arange(n_fft, dtype=np.int64)[None, :]
    valid = (index >= 0) & (index < ready)
    frames = samples[np.clip(index, 0, ready - 1)].astype(np.float32)
    frames *= valid
    frames *= _hann(n_fft) / np.float32(32768.0 * n_fft / 4)
    spectrum = np.abs(np.fft.rfft(frames, axis=1))
    frames.fill(0.0)
    power_db = 20.0 * np.log10(np.maximum(spectrum, 1e-9))
    spectrum.fill(0.0)
    scaled = (power_db + DYNAMIC_RANGE_DB) * (255.0 / DYNAMIC_RANGE_DB)
    np.clip(scaled, 0.0, 255.0, out=scaled)
    out[:] = scaled.astype(np.uint8)
    scaled.fill(0.0)
    power_db.fill(0.0)
    return out
