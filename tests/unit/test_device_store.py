"""The device key lives only in a keyring that protects it."""

from __future__ import annotations

from pathlib import Path

import pytest
from keyring.backends import chainer, fail, null

from app.services.device_store import (
    DeviceStore,
    KeyringUnavailableError,
    check_backend,
    server_identity,
)
from tests.conftest import MemoryKeyring


class PlaintextKeyring(MemoryKeyring):
    """Stands for keyrings.alt's file backends, which keyring may pick silently."""


UNSAFE = [
    fail.Keyring(),
    null.Keyring(),
    PlaintextKeyring(),
]


@pytest.mark.parametrize("backend", UNSAFE)
def test_unsafe_backends_are_refused(backend: object) -> None:
    with pytest.raises(KeyringUnavailableError):
        check_backend(backend)


def test_empty_chainer_is_refused() -> None:
    empty = chainer.ChainerBackend()
    empty.__dict__["backends"] = []
    with pytest.raises(KeyringUnavailableError):
        check_backend(empty)


def test_key_pair_is_created_once_and_reloaded(memory_keyring: MemoryKeyring) -> None:
    store = DeviceStore("srv1")
    first = store.load_or_create()
    second = DeviceStore("srv1").load_or_create()
    assert first.public_bytes() == second.public_bytes()
    assert DeviceStore("srv2").load() is None
    (entry,) = memory_keyring.items
    assert entry == ("cordon", "device-key:srv1")


def test_server_identity_depends_on_url_and_ca(tmp_path: Path) -> None:
    ca1, ca2 = tmp_path / "a.pem", tmp_path / "b.pem"
    ca1.write_text("A")
    ca2.write_text("B")
    assert server_identity("https://h:1", ca1) != server_identity("https://h:1", ca2)
    assert server_identity("https://h:1", ca1) != server_identity("https://h:2", ca1)
