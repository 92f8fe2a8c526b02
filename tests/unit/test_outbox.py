"""The encrypted outbox: durable, ordered, unreadable on disk, and honest about damage."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.crypto import outbox_format
from app.services import outbox as outbox_module
from app.services.outbox import Outbox

KEY = bytes(range(32))
MARKER = "MARKER-OUTBOX-PLAIN-7731"


def fill(box: Outbox, n: int, kind: str = "event") -> list[int]:
    tickets = [box.append(kind, {"i": i, "text": f"{MARKER} {i}"}) for i in range(n)]
    for ticket in tickets:
        ticket.wait(10)
    return [t.seq for t in tickets]


def files(directory: Path, suffix: str = ".outbox") -> list[Path]:
    return sorted(directory.glob(f"*{suffix}"))


def test_entries_survive_a_reopen_in_order_and_the_sequence_goes_on(tmp_path: Path) -> None:
    box = Outbox(tmp_path, KEY)
    seqs = fill(box, 5) + fill(box, 1, "label")
    assert seqs == [1, 2, 3, 4, 5, 6]
    box.close()
    again = Outbox(tmp_path, KEY)
    assert [(e.seq, e.kind, e.body["i"]) for e in again.pending()] == [
        (1, "event", 0), (2, "event", 1), (3, "event", 2), (4, "event", 3), (5, "event", 4),
        (6, "label", 0),
    ]  # fmt: skip
    assert again.counts() == (5, 1)
    assert fill(again, 1) == [7]
    again.close()


def test_nothing_readable_reaches_the_disk(tmp_path: Path) -> None:
    box = Outbox(tmp_path, KEY)
    fill(box, 20)
    box.close()
    for path in tmp_path.iterdir():
        data = path.read_bytes()
        assert MARKER.encode() not in data
        assert b'"text"' not in data and b"event" not in data
        assert path.stat().st_mode & 0o777 == 0o600
    assert tmp_path.stat().st_mode & 0o777 == 0o700


def test_acknowledged_entries_are_gone_after_a_restart_and_files_shrink(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox_module, "ROTATE_BYTES", 2048)
    box = Outbox(tmp_path, KEY)
    seqs = fill(box, 60)
    assert len(files(tmp_path)) > 1
    box.acknowledge(seqs[:-1])
    fill(box, 30)  # rotates again; fully acknowledged old files are deleted
    box.acknowledge(range(61, 91))
    box.close()
    again = Outbox(tmp_path, KEY)
    assert [e.seq for e in again.pending()] == [60]
    assert len(files(tmp_path)) <= 3
    assert fill(again, 1) == [91]  # the counter outlives the deleted files
    again.acknowledge([60, 91])
    again.close()
    empty = Outbox(tmp_path, KEY)
    assert empty.pending() == [] and empty.next_seq == 92
    empty.close()


def test_a_torn_last_record_is_cut_off_and_the_rest_kept(tmp_path: Path) -> None:
    box = Outbox(tmp_path, KEY)
    fill(box, 3)
    box.close()
    (path,) = files(tmp_path)
    size = path.stat().st_size
    os.truncate(path, size - 7)  # the crash came mid-write of entry 3
    again = Outbox(tmp_path, KEY)
    assert [e.seq for e in again.pending()] == [1, 2]
    assert again.damaged == []
    assert fill(again, 1) == [3]  # entry 3 was never durable: its number is free
    again.close()
    assert [e.seq for e in Outbox(tmp_path, KEY).pending()] == [1, 2, 3]


@pytest.mark.parametrize("where", ["flip", "swap", "key"])
def test_a_tampered_file_is_set_aside_not_trusted(tmp_path: Path, where: str) -> None:
    box = Outbox(tmp_path, KEY)
    fill(box, 4)
    box.close()
    (path,) = files(tmp_path)
    data = bytearray(path.read_bytes())
    key = KEY
    if where == "flip":
        data[outbox_format.HEADER_SIZE + 40] ^= 1  # inside the first record
    elif where == "swap":
        records = split_records(bytes(data))
        data = bytearray(data[: outbox_format.HEADER_SIZE] + records[1] + records[0]
                         + b"".join(records[2:]))  # fmt: skip
    else:
        key = bytes(32)
    path.write_bytes(bytes(data))
    again = Outbox(tmp_path, key)
    assert again.pending() == []
    assert again.damaged == [path.with_suffix(".damaged").name]
    assert path.with_suffix(".damaged").exists()  # kept (ciphertext) for the security team
    again.close()


def split_records(data: bytes) -> list[bytes]:
    out, offset = [], outbox_format.HEADER_SIZE
    while offset < len(data):
        length = int.from_bytes(data[offset : offset + 4], "big")
        out.append(data[offset : offset + 4 + length])
        offset += 4 + length
    return out


def test_a_write_that_fails_is_reported_not_counted(tmp_path: Path) -> None:
    box = Outbox(tmp_path, KEY)
    fill(box, 1)
    os.close(box._fd)
    box._fd = os.open(os.devnull, os.O_RDONLY)
    ticket = box.append("label", {"text": MARKER})
    with pytest.raises(outbox_module.OutboxWriteError):
        ticket.wait(10)
    assert box.counts() == (1, 0)
    box.close()


def test_a_second_writer_is_refused(tmp_path: Path) -> None:
    box = Outbox(tmp_path, KEY)
    with pytest.raises(outbox_module.OutboxBusyError):
        Outbox(tmp_path, KEY)
    box.close()
    Outbox(tmp_path, KEY).close()  # free again once the first is closed
