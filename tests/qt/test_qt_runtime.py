"""Guards against Qt binding regressions that would crash a long annotation session."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    flag = Signal(bool)
    pair = Signal(int, bool)


def test_emitting_booleans_keeps_their_reference_counts() -> None:
    """PySide6 6.12.0 dropped a reference to True per emit; ~2k emits aborted the process.

    The client emits booleans several times a second (sync state, pyqtgraph
    range changes), so this would end every session within minutes.
    """
    emitter = _Emitter()
    emitter.flag.connect(lambda _value: None)
    emitter.pair.connect(lambda _n, _value: None)
    before = sys.getrefcount(True), sys.getrefcount(False)
    for _ in range(200):
        emitter.flag.emit(True)
        emitter.pair.emit(1, True)
        emitter.flag.emit(False)
    assert (sys.getrefcount(True), sys.getrefcount(False)) == before
