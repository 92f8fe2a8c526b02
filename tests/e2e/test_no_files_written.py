"""A whole annotate-and-submit session under ``strace -f`` writes no file outside an allowlist.

Every ``open``/``openat``/``creat`` with a write flag, every ``rename`` and
``mkdir`` of the client process, its threads and children is collected; anything outside
the allowlist (devices, /proc, the runtime dir, Qt's keymap settings,
fontconfig's cache, Python bytecode and the encrypted outbox with its drafts) fails the
test. Afterwards the marker typed into a segment and into the task comment (left in an
autosaved draft) is in no file under HOME, TMPDIR or any path the client wrote.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import LiveServer
from tests.e2e.test_annotate_flow import files_containing

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("secret_service")]

# The directory fd is optional: ``rename("a", "b")`` has none, ``renameat(AT_FDCWD, ...)`` has.
_CALL = re.compile(r'^\d+\s+(\w+)\((?:(?:AT_FDCWD|\d+),\s*)?"([^"]*)"(.*)\)\s+=\s+(-?\d+)')
_TRACED = "open,openat,creat,rename,renameat,renameat2,link,linkat,symlink,mkdir,mkdirat"
_WRITE_FLAGS = ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND")


def test_the_trace_parser_sees_every_form_of_write() -> None:
    trace = "\n".join([
        '101 openat(AT_FDCWD, "/a/open", O_WRONLY|O_CREAT|O_CLOEXEC, 0600) = 3',
        '101 open("/a/old-open", O_RDWR) = 4',
        '101 rename("/a/x.tmp", "/a/x.draft") = 0',
        '101 renameat2(AT_FDCWD, "/a/y.tmp", AT_FDCWD, "/a/y.draft", RENAME_NOREPLACE) = 0',
        '101 mkdir("/a/dir", 0700) = 0',
        '101 openat(AT_FDCWD, "/a/read-only", O_RDONLY|O_CLOEXEC) = 5',
        '101 openat(AT_FDCWD, "/a/failed", O_WRONLY) = -1 ENOENT (No such file or directory)',
    ])  # fmt: skip
    assert written_paths(trace) == {
        "/a/open", "/a/old-open", "/a/x.tmp", "/a/x.draft", "/a/y.tmp", "/a/y.draft", "/a/dir",
    }  # fmt: skip


def written_paths(trace: str) -> set[str]:
    """Paths the traced processes opened for writing, created, or renamed onto (successfully)."""
    paths = set()
    for line in trace.splitlines():
        match = _CALL.match(line)
        if match is None:
            continue
        call, path, rest, result = match.groups()
        if int(result) < 0:
            continue
        if (call in ("open", "openat") and any(flag in rest for flag in _WRITE_FLAGS)) or call in (
            "creat",
            "mkdir",
            "mkdirat",
        ):
            paths.add(path)
        elif call in ("rename", "renameat", "renameat2", "link", "linkat", "symlink"):
            paths.add(path)
            paths.update(re.findall(r'"([^"]*)"', rest))
    return paths


def allowed(path: str, home: Path, runtime: Path) -> bool:
    if path.startswith(("/dev/", "/proc/", "/sys/")) or path.startswith(str(runtime)):
        return True
    if ("/__pycache__/" in path and path.endswith((".pyc", ".pyc.tmp"))) or ".pyc." in path:
        return True  # Python bytecode of Cordon's own modules
    allowed_under_home = [
        home / ".config" / "Cordon",  # QSettings: the keymap (no content)
        home / ".cache" / "fontconfig",  # font metadata
        home / ".local" / "state" / "cordon" / "outbox",  # AES-GCM records only (checked below)
    ]
    if any(path.startswith(str(prefix)) for prefix in allowed_under_home):
        return True
    # The directories on the way to an allowed one (mkdir -p): empty, hold nothing.
    return any(Path(path) in prefix.parents for prefix in allowed_under_home)


def test_annotate_session_writes_nothing_outside_the_allowlist(
    server: LiveServer, run_root: Path, tmp_path: Path
) -> None:
    marker = "MARKER-STRACE-88213"
    trace_file = tmp_path / "trace.txt"
    cmd = [
        "strace", "-f", "-qq", "-s", "4096", "-o", str(trace_file),
        "-e", f"trace=execve,{_TRACED}",
        sys.executable, "-m", "devtools.scripted_session",
        "--server", server.url, "--ca", str(server.ca_file), "--marker", marker,
    ]  # fmt: skip
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "submitted revision 1" in done.stdout

    trace = trace_file.read_text()
    programs = {m.group(1) for m in re.finditer(r'execve\("([^"]+)".*\) = 0$', trace, re.M)}
    # ctypes.util.find_library runs ldconfig; nothing else (it once ran gcc and ld).
    assert programs <= {sys.executable, "/sbin/ldconfig"}, programs
    paths = written_paths(trace)
    home = Path(os.environ["HOME"])
    runtime = Path(os.environ["XDG_RUNTIME_DIR"])
    unexpected = sorted(p for p in paths if not allowed(p, home, runtime))
    assert unexpected == [], "\n".join(unexpected)

    outbox = [p for p in paths if "/cordon/outbox/" in p and p.endswith(".outbox")]
    assert outbox, "the submitted label went through the outbox"
    drafts = [Path(p) for p in paths if "/drafts/" in p and p.endswith(".draft")]
    assert any(p.is_file() for p in drafts), "the comment typed after submitting left a draft"
    existing = [Path(p) for p in paths if Path(p).is_file()]
    roots = [home, Path(os.environ["TMPDIR"]), *existing]
    leaks = files_containing(roots, [marker.encode()], skip=[tmp_path])
    assert leaks == []
