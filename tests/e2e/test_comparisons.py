"""RLHF comparisons end to end: sealed at ingest, granted, decrypted in memory, judged.

A pairwise and a ranking task with the real client against the real TLS server:
the annotator reads the outputs, plays an audio output, judges with the keyboard
and submits; the server holds exactly that judgement, sealed. Afterwards the
prompt's and the outputs' texts, and slices of the audio output, are in no
file under the server's data directory or the run's home.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.domain.label_document import to_wire
from app.player.playback import PlaybackState
from devtools import annotate
from devtools.audio_tap import TappedOutput
from tests.e2e.client_driver import LONG, open_comparison_row, running_client, sign_in
from tests.e2e.conftest import LiveServer, live_server
from tests.e2e.test_annotate_flow import files_containing, server_rows

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("secret_service")]

PROMPT = "PROMPT-MARKER-7713 summarise the call of Maria"
OUT_A = "OUTPUT-A-MARKER-1209 account 4417 blocked"
OUT_B = "OUTPUT-B-MARKER-3381 customer wants a card"
RANKED = ["RANK-ONE-MARKER-5521", "RANK-TWO-MARKER-6632"]


@pytest.fixture
def rlhf(tmp_path: Path) -> Iterator[LiveServer]:
    srv = live_server(
        tmp_path,
        {"spoken-reply.wav": (2.0, 16000, 1)},
        comparisons={
            "a-pairwise.json": {
                "kind": "pairwise", "title": "c1-pairwise", "prompt": {"text": PROMPT},
                "outputs": [{"id": "a", "text": OUT_A}, {"id": "b", "text": OUT_B}],
            },
            "b-ranking.json": {
                "kind": "ranking", "title": "c2-ranking", "prompt": {"text": "Rank the replies"},
                "outputs": [
                    {"id": "first", "text": RANKED[0]},
                    {"id": "second", "text": RANKED[1]},
                    {"id": "spoken", "audio": "../spoken-reply.wav"},
                ],
            },
        },
    )  # fmt: skip
    yield srv
    srv.stop()


def test_pairwise_and_ranking_end_to_end(qtbot: QtBot, rlhf: LiveServer, run_root: Path) -> None:
    with running_client(rlhf, TappedOutput()) as client:
        window, controller = client.window, client.controller
        tasks = sign_in(qtbot, client)
        kinds = {t.title: t.kind.value for t in tasks}
        assert kinds == {"c1-pairwise": "pairwise", "c2-ranking": "ranking",
                         "spoken-reply": "transcription"}  # fmt: skip
        rows = {t.title: i for i, t in enumerate(tasks)}

        # Pairwise: read both, prefer A clearly, say why, submit.
        open_comparison_row(qtbot, client, rows["c1-pairwise"])
        panel = window.comparison
        assert panel.prompt.toPlainText() == PROMPT
        assert (panel.outputs["a"].toPlainText(), panel.outputs["b"].toPlainText()) == (
            OUT_A,
            OUT_B,
        )
        assert panel.outputs["a"].isReadOnly()
        qtbot.keyClick(window.editor, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)  # A better
        qtbot.keyClick(window.editor, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(panel.reason.hasFocus)
        qtbot.keyClicks(panel.reason, "A keeps the facts")
        document = controller.editor
        assert document is not None and document.kind == "pairwise"
        pairwise = document.snapshot()
        assert pairwise.preference is not None
        assert (pairwise.preference.choice, pairwise.preference.strength) == ("a", 2)
        assert pairwise.preference.reason == "A keeps the facts"
        with qtbot.waitSignal(controller.label_submitted, timeout=LONG):
            annotate.submit(window)

        # Ranking: play the spoken output, put the second first, tie the spoken with it.
        open_comparison_row(qtbot, client, rows["c2-ranking"])
        ranking = panel.ranking
        assert ranking.count() == 3
        ranking.setFocus()
        ranking.setCurrentRow(2)  # the spoken one
        qtbot.keyClick(ranking, Qt.Key.Key_O, Qt.KeyboardModifier.AltModifier)
        qtbot.waitUntil(lambda: client.engine.state is PlaybackState.PLAYING, timeout=LONG)
        assert window.waveform.channel_count == 1  # its waveform is shown
        ranking.setCurrentRow(1)  # "second"
        qtbot.keyClick(ranking, Qt.Key.Key_Up, Qt.KeyboardModifier.AltModifier)
        ranking.setCurrentRow(2)  # "spoken"
        qtbot.keyClick(ranking, Qt.Key.Key_T, Qt.KeyboardModifier.AltModifier)
        document = controller.editor
        assert document is not None
        ranked = document.snapshot()
        assert ranked.ranking == (("second",), ("first", "spoken"))
        with qtbot.waitSignal(controller.label_submitted, timeout=LONG):
            annotate.submit(window)
        qtbot.waitUntil(lambda: client.events.pending == 0, timeout=LONG)
        opened = controller.comparison
        assert opened is not None
        clip = opened.audio["spoken"].channels[0]
    assert not clip.any(), "closing the client zeroes the decoded clip"

    labels, events = server_rows(rlhf)
    stored: dict[object, Any] = {lb["task_id"]: lb["document"]["document"] for lb in labels}  # type: ignore[index]
    by_title = {t.title: t.task_id for t in tasks}
    assert stored[by_title["c1-pairwise"]] == to_wire(pairwise).model_dump(mode="json")
    assert stored[by_title["c2-ranking"]] == to_wire(ranked).model_dump(mode="json")
    assert {"key_released", "segment_fetched", "label_stored"} <= {e["action"] for e in events}
    rlhf.stop()
    audio = (rlhf.audio_dir / "spoken-reply.wav").read_bytes()
    needles = [m.encode() for m in (PROMPT, OUT_A, OUT_B, *RANKED)]
    needles += [audio[i : i + 64] for i in (2000, len(audio) // 2)]
    inputs = [d for d in run_root.rglob("source-audio") if d.is_dir()]
    assert files_containing([rlhf.data_dir, run_root], needles, skip=inputs) == []
