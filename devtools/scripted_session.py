"""A whole annotate-and-submit session, scripted, in its own process.

``python -m devtools.scripted_session --server URL --ca CA --marker TEXT``

Signs in, opens the first task, plays a second of it, marks a segment, types
``TEXT`` into it, gives it a speaker and the task an outcome with key events,
submits, waits for the server's revision, then types ``TEXT`` into the task
comment and waits for the autosaved draft (so a sealed draft holding the
marker is on disk), and quits through the normal shutdown. The
no-files-written test runs this under ``strace -f`` to see every file the
client opens for writing. With ``--edit-only`` it stops once the typed text is
in the autosaved draft and runs until killed (the ``kill -9`` test).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEventLoop, Qt, QTimer, SignalInstance
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.main import build
from app.services.device_store import use_os_keyring
from app.ui.transcript_editor import release_clipboard
from devtools import annotate

TIMEOUT_MS = 60_000


def wait_for(signal: SignalInstance, timeout_ms: int = TIMEOUT_MS) -> tuple[Any, ...]:
    """Run the event loop until ``signal`` fires; return its arguments."""
    loop = QEventLoop()
    received: list[tuple[Any, ...]] = []

    def got(*args: Any) -> None:
        received.append(args)
        loop.quit()

    signal.connect(got)
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()
    signal.disconnect(got)
    if not received:
        raise TimeoutError(f"no {signal} within {timeout_ms} ms")
    return received[0]


def run(server: str, ca: Path, marker: str, *, edit_only: bool = False) -> int:
    app = QApplication.instance() or QApplication(["cordon-session"])
    use_os_keyring()  # as app.main does
    client = build(server, ca)
    window = client.window
    window.show()
    window.login.account.setCurrentText("annotator")
    QTest.mouseClick(window.login.sign_in_button, Qt.MouseButton.LeftButton)
    wait_for(client.controller.tasks_loaded)
    window.tasks.setCurrentRow(0)
    window.tasks.setFocus()
    QTest.keyClick(window.tasks, Qt.Key.Key_Return)
    failures: list[str] = []
    client.controller.segment_failed.connect(failures.append)
    wait_for(client.controller.segment_opened)
    if client.controller.editor is None:
        wait_for(client.controller.document_loaded)
    if client.controller.audio_loaded:
        client.controller.toggle_playback()
        QTest.qWait(1000)
        # Paused before marking: while playing, a loaded machine can stall the GUI thread
        # long enough after a seek for the heard position to run past the second boundary.
        # Not a second toggle: the short recording may have played to its end in that
        # second, and a toggle then starts it again from the beginning.
        client.controller.pause()
        annotate.mark_segment(window, client.controller, 0.2, 1.0)
    else:
        # The sound output failed to start (strace slows the audio thread's syscalls enough
        # for that under load): the annotator still draws the segment with the mouse.
        print(f"no audio output: {failures}", file=sys.stderr)  # noqa: T201 - for the test log
        client.controller.create_region(0.2, 1.0)
    annotate.type_text(window, marker)
    if edit_only:  # the draft is sealed on disk; now wait to be killed mid-edit
        wait_for(client.controller.draft_saved)
        print("draft saved", flush=True)  # noqa: T201 - the test reads this
        return app.exec()
    annotate.press(window, Qt.Key.Key_1)  # the first speaker
    annotate.choose_first(window, "outcome")
    annotate.submit(window)
    (_task, revision) = wait_for(client.controller.label_submitted)
    window.annotation.fields.comment.setFocus()
    QTest.keyClicks(window.annotation.fields.comment, marker)
    wait_for(client.controller.draft_saved)
    client.shutdown()
    release_clipboard()
    app.processEvents()
    print(f"submitted revision {revision}")  # noqa: T201 - the test reads this
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--ca", required=True, type=Path)
    parser.add_argument("--marker", required=True)
    parser.add_argument(
        "--edit-only", action="store_true", help="stop after the draft is saved; run until killed"
    )
    args = parser.parse_args()
    return run(args.server, args.ca, args.marker, edit_only=args.edit_only)


if __name__ == "__main__":
    sys.exit(main())
