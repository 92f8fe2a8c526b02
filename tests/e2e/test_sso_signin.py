"""A person signs in to the real client through the organisation's provider, in a real browser.

Everything is real: the Cordon server over TLS, npm's ``oidc-provider`` over TLS,
the client built with a machine policy naming the provider, MSAL's interactive
authorization code + PKCE flow with its loopback redirect, and Debian's
chromium (headless) as "the system browser", filling the provider's sign-in
form. Then: the token is bound to the workstation's key, the task opens, a
silent renewal while audio plays does not interrupt it, MSAL's cache lives in
the keyring only, and signing out clears it.
"""

from __future__ import annotations

import os
import sys
import time
import webbrowser
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import pytest
import secretstorage
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.lockdown.policy import Policy, validate_layer
from app.main import build
from app.player.playback import PlaybackState
from app.services.device_store import SERVICE, server_identity
from devtools.audio_tap import PacedOutput
from devtools.headless_signin import spki_pin
from devtools.oidc_provider import CLIENT_ID, Provider, start_provider
from devtools.processes import start, stop
from server.cli import main as server_main
from server.demo import DEMO_PROJECT
from tests.e2e.conftest import LiveServer, live_server

pytestmark = pytest.mark.e2e
LONG = 90_000
ACCOUNTS = {"ada": {"password": "correct horse", "name": "Ada Lovelace",
                    "groups": ["cordon-annotators"]}}  # fmt: skip


class ChromiumAtTheForm(webbrowser.BaseBrowser):
    """ "The system browser" for MSAL: headless chromium filling the form, run by pid."""

    def __init__(self, provider: Provider) -> None:
        super().__init__("cordon-test-chromium")
        self.provider = provider
        self.procs: list[Any] = []

    def open(self, url: str, new: int = 0, autoraise: bool = True) -> bool:
        env = {
            **os.environ,
            "CORDON_SIGNIN_USER": "ada",
            "CORDON_SIGNIN_PASSWORD": str(ACCOUNTS["ada"]["password"]),
            "CORDON_SIGNIN_SPKI": spki_pin(self.provider.workdir / "idp-tls.pem"),
        }
        self.procs.append(start([sys.executable, "-m", "devtools.headless_signin", url], env=env))
        return True


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[Provider]:
    idp = start_provider(tmp_path / "idp", ACCOUNTS)
    yield idp
    idp.stop()


@pytest.fixture
def sso_server(tmp_path: Path, provider: Provider) -> Iterator[LiveServer]:
    srv = live_server(tmp_path, {"dictation.wav": (20.0, 16000, 1)})
    data = ["--data-dir", str(srv.data_dir)]
    add = ["idp", "add", "corp", *data, "--issuer", provider.issuer, "--audience", CLIENT_ID]
    rule = ["--claim-value", "cordon-annotators", "--project", DEMO_PROJECT, "--role", "annotator"]
    try:
        assert server_main([*add, "--ca", str(provider.ca_file)]) == 0
        assert server_main(["idp", "map", "corp", *data, *rule]) == 0
        yield srv
    finally:
        srv.stop()


def test_sign_in_through_the_browser_then_renew_while_playing(
    qtbot: QtBot, secret_service: None, sso_server: LiveServer, provider: Provider, tmp_path: Path
) -> None:
    browser = ChromiumAtTheForm(provider)
    webbrowser.register(browser.name, None, browser, preferred=True)
    machine = validate_layer(
        {
            "sso_provider": "corp", "sso_authority": provider.issuer, "sso_kind": "oidc",
            "sso_client_id": CLIENT_ID, "sso_scopes": "groups",
            "sso_ca_file": str(provider.ca_file),
        },
        "machine policy",
    )  # fmt: skip
    tap = PacedOutput()  # plays in real time, as a sound card does
    client = build(
        sso_server.url, sso_server.ca_file, tap.factory, policy=Policy.merge(machine, {}),
        outbox_root=tmp_path / "outbox",
    )  # fmt: skip
    client.window.show()
    server_id = server_identity(client.api.base_url, sso_server.ca_file)
    try:
        login = client.window.login
        assert login.sign_in_button.text() == "Sign in with corp"
        login.account.setCurrentText("")  # no account hint: the provider asks
        with (
            qtbot.waitSignal(client.controller.signed_in, timeout=LONG) as signed,
            qtbot.waitSignal(client.controller.tasks_loaded, timeout=LONG) as first,
        ):
            qtbot.mouseClick(login.sign_in_button, Qt.MouseButton.LeftButton)
        assert signed.args[0].username == "ada" and first.args[0] == []
        assert [p.wait(30) for p in browser.procs] == [0]
        cache = keyring.get_password(SERVICE, f"sso-cache:{server_id}")
        assert cache is not None and "RefreshToken" in cache
        _no_file_holds(tmp_path, cache)

        # A task for the person the provider made: assigned by the project's manager.
        assign = ["task", "assign", "--data-dir", str(sso_server.data_dir), "--project",
                  DEMO_PROJECT, "--title", "dictation", "--to", "ada"]  # fmt: skip
        assert server_main(assign) == 0
        with qtbot.waitSignal(client.controller.tasks_loaded, timeout=LONG) as loaded:
            client.controller.refresh_tasks()
        (task,) = loaded.args[0]
        with qtbot.waitSignal(client.controller.segment_opened, timeout=LONG):
            client.controller.open_task(task)
        client.controller.toggle_playback()
        qtbot.waitUntil(lambda: client.controller._engine.state is PlaybackState.PLAYING)
        before = client.controller._session.credentials
        assert before is not None
        frames_before = len(tap.delivered())
        client.controller._renew()  # what the timer does RENEW_BEFORE_S before the end
        qtbot.waitUntil(lambda: client.controller._session.credentials is not before, timeout=LONG)
        after = client.controller._session.credentials
        assert after is not None and after.access_token != before.access_token
        assert after.user.user_id == before.user.user_id
        time.sleep(0.3)
        assert client.controller._engine.state is PlaybackState.PLAYING
        assert len(tap.delivered()) > frames_before  # the sound went on through the renewal
        with qtbot.waitSignal(client.controller.tasks_loaded, timeout=LONG):
            client.controller.refresh_tasks()  # the new token works

        client.controller.sign_out()
        qtbot.waitUntil(lambda: _entry_gone(f"sso-cache:{server_id}"), timeout=LONG)
    finally:
        for proc in browser.procs:
            stop(proc)
        client.shutdown()
        client.window.deleteLater()


def _entry_gone(name: str) -> bool:
    """The keyring entry is deleted (a read racing the deletion counts as not yet)."""
    try:
        return keyring.get_password(SERVICE, name) is None
    except secretstorage.exceptions.ItemNotFoundException:
        return False


def _no_file_holds(root: Path, secret: str) -> None:
    """MSAL's cache (refresh token included) was written to no file under ``root``."""
    needle = secret[-40:].encode()
    for path in root.rglob("*"):
        if path.is_file() and path.stat().st_size < 50_000_000:
            assert needle not in path.read_bytes(), path
