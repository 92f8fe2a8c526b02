"""A two-hour stereo call opens and plays at once, in the real client against the real server.

Time to first audio must not grow with the call's length: playback has to start
while most of the call is still arriving and decoding. The test checks that
order of events (audio delivered while ``frames_ready`` is a fraction of the
call), not a duration, so a loaded machine cannot make it flaky; the figures
live in ``cordon-bench`` (B3, B4).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.player.playback import PlaybackState
from devtools.audio_tap import TappedOutput
from tests.e2e.client_driver import LONG, open_row, running_client, sign_in
from tests.e2e.conftest import LiveServer, live_server

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("secret_service")]

TWO_HOURS = 7200.0
RATE = 8000  # telephony, as call-centre stereo recordings are


@pytest.fixture
def long_call_server(tmp_path: Path) -> Iterator[LiveServer]:
    srv = live_server(tmp_path, {"long-call-2h-stereo.flac": (TWO_HOURS, RATE, 2)})
    yield srv
    srv.stop()


def test_two_hour_stereo_call_plays_while_it_is_still_decoding(
    qtbot: QtBot, long_call_server: LiveServer
) -> None:
    tap = TappedOutput()
    with running_client(long_call_server, tap) as client:
        sign_in(qtbot, client)
        open_row(qtbot, client, 0)
        opened = client.controller.opened
        assert opened is not None
        audio = opened.audio
        assert audio.channel_count == 2 and audio.frames == TWO_HOURS * RATE
        qtbot.mouseClick(client.window.player.play_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: client.engine.frames_delivered > 0, timeout=LONG)
        ready_at_first_audio = audio.frames_ready
        assert ready_at_first_audio < audio.frames // 4, (
            f"first audio only after {ready_at_first_audio / RATE:.0f} s of the call had decoded"
        )
        # Both lanes draw from the start, in the view and in the overview.
        window = client.window
        assert window.waveform.channel_count == 2 and len(window.overview._curves) == 2
        qtbot.waitUntil(lambda: opened.complete, timeout=LONG)
        assert audio.frames_ready == audio.frames
        qtbot.waitUntil(lambda: window.progress_label.text() == "", timeout=LONG)
        assert window.task_title.text().startswith("long-call-2h-stereo")
        assert window.player.time_label.text().endswith("/ 2:00:00.00")
        # A seek near the end plays from there: the whole call is in memory.
        tapped_before = len(tap.delivered())
        client.controller.seek_seconds(TWO_HOURS - 60)
        heard_before = client.engine.frames_delivered
        qtbot.waitUntil(lambda: client.engine.frames_delivered > heard_before + 4800, timeout=LONG)
        assert client.engine.position_frames >= (TWO_HOURS - 60) * RATE
        assert client.engine.state is PlaybackState.PLAYING
        after_seek = tap.delivered()[tapped_before:]
        assert np.abs(after_seek).max() > 0.05  # sound, not silence, from 1:59:00
