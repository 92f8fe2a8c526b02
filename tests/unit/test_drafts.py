"""Local drafts: sealed, atomic, newest wins, bound to user and task, damage set aside."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.domain.label_document import LabelDocument, Segment
from app.services.drafts import DraftDamagedError, DraftStore

KEY = os.urandom(32)
MARKER = "Zebrafinch-7731"


def doc(text: str) -> LabelDocument:
    return LabelDocument(schema_version=1, segments=(Segment("s1", 0, 100, text=text),))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DraftStore]:
    s = DraftStore(tmp_path / "drafts", KEY)
    yield s
    s.close()


def test_a_draft_round_trips_sealed_and_the_newest_wins(store: DraftStore, tmp_path: Path) -> None:
    saved = threading.Event()
    for i in range(20):
        store.save("usr_a", "tsk_1", doc(f"{MARKER} {i}"), 3, on_saved=lambda _t: saved.set())
    assert store.flush()
    assert saved.is_set()
    draft = store.load("usr_a", "tsk_1")
    assert draft is not None and draft.base_revision == 3
    assert draft.document.segments[0].text == f"{MARKER} 19"
    for path in (tmp_path / "drafts").iterdir():
        assert MARKER.encode() not in path.read_bytes()
        assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert store.load("usr_a", "tsk_2") is None


def test_a_draft_copied_over_another_task_is_set_aside_unread(store: DraftStore) -> None:
    store.save("usr_a", "tsk_1", doc("one"), None)
    store.flush()
    files = store.files()
    os.replace(files[0], files[0].with_name("usr_a.tsk_2.draft"))
    with pytest.raises(DraftDamagedError):
        store.load("usr_a", "tsk_2")
    assert store.files() == [] and len(store.damaged) == 1
    store.save("usr_b", "tsk_1", doc("two"), None)
    store.flush()
    os.replace(store.files()[0], store.files()[0].with_name("usr_a.tsk_1.draft"))
    with pytest.raises(DraftDamagedError):
        store.load("usr_a", "tsk_1")  # another user's draft is not this user's


def test_a_flipped_byte_is_damage(store: DraftStore) -> None:
    store.save("usr_a", "tsk_1", doc("text"), None)
    store.flush()
    (path,) = store.files()
    data = bytearray(path.read_bytes())
    data[-5] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(DraftDamagedError):
        store.load("usr_a", "tsk_1")


def test_discard_removes_it(store: DraftStore) -> None:
    store.save("usr_a", "tsk_1", doc("text"), None)
    store.discard("usr_a", "tsk_1")
    store.flush()  # done on the drafts thread
    assert store.files() == [] and store.load("usr_a", "tsk_1") is None
