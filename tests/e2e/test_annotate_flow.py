"""The whole secure path once: TLS server, enrolment, fetch, decrypt, play, submit — and no
plaintext on any disk afterwards."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import keyring
import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from app.domain.label_document import to_wire
from app.player.playback import PlaybackState
from devtools import annotate
from devtools.audio_tap import TappedOutput
from server import db
from server.cli import main as server_main
from server.datadir import read_secret
from server.vault import KeyVault
from tests.e2e.client_driver import LONG, open_row, running_client, sign_in
from tests.e2e.conftest import LiveServer
from tests.gestures import drag, point_at

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("secret_service")]


def files_containing(roots: list[Path], needles: list[bytes], skip: list[Path]) -> list[str]:
    """Files under ``roots`` (outside the ``skip`` directories) holding any needle."""
    found = []
    for root in roots:
        for path in root.rglob("*"):
            if any(s in path.parents for s in skip) or not path.is_file() or path.is_symlink():
                continue
            try:
                data = path.read_bytes()
            except OSError:
                continue
            found += [f"{path} holds needle {i}" for i, n in enumerate(needles) if n in data]
    return found


def server_rows(server: LiveServer) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    engine = server.engine()
    with engine.connect() as conn:
        labels = [dict(r._mapping) for r in conn.execute(select(db.labels))]
        events = [dict(r._mapping) for r in conn.execute(select(db.access_events))]
        projects = {r.id: r.wrapped_key for r in conn.execute(select(db.projects))}
        task_keys = {r.id: r.wrapped_key for r in conn.execute(select(db.tasks))}
    engine.dispose()
    for label in labels:
        vault = KeyVault(read_secret(server.data_dir / "keys" / "root.key", 32))
        label["document"] = json.loads(vault.open_label(
            str(label["project_id"]), projects[label["project_id"]],
            str(label["id"]), str(label["task_id"]), bytes(label["sealed_transcript"]),
            task_keys[label["task_id"]],
        ))  # fmt: skip
    return labels, events


def test_annotator_plays_and_submits_and_nothing_plain_is_left_on_disk(
    qtbot: QtBot, server: LiveServer, run_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = f"MARKER-{uuid.uuid4().hex}"
    source = server.audio_dir / "a-call-mono.wav"
    pcm, rate = sf.read(source, dtype="int16")
    tap = TappedOutput()
    with running_client(server, tap) as client:
        tasks = sign_in(qtbot, client)
        assert [t.title for t in tasks] == ["a-call-mono", "b-call-stereo"]
        assert client.window.stack.currentIndex() == 1
        assert keyring.get_keyring().__class__.__module__.endswith("SecretService")

        open_row(qtbot, client, 0)
        opened = client.controller.opened
        assert opened is not None and opened.audio.sample_rate == rate
        np.testing.assert_array_equal(opened.audio.channels[0], pcm)

        qtbot.mouseClick(client.window.player.play_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: client.engine.state is PlaybackState.FINISHED, timeout=LONG)
        # 48 kHz source: the device rate, so every sample reaches the device unchanged.
        # (Silent periods are the unpaced null device outrunning the producer.)
        delivered = tap.delivered()
        np.testing.assert_array_equal(delivered[:, 0], delivered[:, 1])
        heard = delivered[delivered[:, 0] != 0, 0]
        np.testing.assert_array_equal(heard, pcm[pcm != 0].astype(np.float32) / 32768)
        assert client.engine.frames_delivered == len(pcm)

        window, controller = client.window, client.controller
        editor = window.editor
        document = controller.editor
        assert document is not None and not document.read_only
        first = annotate.mark_segment(window, controller, 0.5, 1.5)  # ELAN-style, keyboard
        assert [(s.start, s.end) for s in document.segments] == [(24_000, 72_000)]
        # A second segment drawn with the mouse, overlapping the first (two speakers at
        # once). The drag starts outside the first segment: inside, it would move it.
        view = window.waveform
        view.zoom_fit()
        qtbot.wait(50)  # let the view apply the new range before mapping times to pixels
        drag(qtbot, view.viewport(), point_at(view, 3.0), point_at(view, 1.25))
        drawn = [s for s in document.segments if s.start != 24_000]
        pixel = len(pcm) / view.width()
        assert len(drawn) == 1
        new = drawn[0]
        assert abs(new.start - 60_000) < 2 * pixel and abs(new.end - 144_000) < 2 * pixel
        assert controller.selected_segment == new
        # Its text, speaker and label; the marker tagged as a name (selected with keys).
        annotate.type_text(window, f"Caller confirms date of birth {marker}")
        annotate.press(window, Qt.Key.Key_2)  # Alt+2: customer
        annotate.press(window, Qt.Key.Key_Q)  # Alt+Q: intent = request
        for _ in marker:
            qtbot.keyClick(editor, Qt.Key.Key_Left, Qt.KeyboardModifier.ShiftModifier)
        annotate.press(window, Qt.Key.Key_N, annotate.CTRL | annotate.ALT)  # PII: person name
        # Back to the first segment (Shift+Tab plays it): text, speaker, and an audio-only tag.
        qtbot.keyClick(editor, Qt.Key.Key_Tab, Qt.KeyboardModifier.ShiftModifier)
        assert controller.selected_segment is not None
        assert controller.selected_segment.id == first
        annotate.type_text(window, "Good morning")
        annotate.press(window, Qt.Key.Key_1)  # agent
        annotate.press(window, Qt.Key.Key_G)  # greeting
        annotate.press(window, Qt.Key.Key_A, annotate.CTRL | annotate.ALT)  # account number
        annotate.choose_first(window, "outcome")
        snapshot = document.snapshot()
        by_id = {s.id: s for s in snapshot.segments}
        assert (by_id[first].speaker, by_id[first].label("intent")) == ("agent", ("greeting",))
        assert (by_id[new.id].speaker, by_id[new.id].label("intent")) == ("customer", ("request",))
        tagged = {p.category: p for p in snapshot.pii}
        name = tagged["person_name"]
        assert by_id[new.id].text[name.char_start : name.char_end] == marker
        assert (tagged["account_number"].segment, tagged["account_number"].start) == (None, 24_000)
        assert snapshot.field_value("outcome") == "resolved"
        with qtbot.waitSignal(controller.label_submitted, timeout=LONG) as stored:
            annotate.submit(window)
        assert stored.args[1] == 1
        qtbot.waitUntil(lambda: client.events.pending == 0, timeout=LONG)
        decoded_view = opened.audio.channels[0]
    assert not decoded_view.any(), "closing the client zeroes the decoded audio"

    labels, events = server_rows(server)
    assert [lb["document"] for lb in labels] == [
        {"document": to_wire(snapshot).model_dump(mode="json"), "base_revision": None,
         "draft": False}
    ]  # fmt: skip
    client_actions = {e["action"] for e in events if e["source"] == "client"}
    server_actions = {e["action"] for e in events if e["source"] == "server"}
    assert {"segment_opened", "playback_started", "label_submitted", "segment_closed"} <= (
        client_actions
    )
    assert {"login", "device_enrolled", "key_released", "segment_fetched", "label_stored"} <= (
        server_actions
    )
    assert all(e["verified"] for e in events)
    # Offscreen capture cannot be blocked: said once per session, about no task.
    assert [e["reason"] for e in events if e["action"] == "capture_unprotected"] == ["offscreen"]
    about_task = [
        e for e in events if e["source"] == "client" and e["action"] != "capture_unprotected"
    ]
    assert about_task and all(e["task_id"] == tasks[0].task_id for e in about_task)
    assert all(e["project_id"] == tasks[0].project_id for e in about_task)
    # The reviewer's client reads exactly that document back, and cannot change it.
    with running_client(server, TappedOutput()) as reviewer:
        assert [t.title for t in sign_in(qtbot, reviewer, "reviewer")] == ["a-call-mono"]
        open_row(qtbot, reviewer, 0)
        read = reviewer.controller.editor
        assert read is not None and read.read_only
        assert read.snapshot() == snapshot
        assert not reviewer.window.submit_button.isEnabled()
        reviewer.controller.select_segment(first)
        annotate.press(reviewer.window, Qt.Key.Key_2)  # a speaker key changes nothing
        annotate.mark_segment_keys(reviewer.window, reviewer.controller, 2.0, 3.0)
        assert read.snapshot() == snapshot
    server.stop()
    # The real server made and exported its checkpoints (the last one on shutdown),
    # and the log it wrote verifies; the marker is in no leaf.
    exported = list((server.data_dir / "audit-checkpoints" / tasks[0].project_id).iterdir())
    assert exported, "no checkpoint exported for the project"
    assert server_main(["audit", "verify", "--data-dir", str(server.data_dir)]) == 0
    assert server_main(["audit", "export", "--data-dir", str(server.data_dir)]) == 0
    assert marker not in capsys.readouterr().out

    raw = source.read_bytes()
    needles = [
        marker.encode("utf-8"),
        marker.encode("utf-16-le"),
        *(raw[i : i + 64] for i in (1000, len(raw) // 2, len(raw) - 200)),
    ]
    # Every test's plaintext ingest input is skipped: other tests write the same
    # synthetic audio (same seeds) under this run's root.
    inputs = [d for d in run_root.rglob("source-audio") if d.is_dir()]
    assert server.audio_dir in inputs
    leaks = files_containing([server.data_dir, run_root], needles, skip=inputs)
    assert leaks == []
    # The scan can see a leak: the plaintext input itself holds every audio needle.
    assert len(files_containing([server.audio_dir], needles[2:], skip=[])) == 3
