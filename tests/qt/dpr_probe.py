"""Draw a waveform at the scale factor in ``QT_SCALE_FACTOR`` and count gaps in it.

Run as a separate process (a QApplication's scale factor is fixed at start) by
``test_waveform_view.py``. Prints JSON: the device pixel ratio, and how many
device-pixel columns across the middle of a dense waveform have no trace.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from PySide6.QtWidgets import QApplication

from app.player.waveform_summary import WaveformSummary
from app.ui.waveform_view import WaveformView


def probe(env: dict[str, str]) -> dict[str, float]:
    """Run this probe in a process of its own with ``env``; its measurements."""
    result = subprocess.run(
        [sys.executable, "-m", "tests.qt.dpr_probe"],
        env=env, capture_output=True, timeout=60, check=True,
    )  # fmt: skip
    drawn: dict[str, float] = json.loads(result.stdout.decode().strip().splitlines()[-1])
    return drawn


def main() -> int:
    app = QApplication(sys.argv)
    view = WaveformView()
    view.resize(600, 200)
    view.show()
    rate = 8000
    noise = np.random.default_rng(1).standard_normal(rate * 60) * 8000
    view.set_audio([WaveformSummary(noise.clip(-32000, 32000).astype(np.int16))], rate)
    for _ in range(5):
        app.processEvents()
    image = view.grab().toImage()
    row = image.height() // 2 - image.height() // 20  # inside the envelope, off the centre line
    columns = range(int(image.width() * 0.1), int(image.width() * 0.9))
    gaps = sum(1 for x in columns if image.pixelColor(x, row).blue() < 150)
    print(json.dumps({"dpr": view.devicePixelRatioF(), "columns": len(columns), "gaps": gaps}))  # noqa: T201
    view.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
