"""Run the Cordon demo: the server with the demo project, and the client connected to it.

Started by ``scripts/demo.sh`` after set-up. Everything the demo starts is
stopped by pid when the client window closes (or on Ctrl+C). Where no desktop
keyring is running (a headless or minimal machine), a private Secret Service
is started for this run only: its unlock password never leaves memory and its
keyring directory is deleted when the demo ends (the next run enrols a new
demo device).

Besides the short recordings in ``resources/demo``, the demo project has a
two-hour stereo call, generated on the first run (synthetic speech-like
audio, about 160 MB), to show that a long call opens and plays at once.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import sys
import tempfile
from contextlib import ExitStack, nullcontext
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devtools.processes import start, start_server, stop  # noqa: E402
from devtools.pulse import null_sink  # noqa: E402
from devtools.secret_service import private_secret_service  # noqa: E402
from devtools.synthetic_audio import write_audio  # noqa: E402

SHIPPED_AUDIO = ROOT / "resources" / "demo"
LONG_CALL = "long-call-2h-stereo.flac"


def _have_safe_keyring() -> bool:
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS") and sys.platform.startswith("linux"):
        return False
    from app.services.device_store import (  # noqa: PLC0415
        KeyringUnavailableError,
        check_backend,
    )

    try:
        check_backend()
    except KeyringUnavailableError:
        return False
    return True


def _exit_on_sigterm() -> None:
    """Turn SIGTERM (and an inherited-ignored SIGINT) into a normal exit: the stack cleans up."""

    def handler(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _has_sound_output() -> bool:
    """A sound card, or a sound server the user already runs."""
    if os.environ.get("PULSE_SERVER") or os.environ.get("PIPEWIRE_REMOTE"):
        return True
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and (Path(runtime) / "pulse" / "native").exists():
        return True
    cards = Path("/proc/asound/cards")
    return cards.exists() and "no soundcards" not in cards.read_text()


def _demo_audio(audio_dir: Path) -> Path:
    """The shipped recordings and RLHF comparisons, plus the two-hour stereo call (made
    once, then reused)."""
    audio_dir.mkdir(parents=True, exist_ok=True)
    (audio_dir / "comparisons").mkdir(exist_ok=True)
    (audio_dir / "gold").mkdir(exist_ok=True)
    shipped = [
        *SHIPPED_AUDIO.glob("*.flac"), *SHIPPED_AUDIO.glob("comparisons/*.json"),
        *SHIPPED_AUDIO.glob("gold/*.json"),
    ]  # fmt: skip
    for source in shipped:
        target = audio_dir / source.relative_to(SHIPPED_AUDIO)
        if not target.exists():
            shutil.copyfile(source, target)
    long_call = audio_dir / LONG_CALL
    if not long_call.exists():
        print("First run: making a two-hour stereo demo call (about 10 s)…")
        scratch = Path(tempfile.mkdtemp(dir=audio_dir.parent, prefix=".demo-audio-"))
        try:  # made aside and moved in whole: an interrupted run leaves no half a call
            write_audio(scratch / LONG_CALL, 2 * 3600, 8000, 2, seed=2024).rename(long_call)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return audio_dir


def main() -> int:
    _exit_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", default=str(ROOT / "demo-data" / "server"))
    args = parser.parse_args()
    has_display = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    if not has_display and os.environ.get("QT_QPA_PLATFORM") != "offscreen":
        print(
            "cordon demo: no display. Run it from a desktop session, or on a headless "
            "machine under a virtual screen: xvfb-run -a scripts/demo.sh",
            file=sys.stderr,
        )
        return 2
    data_dir = Path(args.data_dir)
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        audio_dir = _demo_audio(data_dir.parent / "audio")
        server, url = start_server(data_dir, "--audio-dir", str(audio_dir), command="demo")
        stack.callback(stop, server)
        print(f"Cordon demo server: {url}")
        print(
            "Sign in as 'annotator' (or 'annotator2') to transcribe, 'reviewer' to review "
            "hand-ins, or 'manager' to plan the work and read the quality report."
        )
        keyring_state = Path(tempfile.mkdtemp(prefix="cordon-demo-keyring-"))
        stack.callback(shutil.rmtree, keyring_state, True)
        password = secrets.token_hex(16).encode()
        stack.enter_context(
            nullcontext()
            if _have_safe_keyring()
            else private_secret_service(keyring_state, password)
        )
        client_env = dict(os.environ)
        if not _has_sound_output():
            print("No sound card: the demo plays into a silent PulseAudio null sink.")
            client_env = stack.enter_context(null_sink(data_dir.parent / "pulse"))
        ca_file = data_dir / "pki" / "ca.pem"
        client = start(
            [sys.executable, "-m", "app", "--server", url, "--ca", str(ca_file)],
            env=client_env,
        )
        stack.callback(stop, client)
        return client.wait()


if __name__ == "__main__":
    sys.exit(main())
