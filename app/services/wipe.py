"""Wipe a revoked workstation: what Cordon keeps here for the server goes, for good.

Deleted: the workstation's DPoP signing key, the device keys of the people who
signed in here, the identity provider's cached sign-in, and the outbox key —
which makes every outbox and draft file unreadable (crypto-shredding) — and
then those files too. Audio and open documents are zeroed by the caller
before this runs (on the GUI thread, at once); this part does the keyring's
and the disk's I/O and may take a moment.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from app.services.device_store import DeviceStore, OutboxKeyStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WipeReport:
    keyring_entries: int
    files: int


def wipe_workstation(
    devices: DeviceStore,
    outbox_keys: OutboxKeyStore,
    forget_sign_in: Callable[[], None],
    user_ids: Sequence[str],
    directories: Sequence[Path],
) -> WipeReport:
    """Delete the keys first (the files are useless without them), then the files."""
    entries = devices.forget(list(user_ids)) + outbox_keys.forget()
    forget_sign_in()
    files = 0
    for directory in directories:
        if directory.exists():
            files += sum(1 for p in directory.rglob("*") if p.is_file())
            shutil.rmtree(directory, ignore_errors=True)
    logger.warning("workstation wiped: %d keyring entries, %d files", entries, files)
    return WipeReport(entries, files)
