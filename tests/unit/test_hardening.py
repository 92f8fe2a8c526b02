"""Process hardening, checked in a child process so the test runner stays debuggable."""

from __future__ import annotations

import json
import subprocess
import sys

CHILD = """
import ctypes, ctypes.util, json, resource
from app.lockdown.hardening import harden_process
report = harden_process()
libc = ctypes.CDLL(ctypes.util.find_library("c"))
limits = open("/proc/self/limits").read()
print(json.dumps({
    "report": [report.core_dumps_disabled, report.not_dumpable, report.problems],
    "rlimit_core": list(resource.getrlimit(resource.RLIMIT_CORE)),
    "dumpable": libc.prctl(3, 0, 0, 0),
    "limits_line": [l for l in limits.splitlines() if l.startswith("Max core file size")][0],
}))
"""


def test_no_core_dumps_and_not_dumpable() -> None:
    out = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, check=True, timeout=60
    )
    result = json.loads(out.stdout)
    assert result["report"] == [True, True, []]
    assert result["rlimit_core"] == [0, 0]
    assert result["dumpable"] == 0
    assert result["limits_line"].split()[4:6] == ["0", "0"]
