"""Real X11: a private Xvfb for this pytest process, and Qt on the xcb platform.

Run by scripts/test.sh as its own pytest process (``CORDON_X11_TESTS=1``): the
QApplication is created here, on xcb, after the X server is up, and deleted
before the X server is stopped (Qt exits the process if its display vanishes).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from devtools.xvfb import private_xvfb
from tests.e2e.conftest import secret_service, server  # noqa: F401 - shared fixtures


@pytest.fixture(scope="session")
def x_display() -> Iterator[str]:
    from PySide6.QtWidgets import QApplication  # noqa: PLC0415 - before any QApplication

    if QApplication.instance() is not None:
        pytest.fail("tests/x11 must run in their own pytest process (see scripts/test.sh)")
    with private_xvfb() as display:
        os.environ["DISPLAY"] = display
        os.environ["QT_QPA_PLATFORM"] = "xcb"
        os.environ.pop("WAYLAND_DISPLAY", None)
        yield display


@pytest.fixture(scope="session")
def qapp(x_display: str) -> Iterator[object]:
    """pytest-qt's application, on the xcb platform of our Xvfb (overrides pytest-qt's)."""
    import shiboken6  # noqa: PLC0415
    from PySide6.QtWidgets import QApplication  # noqa: PLC0415

    app = QApplication(["cordon-x11-tests"])
    assert app.platformName() == "xcb"
    yield app
    for widget in QApplication.topLevelWidgets():
        widget.close()
    app.processEvents()
    shiboken6.delete(app)
