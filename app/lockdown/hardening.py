"""Process hardening done before any content is decrypted.

- No core dumps: ``RLIMIT_CORE`` 0, so a crash cannot write decrypted audio or
  a transcript to disk (secure buffers are also ``MADV_DONTDUMP``).
- Linux: ``PR_SET_DUMPABLE`` 0 also stops other processes of the same user
  from attaching with ptrace or reading ``/proc/<pid>/mem`` (root still can).
- Qt keeps no disk cache unless asked (Cordon never creates one); the
  environment variables below turn off the few caches Qt would otherwise write.

What could not be applied is reported, not hidden: the caller logs it and the
closing report shows it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

PR_SET_DUMPABLE = 4
PR_GET_DUMPABLE = 3

#: Qt would otherwise cache compiled shaders and pipeline state on disk.
QT_NO_DISK_CACHE_ENV = {
    "QSG_RHI_DISABLE_DISK_CACHE": "1",
    "QT_DISABLE_SHADER_DISK_CACHE": "1",
}


@dataclass
class HardeningReport:
    core_dumps_disabled: bool = False
    not_dumpable: bool | None = None  # None: not applicable on this OS
    problems: list[str] = field(default_factory=list)


def _disable_core_dumps(report: HardeningReport) -> None:
    try:
        import resource  # noqa: PLC0415 - POSIX only
    except ImportError:
        report.problems.append("no RLIMIT_CORE on this OS (Windows Error Reporting applies)")
        return
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (OSError, ValueError) as exc:
        report.problems.append(f"RLIMIT_CORE: {exc}")
        return
    report.core_dumps_disabled = resource.getrlimit(resource.RLIMIT_CORE) == (0, 0)


def _set_not_dumpable(report: HardeningReport) -> None:
    name = ctypes.util.find_library("c")
    if name is None:
        report.problems.append("libc not found for prctl")
        report.not_dumpable = False
        return
    libc = ctypes.CDLL(name, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    libc.prctl.restype = ctypes.c_int
    if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0) != 0:
        report.problems.append(f"PR_SET_DUMPABLE: errno {ctypes.get_errno()}")
    report.not_dumpable = libc.prctl(PR_GET_DUMPABLE, 0, 0, 0) == 0


def harden_process(platform: str = sys.platform) -> HardeningReport:
    """Apply every hardening this OS allows; report what held."""
    report = HardeningReport()
    _disable_core_dumps(report)
    if platform.startswith("linux"):
        _set_not_dumpable(report)
    for key, value in QT_NO_DISK_CACHE_ENV.items():
        os.environ.setdefault(key, value)
    for problem in report.problems:
        logger.warning("hardening: %s", problem)
    return report
