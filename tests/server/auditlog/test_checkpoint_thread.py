"""When the checkpoint thread looks at the logs: nudges after commits are gathered, not
one look per commit (:class:`server.auditlog.checkpoints.CheckpointThread`).

The checkpointer is a recording stand-in here (its signing and export are tested with a
real database in ``test_audit_log.py``); what is tested is the thread's own schedule.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from server.auditlog.checkpoints import EVERY_ENTRIES, Checkpointer, CheckpointThread
from server.datadir import DataDir


@dataclass
class _Recording:
    """Records each look (when, and the growth it asks for)."""

    data: DataDir
    looks: list[tuple[float, int]] = field(default_factory=list)

    def run_once(self, min_growth: int = 1) -> list[tuple[str, int]]:
        self.looks.append((time.monotonic(), min_growth))
        return []


def _thread(tmp_path: Path, gap: float, every: float = 60.0) -> tuple[_Recording, CheckpointThread]:
    tmp_path.mkdir(exist_ok=True)
    recording = _Recording(DataDir(tmp_path))
    thread = CheckpointThread(cast(Checkpointer, recording), every_s=every, nudge_gap_s=gap)
    thread.start()
    return recording, thread


def test_nudges_from_many_commits_are_gathered_into_a_few_looks(tmp_path: Path) -> None:
    recording, thread = _thread(tmp_path, gap=0.2)
    try:
        began = time.monotonic()
        for _ in range(200):  # a commit every 5 ms for a second
            thread.nudge()
            time.sleep(0.005)
        elapsed = time.monotonic() - began
        time.sleep(0.3)  # the last gathered nudge gets its look
    finally:
        thread.stop()
    nudged = [at for at, growth in recording.looks if growth == EVERY_ENTRIES]
    assert 2 <= len(nudged) <= elapsed / 0.2 + 2, nudged
    gaps = [later - earlier for earlier, later in itertools.pairwise(nudged)]
    assert all(gap >= 0.19 for gap in gaps), gaps
    assert recording.looks[-1][1] == 1  # stop() makes a last checkpoint of any growth


def test_a_nudge_after_a_quiet_spell_is_looked_at_at_once(tmp_path: Path) -> None:
    recording, thread = _thread(tmp_path, gap=5.0)
    try:
        time.sleep(0.1)
        nudged_at = time.monotonic()
        thread.nudge()
        deadline = nudged_at + 4.0
        while not recording.looks and time.monotonic() < deadline:
            time.sleep(0.005)
    finally:
        thread.stop()
    first_at, growth = recording.looks[0]
    assert growth == EVERY_ENTRIES and first_at - nudged_at < 2.0  # not the 5 s gap


def test_stop_during_a_gathering_wait_returns_promptly(tmp_path: Path) -> None:
    recording, thread = _thread(tmp_path, gap=30.0)
    thread.nudge()
    deadline = time.monotonic() + 10
    while not recording.looks:
        assert time.monotonic() < deadline, "the nudge was never looked at"
        time.sleep(0.005)
    thread.nudge()  # now waits out the 30 s gap
    time.sleep(0.05)
    began = time.monotonic()
    thread.stop()
    assert time.monotonic() - began < 2.0
    assert [growth for _at, growth in recording.looks] == [EVERY_ENTRIES, 1]
    assert not any(t.name == "cordon-checkpoints" and t.is_alive() for t in threading.enumerate())
