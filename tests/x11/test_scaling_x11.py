"""The waveform on a real X server at scale factors 1 and 1.5: solid, no comb of 1-px bars."""

from __future__ import annotations

import os

import pytest

from tests.qt.dpr_probe import probe


@pytest.mark.parametrize("scale", ["1", "1.5"])
def test_the_waveform_is_solid_on_x11(x_display: str, scale: str) -> None:
    env = {**os.environ, "DISPLAY": x_display, "QT_QPA_PLATFORM": "xcb", "QT_SCALE_FACTOR": scale}
    drawn = probe(env)
    assert drawn["dpr"] == float(scale)
    assert drawn["columns"] > 400
    assert drawn["gaps"] == 0, drawn
