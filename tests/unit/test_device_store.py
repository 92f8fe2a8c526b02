"""The device key lives only in a keyring that protects it."""

from __future__ import annotations

from pathlib import Path

import pytest
from keyring.backends import chainer, fail, null

from app.crypto.device_keys import DeviceKeyPair
from app.services.device_store import (
    DeviceStore,
    KeyringUnavailableError,
    check_backend,
    server_identity,
)
from devtools.memory_keyring import MemoryKeyring


def lookalike(module: str, name: str) -> object:
    """A backend class that claims to live in ``module`` (e.g. keyrings.alt's files)."""
    cls = type(name, (MemoryKeyring,), {"__module__": module})
    return cls()


UNSAFE = [
    fail.Keyring(),
    null.Keyring(),
    lookalike("keyrings.alt.file", "PlaintextKeyring"),
    lookalike("keyrings.alt.file", "EncryptedKeyring"),  # a file, whatever the password
    lookalike("some_vendor.keyring", "VaultKeyring"),  # not an OS secret store
]


@pytest.mark.parametrize("backend", UNSAFE)
def test_unsafe_backends_are_refused(backend: object) -> None:
    with pytest.raises(KeyringUnavailableError):
        check_backend(backend)


def chain_of(*leaves: object) -> object:
    """A keyring chainer over exactly ``leaves`` (its ``backends`` is a class property)."""
    cls = type("ChainerBackend", (chainer.ChainerBackend,), {"backends": list(leaves)})
    return cls()


def test_os_secret_stores_are_accepted() -> None:
    secret_service = lookalike("keyring.backends.SecretService", "Keyring")
    assert check_backend(secret_service).endswith("SecretService.Keyring")
    assert check_backend(chain_of(lookalike("keyring.backends.macOS", "Keyring")))
    with pytest.raises(KeyringUnavailableError):
        check_backend(chain_of(secret_service, null.Keyring()))


def test_empty_chainer_is_refused() -> None:
    with pytest.raises(KeyringUnavailableError, match="no backends"):
        check_backend(chain_of())


def test_key_pair_is_created_once_and_reloaded(memory_keyring: MemoryKeyring) -> None:
    store = DeviceStore("srv1")
    first = store.load_or_create("usr_a")
    second = DeviceStore("srv1").load_or_create("usr_a")
    assert first.public_bytes() == second.public_bytes()
    assert DeviceStore("srv2").load("usr_a") is None
    other = store.load_or_create("usr_b")  # a second person on this workstation account
    assert other.public_bytes() != first.public_bytes()
    assert sorted(memory_keyring.items) == [
        ("cordon", "device-key:srv1:usr_a"), ("cordon", "device-key:srv1:usr_b"),
    ]  # fmt: skip


def test_a_legacy_shared_key_goes_to_the_first_user_once(memory_keyring: MemoryKeyring) -> None:
    store = DeviceStore("srv1")
    legacy = DeviceKeyPair.generate()
    store.save(legacy)  # the one key per server of earlier versions
    adopted = store.adopt_legacy("usr_a")
    assert adopted is not None and adopted.public_bytes() == legacy.public_bytes()
    assert store.adopt_legacy("usr_b") is None
    assert store.load("usr_a") is not None and store.load() is None


def test_server_identity_depends_on_url_and_ca(tmp_path: Path) -> None:
    ca1, ca2 = tmp_path / "a.pem", tmp_path / "b.pem"
    ca1.write_text("A")
    ca2.write_text("B")
    assert server_identity("https://h:1", ca1) != server_identity("https://h:1", ca2)
    assert server_identity("https://h:1", ca1) != server_identity("https://h:2", ca1)
