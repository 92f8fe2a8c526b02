"""Whether Cordon may start on this workstation, given the policy and the display."""

from __future__ import annotations

from app.lockdown.capture_guard import CaptureGuard
from app.lockdown.policy import Policy

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
