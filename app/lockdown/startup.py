"""Whether Cordon may start on this workstation, given the policy and the display."""

from __future__ import annotations

from pathlib import Path

from app.lockdown.capture_guard import CaptureGuard
from app.lockdown.policy import Policy, PolicyError

_KIND_WORDS = {
    "x11": "an X11 session, where any program can read the screen",
    "xwayland": "X11 inside Wayland (XWayland), where other X programs can read the window",
    "wayland": "a Wayland session, where capture is up to the compositor",
    "offscreen": "no display",
}


def start_refusal(policy: Policy, guard: CaptureGuard) -> str | None:
    """The reason to refuse to start (words for the annotator), or None to go ahead."""
    remote = guard.remote_session()
    if remote is not None and policy.choice("remote_session") == "refuse":
        return (
            f"Cordon does not run in a remote session ({remote.replace('_', ' ')}): the remote "
            "viewer's computer could record what it shows. Your organisation's policy forbids it."
        )
    kind = guard.unprotected_reason()
    if kind is not None and policy.choice("unprotected_capture") == "refuse":
        where = _KIND_WORDS.get(kind, kind)
        return (
            f"Cordon cannot keep its window out of screenshots here ({where}), and your "
            "organisation's policy does not allow running unprotected."
        )
    return None


class ServerChoiceError(PolicyError):
    """The command line asks for a server or CA the policy does not allow (or names none)."""


def server_target(policy: Policy, server: str | None, ca: str | None) -> tuple[str, Path]:
    """The server to connect to and the CA to pin: the machine policy's, else the arguments.

    A workstation IT deployed names its server in the machine policy
    (``server_url``, ``server_ca_file``); an argument naming another one is
    refused rather than obeyed, so a shortcut edited by the annotator cannot
    point Cordon at a server the organisation does not run.
    """
    locked = [key for key in ("server_url", "server_ca_file") if policy.choice(key).strip()]
    if len(locked) == 1:
        other = "server_ca_file" if locked == ["server_url"] else "server_url"
        raise ServerChoiceError(
            f"your organisation's policy sets {locked[0]} but not {other}: the server and "
            "the CA it is pinned to are locked together, so Cordon will not take the other "
            "from the command line"
        )
    url = _pick(policy, "server_url", server, "--server")
    ca_path = _pick(policy, "server_ca_file", ca, "--ca")
    return url, Path(ca_path)


def _pick(policy: Policy, key: str, argument: str | None, flag: str) -> str:
    locked = policy.choice(key).strip()
    if locked:
        if argument is not None and argument != locked:
            raise ServerChoiceError(
                f"your organisation's policy names {key} {locked!r}; {flag} {argument!r} "
                "is not allowed"
            )
        return locked
    if not argument:
        raise ServerChoiceError(f"no {flag} given and the machine policy sets no {key}")
    return argument
