"""A whole annotate-and-submit session, scripted, in its own process.

``python -m devtools.scripted_session --server URL --ca CA --marker TEXT``

Signs in, opens the first task, plays a second of it, types ``TEXT`` into the
transcript with key events, submits, waits for the server's revision, and quits
through the normal shutdown. The no-files-written test runs this under
``strace -f`` to see every file the client opens for writing.
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


def run(server: str, ca: Path, marker: str) -> int:
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
    wait_for(client.controller.segment_opened)
    client.controller.toggle_playback()
    QTest.qWait(1000)
    window.editor.setFocus()
    QTest.keyClicks(window.editor, marker)
    QTest.keyClick(window.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    (_task, revision) = wait_for(client.controller.label_submitted)
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
    args = parser.parse_args()
    return run(args.server, args.ca, args.marker)


if __name__ == "__main__":
    sys.exit(main())
