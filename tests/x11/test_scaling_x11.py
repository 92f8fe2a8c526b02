"""The waveform on a real X server at scale factors 1 and 1.5: solid, no comb of 1-px bars."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize("scale", ["1", "1.5"])
def test_the_waveform_is_solid_on_x11(x_display: str, scale: str) -> None:
    env = {**os.environ, "DISPLAY": x_display, "QT_QPA_PLATFORM": "xcb", "QT_SCALE_FACTOR": scale}
    result = subprocess.run(
        [sys.executable, "-m", "tests.qt.dpr_probe"],
        env=env, capture_output=True, timeout=60, check=True,
    )  # fmt: skip
    drawn = json.loads(result.stdout.decode().strip().splitlines()[-1])
    assert drawn["dpr"] == float(scale)
    assert drawn["columns"] > 400
    assert drawn["gaps"] == 0, drawn
