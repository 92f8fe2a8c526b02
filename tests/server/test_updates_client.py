"""The whole client, as built by ``app.main``: policy names the shipped root; after
sign-in the update is checked off the GUI thread, the person is asked, and only
their yes reaches the (fake) installer. A refused update afterwards reaches the
server's audit log through the outbox and the delivery thread, like every event.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from securesystemslib.signer import CryptoSigner
from sqlalchemy import select
from tuf.api.metadata import Metadata

from app.lockdown.policy import Policy
from app.main import build
from app.services import update_install
from app.ui.update_prompt import UpdatePrompt
from devtools.audio_tap import TappedOutput
from server import db
from server.cli import main as server_main
from server.datadir import DataDir
from tests.e2e.client_driver import sign_in
from tests.e2e.conftest import (
    live_server,
    secret_service,  # noqa: F401 - the private Secret Service fixture
)

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("secret_service")]


def _prompt() -> UpdatePrompt | None:
    return next((w for w in QApplication.topLevelWidgets()
                 if isinstance(w, UpdatePrompt) and w.isVisible()), None)  # fmt: skip


def _refusals(data_dir: Path) -> list[str | None]:
    with db.make_engine(DataDir(data_dir).database_url).connect() as conn:
        rows = conn.execute(
            select(db.access_events.c.reason).where(
                db.access_events.c.action == "update_refused",
                db.access_events.c.source == "client",
            )
        ).all()
    return [r.reason for r in rows]


def test_the_client_asks_installs_on_yes_and_audits_a_refusal(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[str]] = []

    def runner(command: Sequence[str]) -> int:
        calls.append(list(command))
        return 0

    monkeypatch.setattr(update_install, "run_command", runner)
    server = live_server(tmp_path, {"a-call.wav": (2.0, 16000, 1)})
    client = None
    try:
        keys, data = tmp_path / "offline", str(server.data_dir)
        assert server_main(["updates", "init", "--data-dir", data, "--keys", str(keys)]) == 0
        package = tmp_path / "cordon-0.2.0.deb"
        package.write_bytes(b"a signed installer" * 5000)
        publish = ["updates", "publish", str(package), "--platform", "linux-deb", "--version",
                   "0.2.0", "--keys", str(keys), "--data-dir", data]  # fmt: skip
        assert server_main(publish) == 0
        metadata = server.data_dir / "updates" / "metadata"
        shipped = tmp_path / "root.json"
        shutil.copyfile(metadata / "1.root.json", shipped)
        policy = Policy.merge({"update_root_file": str(shipped), "update_install": "ask"}, {})
        client = build(server.url, server.ca_file, TappedOutput().factory, policy=policy,
                       outbox_root=tmp_path / "outbox")  # fmt: skip
        client.window.show()
        assert client.updates is not None
        sign_in(qtbot, client)
        qtbot.waitUntil(lambda: _prompt() is not None, timeout=30_000)
        assert calls == []  # asked first
        prompt = _prompt()
        assert prompt is not None
        qtbot.mouseClick(prompt.install, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: len(calls) == 1, timeout=30_000)
        assert calls[0][:4] == ["pkexec", "apt-get", "install", "-y"]
        assert not Path(calls[0][4]).exists()  # handed over, then deleted

        ts: Metadata = Metadata.from_file(str(metadata / "timestamp.json"))  # type: ignore[type-arg]
        ts.signed.version += 1
        ts.sign(CryptoSigner.generate_ed25519(), append=False)  # not the timestamp key
        (metadata / "timestamp.json").write_bytes(ts.to_bytes())
        with qtbot.waitSignal(client.updates.refused, timeout=30_000) as refused:
            client.updates.check_now()
        assert refused.args == ["bad_signature"]
        qtbot.waitUntil(lambda: _refusals(server.data_dir) == ["bad_signature"], timeout=30_000)
        assert len(calls) == 1
    finally:
        if client is not None:
            client.shutdown()
            client.window.deleteLater()
            QApplication.processEvents()
        server.stop()
