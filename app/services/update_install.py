"""Handing a verified installer to the operating system, only with consent.

The policy's ``update_install`` says whose consent: ``ask`` the person signed in
(their yes in a dialog), ``automatic`` (IT's, given by the policy itself), or
``never`` (updates are reported, never installed: IT pushes them another way).
The installer runs through an injected :data:`Runner` — the boundary to the
operating system, which tests replace — with a fixed argument list per platform
(no shell, the file's own path only). Runs blocking: a worker thread calls it.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable, Sequence
from enum import StrEnum
from pathlib import Path

from app.services.updates import UpdateOffer

logger = logging.getLogger(__name__)

#: Runs a command and returns its exit status.
Runner = Callable[[Sequence[str]], int]


class InstallMode(StrEnum):
    ASK = "ask"
    AUTOMATIC = "automatic"
    NEVER = "never"


#: Exit codes that mean installed: Windows Installer's 3010 and 1641 add "restart needed".
_SUCCESS: dict[str, set[int]] = {"windows-msi": {0, 3010, 1641}}


class InstallRefusedError(Exception):
    """Nothing was run: no consent, no verified file, or the installer failed (``code``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def installer_command(platform: str, file: Path) -> list[str]:
    """The OS installer's command for a verified file of ``platform``."""
    if platform == "windows-msi":
        # /norestart: a silent install never reboots the workstation under the person.
        return ["msiexec", "/i", str(file), "/qn", "/norestart"]
    if platform == "linux-deb":
        return ["pkexec", "apt-get", "install", "-y", str(file)]
    if platform == "macos-pkg":
        return ["installer", "-pkg", str(file), "-target", "/"]
    raise InstallRefusedError("unknown_platform", f"no installer for {platform!r}")


def run_command(command: Sequence[str]) -> int:
    """The real runner: the command, without a shell, waiting for it to finish."""
    return subprocess.run(list(command), check=False).returncode  # noqa: S603


class UpdateInstaller:
    """Decides whether a verified update may be installed, and hands it over."""

    def __init__(self, mode: str, platform: str | None, runner: Runner | None = None) -> None:
        self.mode = InstallMode(mode)
        self._platform = platform
        self._runner = runner or run_command

    @property
    def downloads(self) -> bool:
        """Whether a found update is downloaded at all (not under ``never``)."""
        return self.mode is not InstallMode.NEVER

    @property
    def asks(self) -> bool:
        return self.mode is InstallMode.ASK

    def install(self, offer: UpdateOffer, *, consented: bool) -> None:
        """Run the installer on ``offer.file`` if policy and person allow; then delete it.

        ``consented`` is the person's answer under ``ask``; ``automatic`` needs
        none and ``never`` refuses whatever it is.
        """
        try:
            if self.mode is InstallMode.NEVER:
                raise InstallRefusedError("install_disabled", "the policy installs no updates")
            if self.mode is InstallMode.ASK and not consented:
                raise InstallRefusedError("declined", "the update was declined")
            if offer.file is None or self._platform is None:
                raise InstallRefusedError("not_verified", "no verified installer to hand over")
            command = installer_command(self._platform, offer.file)
            logger.info("handing update %s to the installer", offer.version)
            status = self._runner(command)
            if status not in _SUCCESS.get(self._platform, {0}):
                raise InstallRefusedError("installer_failed", f"the installer exited with {status}")
        finally:
            offer.discard()
