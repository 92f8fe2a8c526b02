"""Exports: each format read back by an independent reader, masking, sealing, refusals."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from praatio import textgrid
from pympi import Elan
from sqlalchemy import select

from server import db
from tests.fixtures import blob_bytes, demo_server
from tests.server.governance_people import MARKER_HZ, RATE, Governed, band_energy

NAMES = ("Jane Roe", "John Doe")
ACCOUNTS = ("4111 1111 1111 1111", "5500 0000 0000 0004")
PII_SPANS_S = ((1.5, 2.0), (2.0, 2.5))  # where pii_document marks the name and the account


@pytest.fixture
def gov(tmp_path: Path) -> Governed:
    gov = Governed(demo_server(tmp_path, {"unrelated.wav": (1.0, 8000, 1)}), tmp_path)
    first = gov.ingest("jane-call", (1.5, 2.5), "--subject", "C-1", seed=1)
    second = gov.ingest("john-call", (1.5, 2.5), "--subject", "C-2", seed=2)
    gov.accept(first, NAMES[0], ACCOUNTS[0], "lbl_j1")
    gov.accept(second, NAMES[1], ACCOUNTS[0], "lbl_j2")  # the same account: one token
    gov.tasks = {"jane-call": first, "john-call": second}  # type: ignore[attr-defined]
    assert gov.cli("recipient", "keygen", "--out", str(tmp_path / "ml-team")) == 0
    return gov


def _export(gov: Governed, out: str, *extra: str, fmt: str = "eaf") -> int:
    return gov.cli("export", "--project", gov.project, "--format", fmt, "--purpose", "training",
                   "--by", "manager", "--to", str(gov.tmp / "ml-team.pub"),
                   "--out", str(gov.tmp / out), *extra)  # fmt: skip


def _open(gov: Governed, name: str) -> Path:
    target = gov.tmp / f"{name}-opened"
    assert gov.cli("recipient", "open", "--key", str(gov.tmp / "ml-team.key"), "--out",
                   str(target), str(gov.tmp / name)) == 0  # fmt: skip
    return target


def _manifest(root: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (root / "manifest.jsonl").read_text().splitlines()]


def _expected(line: dict[str, Any]) -> dict[str, set[tuple[int, int, str]]]:
    """Per speaker, (start ms, end ms, text) of the document the manifest carries."""
    out: dict[str, set[tuple[int, int, str]]] = {}
    rate = line["sample_rate"]
    for seg in line["document"]["segments"]:
        ms = (round(seg["start"] * 1000 / rate), round(seg["end"] * 1000 / rate), seg["text"])
        out.setdefault(seg["speaker"], set()).add(ms)
    return out


def test_elan_praat_label_studio_and_jsonl_read_back_the_same_work(
    gov: Governed, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _export(gov, "eaf.cordon") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["tasks"] == 2 and summary["masked"] is False
    assert b"Jane Roe" not in (gov.tmp / "eaf.cordon").read_bytes()  # sealed
    root = _open(gov, "eaf.cordon")
    lines = _manifest(root)
    assert sorted(line["title"] for line in lines) == ["jane-call", "john-call"]
    for line in lines:
        eaf = Elan.Eaf(str(root / "eaf" / f"{line['task_id']}.eaf"))
        got = {
            tier: {(a[0], a[1], a[2]) for a in eaf.get_annotation_data_for_tier(tier)}
            for tier in ("agent", "customer")
        }
        assert got == _expected(line)
        pii = eaf.get_annotation_data_for_tier("pii")
        assert sorted(a[2] for a in pii) == ["account_number", "person_name"]
        assert "person_name" in eaf.get_cv_entries("pii") or any(
            "person_name" in str(v) for v in eaf.get_cv_entries("pii").values()
        )
        # Provenance: the revision chain, with the recording's hashes from ingest.
        (revision,) = line["provenance"]["revisions"]
        assert revision["author"] == "annotator" and revision["schema_version"] == 2
        assert revision["client_version"] == "9.9.9-test" and revision["device_id"]
        source = gov.tmp / f"{line['title']}.wav"
        assert revision["plaintext_sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert _export(gov, "tg.cordon", fmt="textgrid") == 0
    root = _open(gov, "tg.cordon")
    for line in _manifest(root):
        grid = textgrid.openTextgrid(
            str(root / "textgrid" / f"{line['task_id']}.TextGrid"), includeEmptyIntervals=False
        )
        rate = line["sample_rate"]
        for speaker in ("agent", "customer"):
            read = {(round(e.start * 1000), round(e.end * 1000), e.label)
                    for e in grid.getTier(speaker).entries}  # fmt: skip
            assert read == _expected(line)[speaker], (speaker, rate)
    assert _export(gov, "ls.cordon", fmt="label-studio") == 0
    root = _open(gov, "ls.cordon")
    tasks = json.loads((root / "label-studio" / "tasks.json").read_text())
    config = (root / "label-studio" / "config.xml").read_text()
    assert '<TextArea name="transcription"' in config and 'perRegion="true"' in config
    texts = {r["value"]["text"][0] for t in tasks for r in t["annotations"][0]["result"]
             if r["type"] == "textarea"}  # fmt: skip
    assert texts == {s["text"] for line in _manifest(root) for s in line["document"]["segments"]}


def _all_bytes(root: Path) -> bytes:
    return b"\n".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def test_a_masked_export_holds_no_planted_pii_in_text_or_audio(
    gov: Governed, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _export(gov, "masked.cordon", "--masked", "--audio", fmt="jsonl") == 0
    assert _export(gov, "masked2.cordon", "--masked", fmt="jsonl") == 0
    assert _export(gov, "plain.cordon", "--audio", fmt="jsonl") == 0
    capsys.readouterr()
    masked, again, plain = (_open(gov, n) for n in ("masked.cordon", "masked2.cordon",
                                                      "plain.cordon"))  # fmt: skip
    blob = _all_bytes(masked)
    for value in (*NAMES, *ACCOUNTS, "CUST", "jane-call", "john-call"):
        assert value.encode() not in blob, value
        assert value.replace(" ", "").encode() not in blob, value
    assert NAMES[0].encode() in _all_bytes(plain)  # the check can fail
    # One token per subject and type within an export; unlinkable across exports.
    tokens = [line["document"]["segments"][1]["text"].split()[-1] for line in _manifest(masked)]
    assert tokens[0] == tokens[1] and tokens[0].startswith("[ACCOUNT_NUMBER-")
    other = [line["document"]["segments"][1]["text"].split()[-1] for line in _manifest(again)]
    assert other[0] != tokens[0]
    # Audio: the marker tone inside the PII spans is gone from the masked recording.
    for name in ("jane-call", "john-call"):
        task = gov.tasks[name]  # type: ignore[attr-defined]
        bleeped, rate = sf.read(masked / "audio" / f"{task}.flac", always_2d=True)
        heard, _ = sf.read(plain / "audio" / f"{task}.flac", always_2d=True)
        for start_s, end_s in PII_SPANS_S:
            span = slice(int(start_s * rate), int(end_s * rate))
            assert band_energy(heard[span], MARKER_HZ) > 0.5  # planted, and found unmasked
            assert band_energy(bleeped[span], MARKER_HZ) < 0.01
        outside = slice(0, int(1.0 * RATE))
        assert np.allclose(bleeped[outside], heard[outside])


def test_refused_exports_write_nothing_and_record_nothing(
    gov: Governed, capsys: pytest.CaptureFixture[str]
) -> None:
    (gov.tmp / "not-a-key.pem").write_text(
        "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n"
    )
    cases: list[tuple[list[str], str]] = [
        (["--to", str(gov.tmp / "not-a-key.pem"), "--out", "x"], "(recipient_key_invalid)"),
        (["--to", str(gov.tmp / "ml-team.key"), "--out", "x"], "is a private key"),
        (["--out", "x"], "usage"),
        (["--to", str(gov.tmp / "ml-team.pub")], "usage"),
        (["--plaintext-dir", str(gov.tmp / "plain")], "class_refused"),  # internal: sealed only
    ]
    base = ["export", "--project", gov.project, "--format", "eaf", "--purpose", "training"]
    for extra, words in cases:
        assert gov.cli(*base, "--by", "manager", *extra) == 2
        assert words in capsys.readouterr().err
    assert gov.cli(*base, "--by", "annotator", "--to", str(gov.tmp / "ml-team.pub"),
                   "--out", str(gov.tmp / "x")) == 2  # fmt: skip
    assert "not a manager" in capsys.readouterr().err
    # A confidential project exports masked only.
    assert (
        gov.cli(
            "project",
            "class",
            "--project",
            gov.project,
            "--by",
            "manager",
            "--class",
            "confidential",
        )
        == 0
    )
    capsys.readouterr()
    assert _export(gov, "y.cordon") == 2
    assert "(class_refused)" in capsys.readouterr().err
    assert not (gov.tmp / "x").exists() and not (gov.tmp / "y.cordon").exists()
    assert not (gov.tmp / "plain").exists()
    with gov.srv.ctx.engine.connect() as conn:
        exported = conn.execute(
            select(db.access_events).where(db.access_events.c.action == "exported")
        ).all()
    assert exported == []
    # Loosening the class is an administrator's decision, not a manager's.
    loosen = ("project", "class", "--project", gov.project, "--class", "public")
    assert gov.cli(*loosen, "--by", "manager") == 2
    assert "not an administrator" in capsys.readouterr().err
    # A public project may export unsealed; the leaf names purpose and format.
    assert gov.cli(*loosen, "--by", "owner") == 0
    assert gov.cli(*base, "--by", "manager", "--plaintext-dir", str(gov.tmp / "plain")) == 0
    assert (gov.tmp / "plain" / "manifest.jsonl").exists()
    with gov.srv.ctx.engine.connect() as conn:
        (leaf,) = conn.execute(
            select(db.access_events).where(db.access_events.c.action == "exported")
        ).all()
    assert leaf.reason == "training_eaf" and leaf.user_id is not None


def test_a_schema_change_between_tasks_is_a_clear_refusal_for_tiered_formats(
    gov: Governed, capsys: pytest.CaptureFixture[str]
) -> None:
    schema = json.loads((gov.tmp / "schema.json").read_text())
    schema["pii"].append({"name": "date_of_birth", "title": "Date of birth"})
    (gov.tmp / "schema.json").write_text(json.dumps(schema))
    assert gov.cli("project", "schema", "--project", gov.project, str(gov.tmp / "schema.json")) == 0
    gov.schema_version += 1
    third = gov.ingest("later-call", (1.5, 2.5), seed=3)
    gov.accept(third, "Ann Lee", ACCOUNTS[1], "lbl_l1")
    capsys.readouterr()
    assert _export(gov, "mixed.cordon") == 2
    assert "(schema_mixed)" in capsys.readouterr().err
    assert _export(gov, "v3.cordon", "--schema-version", str(gov.schema_version)) == 0
    assert json.loads(capsys.readouterr().out)["tasks"] == 1
    assert _export(gov, "all.cordon", fmt="jsonl") == 0  # JSON lines carry each version
    assert json.loads(capsys.readouterr().out)["tasks"] == 3


def test_lineage_prints_the_chain_with_hashes(
    gov: Governed, capsys: pytest.CaptureFixture[str]
) -> None:
    task = gov.tasks["jane-call"]  # type: ignore[attr-defined]
    capsys.readouterr()
    assert gov.cli("lineage", "--task", task) == 0
    record = json.loads(capsys.readouterr().out)
    with gov.srv.ctx.engine.connect() as conn:
        blob = conn.execute(
            select(db.segments.c.blob_name).where(db.segments.c.id == record["segment_id"])
        ).scalar_one()
    data = blob_bytes(gov.srv.ctx, blob)
    assert record["segment_ciphertext_sha256"] == hashlib.sha256(data).hexdigest()
    assert [r["revision"] for r in record["revisions"]] == [1]
    assert record["revisions"][0]["ciphertext_sha256"] == record["segment_ciphertext_sha256"]
    assert gov.cli("lineage", "--task", "tsk_nothere") == 2
    assert "(unknown_task)" in capsys.readouterr().err


def test_a_recording_stricter_than_its_project_makes_the_export_follow_it(
    gov: Governed, capsys: pytest.CaptureFixture[str]
) -> None:
    assert gov.cli("project", "class", "--project", gov.project, "--by", "owner", "--class",
                   "public") == 0  # fmt: skip
    strict = gov.ingest("restricted-call", (1.5, 2.5), seed=7)
    gov.accept(strict, "Ann Lee", ACCOUNTS[1], "lbl_s1")
    # Restricted work needs full listening to be accepted; the test marks the recording
    # restricted after acceptance (as `ingest --class restricted` stores it).
    with gov.srv.ctx.engine.begin() as conn:
        segment = conn.execute(select(db.tasks.c.segment_id).where(db.tasks.c.id == strict))
        conn.execute(
            db.segments.update()
            .where(db.segments.c.id == segment.scalar_one())
            .values(data_class="restricted")
        )
    capsys.readouterr()
    plain = gov.tmp / "plain"
    assert gov.cli("export", "--project", gov.project, "--format", "jsonl", "--purpose",
                   "training", "--by", "manager", "--plaintext-dir", str(plain)) == 2  # fmt: skip
    assert "restricted recordings" in capsys.readouterr().err and not plain.exists()
    assert _export(gov, "unmasked.cordon", fmt="jsonl") == 2
    assert "(class_refused)" in capsys.readouterr().err
    assert _export(gov, "masked.cordon", "--masked", fmt="jsonl") == 0
    assert json.loads(capsys.readouterr().out)["data_class"] == "restricted"
