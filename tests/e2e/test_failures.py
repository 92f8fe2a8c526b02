"""Bad input end to end: tampered ciphertext, expired grants, dead servers, wrong CAs.

Each gives the annotator words, the server an access event, and leaves no
plaintext behind; none crashes the client.
"""

from __future__ import annotations

import socket
import ssl
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import requests
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from app.api import errors
from app.api.client import CordonApi
from app.crypto.device_keys import DeviceKeyPair
from app.services.session import Device
from devtools.audio_tap import TappedOutput
from server import db
from server.pki import create_ca
from tests.e2e.client_driver import LONG, running_client, sign_in
from tests.e2e.conftest import LiveServer, live_server

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("secret_service")]


def client_events(server: LiveServer) -> list[dict[str, object]]:
    engine = server.engine()
    with engine.connect() as conn:
        rows = conn.execute(select(db.access_events).where(db.access_events.c.source == "client"))
        out = [dict(r._mapping) for r in rows]
    engine.dispose()
    return out


def open_expecting_failure(qtbot: QtBot, client: object, row: int) -> str:
    window = client.window  # type: ignore[attr-defined]
    controller = client.controller  # type: ignore[attr-defined]
    window.tasks.setCurrentRow(row)
    with qtbot.waitSignal(controller.segment_failed, timeout=LONG) as failed:
        window.tasks.task_activated.emit(window.tasks.task_at(row))
    assert controller.opened is None
    assert window.banner.text() != "" or not window.isVisible()
    message: str = failed.args[0]
    return message


def test_tampered_segment_is_refused_and_audited(qtbot: QtBot, server: LiveServer) -> None:
    for blob in (server.data_dir / "blobs").glob("*.seg"):
        data = bytearray(blob.read_bytes())
        data[len(data) // 2] ^= 0x01
        blob.write_bytes(bytes(data))
    with running_client(server, TappedOutput()) as client:
        sign_in(qtbot, client)
        message = open_expecting_failure(qtbot, client, 0)
        assert "integrity check" in message
        qtbot.waitUntil(lambda: client.events.pending == 0, timeout=LONG)
    failures = [e for e in client_events(server) if e["action"] == "decrypt_failed"]
    assert [(e["outcome"], e["reason"]) for e in failures] == [("failed", "integrity_failed")]


def test_expired_grant_is_refused(qtbot: QtBot, tmp_path: Path) -> None:
    server = live_server(tmp_path, {"short.wav": (1.0, 8000, 1)}, "--grant-lifetime", "0")
    try:
        with running_client(server, TappedOutput()) as client:
            sign_in(qtbot, client)
            assert "expired" in open_expecting_failure(qtbot, client, 0)
            qtbot.waitUntil(lambda: client.events.pending == 0, timeout=LONG)
        reasons = [e["reason"] for e in client_events(server)]
        assert "grant_expired" in reasons
    finally:
        server.stop()


def test_dead_server_gives_words_not_a_crash(qtbot: QtBot, server: LiveServer) -> None:
    with running_client(server, TappedOutput()) as client:
        tasks = sign_in(qtbot, client)
        server.stop()
        with qtbot.waitSignal(client.controller.segment_failed, timeout=LONG) as failed:
            client.controller.open_task(tasks[0])
        assert "Cannot reach the Cordon server" in failed.args[0]
        qtbot.waitUntil(lambda: client.window.sync_label.text().startswith("Server offline"))
        assert client.events.pending >= 1  # the failure event waits for the server
        client.controller.shutdown()  # quitting while offline, twice, must not raise
        client.controller.shutdown()


def test_expired_session_asks_to_sign_in_again_and_keeps_events(
    qtbot: QtBot, server: LiveServer
) -> None:
    with running_client(server, TappedOutput()) as client:
        tasks = sign_in(qtbot, client)
        client.api.set_token("expired.token")  # what the server says of an expired token too
        with qtbot.waitSignal(client.controller.session_expired, timeout=LONG) as expired:
            client.controller.open_task(tasks[0])
        assert "sign in again" in expired.args[0].lower()
        assert client.window.stack.currentIndex() == 0
        assert client.events.pending >= 1
        sign_in(qtbot, client)
        qtbot.waitUntil(lambda: client.events.pending == 0, timeout=LONG)
    reasons = [e["reason"] for e in client_events(server)]
    assert "authenticationerror" in reasons  # the refused fetch, delivered after sign-in


def test_tls_pins_the_on_prem_ca_and_ignores_the_environment(
    server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert CordonApi(server.url, server.ca_file).health().status == "ok"
    other_ca = tmp_path / "other-ca.pem"
    create_ca(other_ca, tmp_path / "other-ca.key")
    # The environment points at the right CA; a client pinned to another must still refuse.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.ca_file))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(server.ca_file))
    with pytest.raises(errors.TlsError):
        CordonApi(server.url, other_ca).health()
    with pytest.raises(ValueError, match="https"):
        CordonApi(server.url.replace("https", "http"), server.ca_file)


def test_client_refuses_a_tls_1_2_server(server: LiveServer) -> None:
    """Even with the right certificate, a server that cannot do TLS 1.3 is refused."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(
        server.data_dir / "pki" / "server.pem", server.data_dir / "pki" / "server.key"
    )
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    handshakes: list[str] = []

    def accept_one() -> None:
        conn, _ = listener.accept()
        try:
            with ctx.wrap_socket(conn, server_side=True) as tls:
                handshakes.append(tls.version() or "")
        except (ssl.SSLError, OSError) as exc:
            handshakes.append(type(exc).__name__)

    thread = threading.Thread(target=accept_one)
    thread.start()
    try:
        with pytest.raises(errors.TlsError):
            CordonApi(f"https://127.0.0.1:{port}", server.ca_file).health()
    finally:
        thread.join(10)
        listener.close()
    assert handshakes and handshakes[0] != "TLSv1.2"


def test_server_speaks_tls_1_3_only(server: LiveServer) -> None:
    ctx = ssl.create_default_context(cafile=str(server.ca_file))
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises((ssl.SSLError, urllib.error.URLError)):
        urllib.request.urlopen(server.url + "/v1/health", context=ctx, timeout=5)  # noqa: S310
    plain = requests.Session()
    plain.trust_env = False
    with pytest.raises(requests.exceptions.ConnectionError):
        plain.get(server.url.replace("https", "http") + "/v1/health", timeout=5)


def test_key_wrapped_for_another_device_is_refused(qtbot: QtBot, server: LiveServer) -> None:
    """The server wraps to the enrolled key; a workstation holding another key cannot open it."""
    with running_client(server, TappedOutput()) as client:
        sign_in(qtbot, client)
        session = client.controller._session
        assert session.device is not None
        session.device = Device(session.device.device_id, DeviceKeyPair.generate())
        assert "could not unlock" in open_expecting_failure(qtbot, client, 0)
        qtbot.waitUntil(lambda: client.events.pending == 0, timeout=LONG)
    reasons = [e["reason"] for e in client_events(server) if e["action"] == "decrypt_failed"]
    assert reasons == ["key_unwrap_failed"]
