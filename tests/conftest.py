"""Test-wide isolation: every run gets its own HOME, temp dir and audio config.

Set before anything imports sounddevice (PortAudio reads ``~/.asoundrc`` when
it initialises), so every stream in the tests goes to the ALSA null device and
nothing in the tests touches the real user's files. The e2e tests scan these
directories afterwards for plaintext.
"""

from __future__ import annotations

import gc
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest

from devtools.memory_keyring import MemoryKeyring

_RUN_ROOT = Path(tempfile.mkdtemp(prefix="cordon-tests-"))
HOME = _RUN_ROOT / "home"
TMP = _RUN_ROOT / "tmp"
for _d in (HOME, TMP, _RUN_ROOT / "runtime"):
    _d.mkdir(mode=0o700)
(HOME / ".asoundrc").write_text("pcm.!default { type null }\nctl.!default { type hw card 0 }\n")
os.environ.update(
    {
        "HOME": str(HOME),
        "TMPDIR": str(TMP),
        "XDG_RUNTIME_DIR": str(_RUN_ROOT / "runtime"),
        "XDG_CONFIG_HOME": str(HOME / ".config"),
        "XDG_DATA_HOME": str(HOME / ".local" / "share"),
        "XDG_CACHE_HOME": str(HOME / ".cache"),
        "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
        "PYQTGRAPH_QT_LIB": "PySide6",
        # hypothesis keeps its caches here, not in the working tree (read lazily).
        "HYPOTHESIS_STORAGE_DIRECTORY": str(_RUN_ROOT / "hypothesis"),
    }
)
tempfile.tempdir = str(TMP)

# The X11 tests need a QApplication on the xcb platform, and a process has one
# QApplication: scripts/test.sh runs them in a second pytest process.
collect_ignore = [] if os.environ.get("CORDON_X11_TESTS") else ["x11"]


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_RUN_ROOT, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def _database_engine() -> Iterator[None]:
    """``CORDON_TEST_DATABASE=postgresql``: data directories the tests make keep their
    database on a private PostgreSQL server started for this run (scripts/test.sh runs
    the server tests once so); otherwise SQLite, as by default."""
    if os.environ.get("CORDON_TEST_DATABASE") != "postgresql":
        yield
        return
    from devtools.postgres import private_postgres  # noqa: PLC0415 - only for that run

    with private_postgres() as url:
        os.environ["CORDON_TEST_POSTGRES_URL"] = url
        yield


@pytest.fixture(scope="session", autouse=True)
def _blob_store() -> Iterator[None]:
    """``CORDON_TEST_BLOBS=s3``: data directories the tests make keep their recordings in
    a bucket of moto's S3 emulation on 127.0.0.1 (scripts/test.sh runs the server tests
    once so, with PostgreSQL); otherwise in the data directory, as by default. moto
    accepts any credentials: this tests the contract, not S3's authentication."""
    if os.environ.get("CORDON_TEST_BLOBS") != "s3":
        yield
        return
    import boto3  # noqa: PLC0415 - only for that run

    from devtools.s3 import CREDENTIALS, private_s3  # noqa: PLC0415

    os.environ.update(CREDENTIALS)
    os.environ.pop("AWS_PROFILE", None)
    with private_s3() as endpoint:
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(
            Bucket="cordon-test"
        )
        os.environ["CORDON_TEST_S3_ENDPOINT"] = endpoint
        yield


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


@pytest.fixture(scope="session")
def run_root() -> Path:
    """The isolated root of this test run (HOME and TMPDIR live under it)."""
    return _RUN_ROOT


@pytest.fixture(autouse=True)
def _no_worker_threads_left() -> Iterator[None]:
    """Fail a test that leaves a job queue's thread running (napari's rule)."""
    yield
    import sys  # noqa: PLC0415

    module = sys.modules.get("app.jobs.job_queue")
    if module is not None:
        assert module.running_queues() == [], "a test left worker threads running"


@pytest.fixture(autouse=True)
def _delete_widgets_after_test() -> Iterator[None]:
    """Delete every top-level widget after each test, while Python is still fully alive.

    PySide6 6.12 with pyqtgraph 0.14 crashes in the interpreter's final garbage
    collection if widgets survive to exit; deleting them here avoids that.
    """
    yield
    from PySide6.QtCore import QCoreApplication, QEvent  # noqa: PLC0415 - only if Qt is used
    from PySide6.QtWidgets import QApplication  # noqa: PLC0415

    app = QApplication.instance()
    if app is None:
        return
    from app.ui.transcript_editor import release_clipboard  # noqa: PLC0415

    release_clipboard()
    for widget in QApplication.topLevelWidgets():
        widget.close()
        widget.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    QCoreApplication.processEvents()
    gc.collect()
