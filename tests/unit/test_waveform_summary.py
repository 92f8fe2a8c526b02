"""The min/max pyramid never hides a peak, at any zoom."""

from __future__ import annotations

import numpy as np
import pytest

from app.player.waveform_summary import BASE, WaveformSummary


@pytest.fixture(scope="module")
def samples() -> np.ndarray:
    rng = np.random.default_rng(3)
    x = (rng.standard_normal(3_000_017) * 2000).astype(np.int16)
    x[1_234_567] = 32767
    x[2_345_678] = -32768
    return x


@pytest.mark.parametrize(
    ("start", "end", "width"),
    [(0, 3_000_017, 1920), (0, 3_000_017, 7), (1_234_000, 1_235_000, 1920),
     (1_234_560, 1_234_575, 400), (2_000_000, 2_900_000, 333), (0, 255, 100)],
)  # fmt: skip
def test_columns_bound_the_true_extremes(
    samples: np.ndarray, start: int, end: int, width: int
) -> None:
    summary = WaveformSummary(samples)
    lo, hi = summary.columns(start, end, width)
    assert len(lo) == len(hi) == width
    edges = np.linspace(start, end, width + 1)
    for i in range(width):
        a, b = int(np.floor(edges[i])), max(int(np.ceil(edges[i + 1])), int(edges[i]) + 1)
        assert lo[i] <= samples[a:b].min()
        assert hi[i] >= samples[a:b].max()
    assert lo.min() == samples[start:end].min()
    assert hi.max() == samples[start:end].max()


def test_levels_shrink_by_sixteen(samples: np.ndarray) -> None:
    summary = WaveformSummary(samples)
    assert len(summary.levels[0][0]) == -(-len(samples) // BASE)
    for finer, coarser in zip(summary.levels, summary.levels[1:], strict=False):
        assert len(coarser[0]) == -(-len(finer[0]) // 16)


def test_empty_and_tiny_inputs() -> None:
    empty = WaveformSummary(np.zeros(0, dtype=np.int16))
    lo, _hi = empty.columns(0, 10, 5)
    assert len(lo) == 5
    tiny = WaveformSummary(np.array([5, -7, 3], dtype=np.int16))
    lo, hi = tiny.columns(0, 3, 1)
    assert (lo[0], hi[0]) == (-7, 5)
