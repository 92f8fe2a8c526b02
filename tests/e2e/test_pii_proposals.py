"""PII proposals in the workspace: typed words with a checksum-valid number are proposed by the
real server's recognizers, confirmed or dismissed with the keyboard."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from devtools import annotate
from devtools.audio_tap import TappedOutput
from tests.e2e.client_driver import LONG, open_row, running_client, sign_in
from tests.e2e.conftest import LiveServer

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("secret_service")]

CARD = "4111 1111 1111 1111"
SAID = f"my card is {CARD} thanks"


def test_a_typed_card_number_is_proposed_then_tagged_or_dismissed(
    qtbot: QtBot, server: LiveServer
) -> None:
    with running_client(server, TappedOutput()) as client:
        window, controller = client.window, client.controller
        strip = window.annotation.suggestions
        sign_in(qtbot, client)
        open_row(qtbot, client, 0)
        annotate.mark_segment(window, controller, 0.2, 1.0)
        annotate.type_text(window, SAID)
        qtbot.waitUntil(lambda: strip.isVisible() and strip.list.count() == 1, timeout=LONG)
        (proposal,) = controller.pii.book.all()
        assert (proposal.category, proposal.kind, proposal.words) == (
            "account_number", "card_number", CARD,
        )  # fmt: skip
        assert CARD in strip.list.item(0).text()
        annotate.press(window, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier
                       | Qt.KeyboardModifier.AltModifier)  # fmt: skip
        editor = controller.editor
        assert editor is not None
        (segment,) = editor.segments
        (span,) = editor.pii_in(segment.id)
        assert (span.category, span.char_start, span.char_end) == (
            "account_number", SAID.index(CARD), SAID.index(CARD) + len(CARD),
        )  # fmt: skip
        assert (span.start, span.end) == (segment.start, segment.end)
        assert not strip.isVisible()
        # A second number, dismissed: not proposed again for the same words.
        annotate.type_text(window, " or 5500 0000 0000 0004")
        qtbot.waitUntil(lambda: strip.list.count() == 1, timeout=LONG)
        assert "5500 0000 0000 0004" in strip.list.item(0).text()  # the tagged one is not
        annotate.press(window, Qt.Key.Key_X, Qt.KeyboardModifier.ControlModifier
                       | Qt.KeyboardModifier.AltModifier)  # fmt: skip
        assert strip.list.count() == 0 and len(editor.pii_in(segment.id)) == 1
        annotate.type_text(window, ".")
        qtbot.wait(2_500)  # the pause and the server's answer
        assert strip.list.count() == 0
