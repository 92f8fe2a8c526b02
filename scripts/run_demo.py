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

``--sso`` signs people in through a local OpenID Connect provider instead of
the demo accounts: the same provider the tests use (npm ``oidc-provider`` over
TLS, ``devtools/oidc``), trusted by the server with ``cordon-server idp add``
and named to the client by a machine policy, exactly as IT would. The client
opens the browser at the provider's sign-in form; Debian's chromium, when
installed, is opened pinned to the provider's certificate (another browser will
warn about the demo CA).
"""

from __future__ import annotations

import argparse
import json
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
#: The local provider's people: password, name, groups (mapped to demo roles below).
SSO_ACCOUNTS = {
    "ada": {"password": "ada-demo", "name": "Ada Lovelace", "groups": ["cordon-annotators"]},
    "rui": {"password": "rui-demo", "name": "Rui Reviewer", "groups": ["cordon-reviewers"]},
    "mo": {"password": "mo-demo", "name": "Mo Manager", "groups": ["cordon-managers"]},
}
SSO_GROUPS = {"cordon-annotators": "annotator", "cordon-reviewers": "reviewer",
              "cordon-managers": "manager"}  # fmt: skip
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
    (audio_dir / "accepted").mkdir(exist_ok=True)
    shipped = [
        *SHIPPED_AUDIO.glob("*.flac"), *SHIPPED_AUDIO.glob("comparisons/*.json"),
        *SHIPPED_AUDIO.glob("gold/*.json"), *SHIPPED_AUDIO.glob("accepted/*.json"),
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


def _single_sign_on(stack: ExitStack, data_dir: Path, env: dict[str, str]) -> list[str]:
    """Start the local provider, make the server trust it; the client's command."""
    from devtools.headless_signin import CHROMIUM, spki_pin  # noqa: PLC0415
    from devtools.oidc_provider import CLIENT_ID, start_provider  # noqa: PLC0415
    from server.cli import main as server_main  # noqa: PLC0415
    from server.demo import DEMO_PROJECT  # noqa: PLC0415

    idp_dir = data_dir.parent / "idp"
    provider = start_provider(idp_dir, SSO_ACCOUNTS)
    stack.callback(provider.stop)
    data = ["--data-dir", str(data_dir)]
    add = ["idp", "add", "demo-idp", *data, "--issuer", provider.issuer, "--audience", CLIENT_ID,
           "--ca", str(provider.ca_file)]  # fmt: skip
    if server_main(add) != 0:
        raise SystemExit("the demo server did not accept the local identity provider")
    for group, role in SSO_GROUPS.items():
        rule = ["--claim-value", group, "--project", DEMO_PROJECT, "--role", role]
        server_main(["idp", "map", "demo-idp", *data, *rule])
    policy = idp_dir / "machine-policy.json"
    policy.write_text(json.dumps({
        "sso_provider": "demo-idp", "sso_authority": provider.issuer, "sso_kind": "oidc",
        "sso_client_id": CLIENT_ID, "sso_scopes": "groups", "sso_ca_file": str(provider.ca_file),
    }))  # fmt: skip
    if Path(CHROMIUM).exists() and "BROWSER" not in env:
        profile = Path(tempfile.mkdtemp(prefix="cordon-demo-browser-"))
        stack.callback(shutil.rmtree, profile, True)
        pin = spki_pin(idp_dir / "idp-tls.pem")
        root = " --no-sandbox" if os.geteuid() == 0 else ""  # chromium refuses root otherwise
        env["BROWSER"] = (
            f"{CHROMIUM}{root} --no-first-run --user-data-dir={profile} "
            f"--ignore-certificate-errors-spki-list={pin} %s"
        )
    print(f"Identity provider: {provider.issuer}")
    print("Sign in as " + ", ".join(f"{u} / {a['password']}" for u, a in SSO_ACCOUNTS.items())
          + " (annotator, reviewer, manager). People appear at their first sign-in: sign in"
          " as ada, then as mo to assign her recordings (Ctrl+Shift+G).")  # fmt: skip
    return [sys.executable, "-m", "devtools.demo_client", "--machine-policy", str(policy)]


def main() -> int:
    _exit_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", default=str(ROOT / "demo-data" / "server"))
    parser.add_argument(
        "--sso", action="store_true", help="sign in through a local OpenID Connect provider"
    )
    parser.add_argument(
        "--machine-policy",
        help="a JSON machine policy for the client, read as IT's would be (e.g. to try "
        "signed updates: update_root_file, update_install)",
    )
    parser.add_argument(
        "--database", help="postgresql://…: make the demo's data directory on this database"
    )
    parser.add_argument(
        "--blobs", help="s3://bucket/prefix?endpoint=…: keep its recordings in this bucket"
    )
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    args = parser.parse_args()
    if args.sso and args.machine_policy:
        parser.error("--sso writes its own machine policy; give one or the other")
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
        storage = [*(["--database", args.database] if args.database else []),
                   *(["--blobs", args.blobs] if args.blobs else [])]  # fmt: skip
        server, url = start_server(
            data_dir, "--audio-dir", str(audio_dir), "--workers", str(args.workers), *storage,
            command="demo",
        )  # fmt: skip
        stack.callback(stop, server)
        print(f"Cordon demo server: {url}")
        if not args.sso:
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
        command = [sys.executable, "-m", "app"]
        if args.sso:
            command = _single_sign_on(stack, data_dir, client_env)
        elif args.machine_policy:
            policy = str(Path(args.machine_policy).resolve())
            command = [sys.executable, "-m", "devtools.demo_client", "--machine-policy", policy]
        client = start([*command, "--server", url, "--ca", str(ca_file)], env=client_env)
        stack.callback(stop, client)
        return client.wait()


if __name__ == "__main__":
    sys.exit(main())
