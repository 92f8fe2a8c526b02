"""``cordon-bench`` / ``python -m devtools.bench``: print one JSON object of measurements.

Every figure comes with the floor it is compared to, measured in the same run
(the machines are shared and noisy). Audio runs on a private PulseAudio null
sink, which plays at a real 48 kHz; it must start before PortAudio loads, so
it is started first. ``--quick`` shrinks the inputs for a smoke run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from devtools.pulse import null_sink


def _generate(work: Path, quick: bool) -> tuple[Path, Path]:
    from devtools.synthetic_audio import write_audio  # noqa: PLC0415

    long_minutes = 6 if quick else 60
    audio_dir = work / "audio"
    audio_dir.mkdir()
    write_audio(audio_dir / "call-1min.flac", 60, 16000, 1, seed=1)
    long = write_audio(audio_dir / "call-1h.flac", long_minutes * 60, 16000, 1, seed=2)
    return audio_dir, long


def main() -> int:
    parser = argparse.ArgumentParser(prog="cordon-bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small inputs, for a smoke run")
    parser.add_argument("--stress-seconds", type=float, default=60.0, help="B10 duration")
    parser.add_argument("--only", default="", help="comma-separated subset, e.g. B1,B5")
    args = parser.parse_args()
    wanted = {b.strip().upper() for b in args.only.split(",") if b.strip()}

    def want(*names: str) -> bool:
        return not wanted or bool(wanted & set(names))

    results: dict[str, object] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "quick": args.quick,
    }
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cordon-bench-")))
        os.environ.update(stack.enter_context(null_sink(work / "pulse")))
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        sys.setswitchinterval(0.001)
        results.update(_run(work, args, want))
    print(json.dumps(results, indent=2))  # noqa: T201
    return 0


def _later(work: Path, args: argparse.Namespace, want: object) -> dict[str, object]:
    """The benchmarks that bring their own engine: loop, ingest, stress, workspace."""
    from devtools.bench import player  # noqa: PLC0415

    out: dict[str, object] = {}
    if want("B8"):  # type: ignore[operator]
        out["B8"] = player.b8_loop()
    out.update(_ingest(work, args, want))
    if want("B10"):  # type: ignore[operator]
        seconds, minutes = (10, 10) if args.quick else (args.stress_seconds, 120)
        out["B10"] = player.b10_stress(seconds, minutes)
        out["B10_with_segments"] = player.b10_stress(seconds, minutes, segments=2000)
    if want("B15"):  # type: ignore[operator]
        from devtools.bench import proofs  # noqa: PLC0415

        out["B15"] = proofs.b15_proofs(work, args.quick)
    if want("B15PG"):  # type: ignore[operator]
        from devtools.bench import proofs  # noqa: PLC0415
        from devtools.postgres import private_postgres  # noqa: PLC0415

        with private_postgres(durable=True) as postgres:
            out["B15_postgresql"] = proofs.b15_proofs(work, args.quick, postgres)
    if want("B13"):  # type: ignore[operator]
        from devtools.bench import workspace  # noqa: PLC0415

        out["B13"] = workspace.b13_workspace(10 if args.quick else 120, 2000)
    return out


def _ingest(work: Path, args: argparse.Namespace, want: object) -> dict[str, object]:
    """B11 (SQLite), B11PG, B11C (latency against load) and B11L (the locked section)."""
    out: dict[str, object] = {}
    if want("B11"):  # type: ignore[operator]
        from devtools.bench import ingest  # noqa: PLC0415

        out["B11"] = ingest.b11_ingest(work, 3.0 if args.quick else 10.0)
        out["B11_two_processes"] = ingest.b11_ingest(work, 3.0 if args.quick else 10.0, 2)
    if want("B11PG"):  # type: ignore[operator]
        from devtools.bench import ingest  # noqa: PLC0415
        from devtools.postgres import private_postgres  # noqa: PLC0415

        with private_postgres(durable=True) as postgres:
            for workers in (1, 2, 4):
                out[f"B11_postgresql_{workers}"] = ingest.b11_ingest(
                    work, 3.0 if args.quick else 10.0, workers, postgres
                )
    if want("B11C"):  # type: ignore[operator]
        from devtools.bench import ingest_curve  # noqa: PLC0415
        from devtools.postgres import private_postgres  # noqa: PLC0415

        seconds = 5.0 if args.quick else 20.0
        out["B11C_sqlite_1"] = ingest_curve.b11_curve(work, seconds)
        with private_postgres(durable=True) as postgres:
            out["B11C_postgresql_2"] = ingest_curve.b11_curve(work, seconds, 2, postgres)
    if want("B11L"):  # type: ignore[operator]
        from devtools.bench import ingest, locked_section  # noqa: PLC0415
        from devtools.postgres import private_postgres  # noqa: PLC0415

        floor = ingest.sqlite_floor(work / "floor500-locked.db", 500, 3.0)
        out["B11L_sqlite"] = locked_section.b11_locked(work, None, floor)
        with private_postgres(durable=True) as postgres:
            floor = ingest.postgres_floor(postgres, 500, 3.0)
            out["B11L_postgresql"] = locked_section.b11_locked(work, postgres, floor)
    return out


def _run(work: Path, args: argparse.Namespace, want: object) -> dict[str, object]:
    from PySide6.QtWidgets import QApplication  # noqa: PLC0415

    from app.player.playback import PlaybackEngine  # noqa: PLC0415
    from devtools.bench import crypto_decode, loopback, player  # noqa: PLC0415

    app = QApplication.instance() or QApplication(sys.argv[:1])
    out: dict[str, object] = {}
    started = time.perf_counter()
    audio_dir, long = _generate(work, args.quick)
    if want("B1"):  # type: ignore[operator]
        out["B1"] = crypto_decode.b1_decrypt_decode(long)
    if want("B2"):  # type: ignore[operator]
        out["B2"] = crypto_decode.b2_decrypt_throughput(64 if args.quick else 256)
    engine = PlaybackEngine()
    try:
        if want("B3", "B4", "B6"):  # type: ignore[operator]
            out.update(loopback.b3_b4_b6(work, audio_dir, engine))
        if want("B5"):  # type: ignore[operator]
            minutes = 10 if args.quick else 120
            out["B5"] = player.b5_redraw(minutes)
            out["B5_with_segments"] = player.b5_redraw(minutes, segments=2000)
        if want("B7"):  # type: ignore[operator]
            out["B7"] = player.b7_seek(engine)
        if want("B9"):  # type: ignore[operator]
            out["B9"] = player.b9_speed(engine, 3 if args.quick else 10)
    finally:
        engine.close()
    out.update(_later(work, args, want))
    out["bench_seconds"] = round(time.perf_counter() - started, 1)
    app.processEvents()
    return out


if __name__ == "__main__":
    sys.exit(main())
