"""The real client on a real X server: what a screenshot from another program shows.

An X11 session cannot keep other programs from reading the screen, so Cordon
deters instead: while it is focused the content is visible (with the
watermark over it); once another window takes focus the curtain covers every
sensitive view, and an external ``import -window root`` finds zero sentinel
pixels.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QRect, QSize
from pytestqt.qtbot import QtBot

from app.main import build
from devtools import annotate
from devtools.audio_tap import TappedOutput
from devtools.processes import start, stop
from tests.e2e.client_driver import LONG, open_row, sign_in
from tests.e2e.conftest import LiveServer
from tests.e2e.test_annotate_flow import server_rows
from tests.x11.helpers import Pixels, run_pumping, screenshot, settle, xdotool

pytestmark = pytest.mark.usefixtures("secret_service")

SENTINEL_STYLE = "color: #ff00ff; font-size: 40px;"
SENTINEL_TEXT = "\u2588\u2588\u2588\u2588 4417 \u2588\u2588\u2588\u2588"


def sentinel_pixels(shot: Pixels) -> int:
    r, g, b = (shot[..., i].astype(int) for i in range(3))
    return int(np.count_nonzero((r > 200) & (g < 60) & (b > 200)))


def watermark_pixels(shot: Pixels, rect: QRect) -> int:
    """Light grey pixels (the watermark over a white, empty view) inside ``rect``."""
    area = shot[rect.top() + 6 : rect.bottom() - 6, rect.left() + 6 : rect.right() - 6].astype(int)
    r, g, b = area[..., 0], area[..., 1], area[..., 2]
    grey = (abs(r - g) < 6) & (abs(g - b) < 6) & (r >= 215) & (r <= 249)
    return int(np.count_nonzero(grey))


def test_screenshot_shows_content_only_while_focused(qtbot: QtBot, server: LiveServer) -> None:
    client = build(server.url, server.ca_file, TappedOutput().factory)
    window = client.window
    window.move(0, 0)
    window.resize(1000, 700)
    window.show()
    qtbot.waitExposed(window)
    other = None
    try:
        xdotool("windowfocus", "--sync", str(int(window.winId())))
        sign_in(qtbot, client)
        open_row(qtbot, client, 0)
        annotate.mark_segment(window, client.controller, 0.1, 0.6)  # a segment to type into
        editor = window.editor
        editor.setStyleSheet(SENTINEL_STYLE)
        editor.setPlainText(SENTINEL_TEXT)
        settle(0.5)
        # The watermark is measured over the empty, white part of the segment list.
        rows = window.annotation.table.viewport()
        top_left = rows.mapTo(window, rows.rect().topLeft()) + QPoint(0, 60)
        rect = QRect(top_left, rows.size() - QSize(0, 60))

        focused = screenshot()
        assert sentinel_pixels(focused) > 2000
        with_watermark = watermark_pixels(focused, rect)
        window.watermark.opacity = 0.0
        window.watermark.update()
        settle()
        without_watermark = watermark_pixels(screenshot(), rect)
        window.watermark.opacity = 0.14
        window.watermark.update()
        assert with_watermark > 300, "the watermark is in the pixels"
        assert without_watermark < with_watermark / 10

        other = start(["xmessage", "-geometry", "240x80+1020+700", "another program"])
        wid = run_pumping(["xdotool", "search", "--sync", "--name", "^xmessage$"]).split()[0]
        xdotool("windowfocus", "--sync", wid.decode())
        qtbot.waitUntil(lambda: window.curtain.covering, timeout=LONG)
        settle(0.5)
        assert sentinel_pixels(screenshot()) == 0

        xdotool("windowfocus", "--sync", str(int(window.winId())))
        qtbot.waitUntil(lambda: not window.curtain.covering, timeout=LONG)
        settle(0.5)
        assert sentinel_pixels(screenshot()) > 2000
        qtbot.waitUntil(lambda: client.events.pending == 0, timeout=LONG)
    finally:
        if other is not None:
            stop(other)
        client.shutdown()
    _, events = server_rows(server)
    seen = {(e["action"], e["reason"]) for e in events if e["source"] == "client"}
    assert {("curtain_shown", "focus"), ("curtain_lifted", "focus")} <= seen
    assert ("capture_unprotected", "x11") in seen
