"""Managed policy: schema checks, trust rules for the files, precedence, OS readers."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from app.lockdown import policy_macos
from app.lockdown.policy import (
    KEYS,
    SCHEMA,
    USER_KEYS,
    Layer,
    Policy,
    PolicyError,
    validate_layer,
)
from app.lockdown.policy_sources import (
    WINDOWS_POLICY_KEY,
    load_policy,
    read_json_policy,
    read_windows_policy,
    write_user_policy,
)
from app.lockdown.startup import server_target
from tests.policy_fakes import FakeCoreFoundation, FakeWinReg

ME = os.getuid()


def _policy_file(tmp_path: Path, content: str, mode: int = 0o644) -> Path:
    folder = tmp_path / "cordon"
    folder.mkdir(mode=0o755, exist_ok=True)
    folder.chmod(0o755)
    path = folder / "policy.json"
    path.write_text(content)
    path.chmod(mode)
    return path


def test_defaults_are_the_strict_ones_and_nothing_is_locked() -> None:
    policy = Policy.defaults()
    assert policy.choice("remote_session") == "refuse"
    assert policy.flag("in_app_clipboard") is False
    assert policy.flag("screen_reader") is False
    assert policy.flag("curtain_on_focus_loss") is True
    assert not any(policy.locked(key.name) for key in SCHEMA)


def test_machine_beats_user_beats_default_and_locks() -> None:
    policy = Policy.merge(
        {"idle_lock_minutes": 30}, {"idle_lock_minutes": 3, "watermark_opacity": 25}
    )
    assert policy.number("idle_lock_minutes") == 30  # the machine may relax; it is locked
    assert policy.locked("idle_lock_minutes")
    assert policy.number("watermark_opacity") == 25
    assert policy.origins["watermark_opacity"] is Layer.USER
    assert not policy.locked("watermark_opacity")
    assert policy.origins["screen_reader"] is Layer.DEFAULT


#: For every key: a value looser than its default, and one at least as strict.
LOOSER_AND_STRICTER: dict[str, tuple[object, object]] = {
    "unprotected_capture": ("deter", "refuse"),
    "remote_session": ("allow", "refuse"),
    "in_app_clipboard": (True, False),
    "paste_into_editor": ("system", "none"),
    "watermark_opacity": (0, 40),
    "curtain_on_focus_loss": (False, True),
    "idle_lock_minutes": (60, 2),
    "screen_reader": (True, False),
}


def test_every_key_declares_which_way_is_stricter() -> None:
    assert set(LOOSER_AND_STRICTER) == {key.name for key in USER_KEYS}
    for key in USER_KEYS:
        looser, stricter = LOOSER_AND_STRICTER[key.name]
        if looser == key.default:  # the default is already the loosest choice
            continue
        assert not key.at_least_as_strict(looser, key.default), key.name  # type: ignore[arg-type]
        assert key.at_least_as_strict(stricter, key.default), key.name  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(LOOSER_AND_STRICTER))
def test_the_user_may_only_tighten(name: str, tmp_path: Path) -> None:
    looser, stricter = LOOSER_AND_STRICTER[name]
    key = KEYS[name]
    relaxed = Policy.merge({}, {name: looser})  # type: ignore[dict-item]
    assert relaxed.values[name] == key.default
    if looser != key.default:
        assert relaxed.ignored == {name: looser}
        assert not relaxed.allows(name, looser)  # type: ignore[arg-type]
        with pytest.raises(PolicyError, match="would relax protection"):
            write_user_policy({name: looser}, tmp_path / "policy.json")  # type: ignore[dict-item]
    tightened = Policy.merge({}, {name: stricter})  # type: ignore[dict-item]
    assert tightened.values[name] == stricter and not tightened.ignored
    # Only the machine relaxes, and then the key is locked.
    machine = Policy.merge({name: looser}, {name: stricter})  # type: ignore[dict-item]
    assert machine.values[name] == looser and machine.locked(name)


def test_a_relaxing_user_file_is_ignored_not_fatal(tmp_path: Path) -> None:
    user = tmp_path / "user" / "policy.json"
    user.parent.mkdir(mode=0o700)
    relaxing = {"remote_session": "allow", "watermark_opacity": 0, "curtain_on_focus_loss": False}
    user.write_text(json.dumps({**relaxing, "idle_lock_minutes": 5}))
    user.chmod(0o600)
    policy = load_policy(lambda: {}, user)
    assert policy.choice("remote_session") == "refuse"
    assert policy.number("watermark_opacity") == 14
    assert policy.flag("curtain_on_focus_loss") is True
    assert policy.number("idle_lock_minutes") == 5
    assert set(policy.ignored) == {"remote_session", "watermark_opacity", "curtain_on_focus_loss"}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"idle_lock_minutes": "5"}, "must be int"),
        ({"idle_lock_minutes": 0}, "between 1 and 240"),
        ({"idle_lock_minutes": True}, "must be int"),
        ({"screen_reader": 1}, "must be bool"),
        ({"remote_session": "sometimes"}, "one of refuse, allow"),
        ({"no_such_key": 1}, "unknown policy key"),
    ],
)
def test_malformed_values_are_refused(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        validate_layer(raw, "test")


def test_a_trusted_file_is_read(tmp_path: Path) -> None:
    path = _policy_file(tmp_path, json.dumps({"watermark_opacity": 30}))
    assert read_json_policy(path, ME, "machine policy") == {"watermark_opacity": 30}


def test_a_missing_file_is_an_empty_layer(tmp_path: Path) -> None:
    assert read_json_policy(tmp_path / "nowhere" / "policy.json", ME, "machine policy") == {}


def test_world_writable_file_is_refused(tmp_path: Path) -> None:
    path = _policy_file(tmp_path, json.dumps({"watermark_opacity": 30}), mode=0o666)
    with pytest.raises(PolicyError, match="writable by group or others"):
        read_json_policy(path, ME, "machine policy")


def test_group_writable_directory_is_refused(tmp_path: Path) -> None:
    path = _policy_file(tmp_path, "{}")
    path.parent.chmod(0o775)
    with pytest.raises(PolicyError, match="writable by group or others"):
        read_json_policy(path, ME, "machine policy")


def test_machine_policy_not_owned_by_root_is_refused(tmp_path: Path) -> None:
    path = _policy_file(tmp_path, "{}")
    if ME == 0:  # as root, hand the file to another user to see the refusal
        os.chown(path, 65534, 65534)
        path.parent.chmod(0o755)
    with pytest.raises(PolicyError, match="not owned by uid 0"):
        read_json_policy(path, 0, "machine policy")


def test_symlinked_policy_is_refused(tmp_path: Path) -> None:
    real = _policy_file(tmp_path, "{}")
    link = real.parent / "link.json"
    link.symlink_to(real)
    with pytest.raises(PolicyError, match="cannot be opened safely"):
        read_json_policy(link, ME, "machine policy")


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"watermark_opacity": 99}'])
def test_malformed_file_is_refused(tmp_path: Path, content: str) -> None:
    path = _policy_file(tmp_path, content)
    with pytest.raises(PolicyError):
        read_json_policy(path, ME, "machine policy")


def test_load_policy_merges_machine_and_the_saved_user_file(tmp_path: Path) -> None:
    user = tmp_path / "user" / "policy.json"
    write_user_policy({"watermark_opacity": 28, "idle_lock_minutes": 5}, user)
    assert user.stat().st_mode & 0o777 == 0o600
    policy = load_policy(lambda: {"idle_lock_minutes": 2}, user)
    assert policy.number("idle_lock_minutes") == 2
    assert policy.locked("idle_lock_minutes")
    assert policy.number("watermark_opacity") == 28


def test_writing_an_invalid_user_policy_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyError):
        write_user_policy({"watermark_opacity": -1}, tmp_path / "policy.json")
    assert not (tmp_path / "policy.json").exists()


def test_windows_policy_reads_hklm_in_the_64_bit_view() -> None:
    reg = FakeWinReg(
        [("idle_lock_minutes", 3, 4), ("screen_reader", 1, 4), ("remote_session", "allow", 1)]
    )
    assert read_windows_policy(reg) == {
        "idle_lock_minutes": 3,
        "screen_reader": True,
        "remote_session": "allow",
    }
    ((root, sub_key, access),) = reg.opened
    assert root == reg.HKEY_LOCAL_MACHINE and sub_key == WINDOWS_POLICY_KEY
    assert access & reg.KEY_WOW64_64KEY and access & reg.KEY_READ == reg.KEY_READ
    assert reg.closed == 1


def test_windows_policy_absent_key_is_empty() -> None:
    assert read_windows_policy(FakeWinReg(None)) == {}


@pytest.mark.parametrize(
    "value",
    [("idle_lock_minutes", "3", 1), ("screen_reader", 2, 4), ("remote_session", 1, 4)],
)
def test_windows_policy_wrong_registry_type_is_refused(value: tuple[str, object, int]) -> None:
    reg = FakeWinReg([value])
    with pytest.raises(PolicyError):
        read_windows_policy(reg)
    assert reg.closed == 1


def test_macos_reads_only_forced_values_and_releases_everything() -> None:
    cf = FakeCoreFoundation(
        {
            "idle_lock_minutes": (4, True),
            "screen_reader": (True, True),
            "unprotected_capture": ("refuse", True),
            "watermark_opacity": (50, False),  # set by the user, not forced: ignored
        }
    )
    values = policy_macos.read_managed_policy(cf)
    assert values == {
        "idle_lock_minutes": 4,
        "screen_reader": True,
        "unprotected_capture": "refuse",
    }
    assert sorted(cf.released) == sorted(cf.objects)  # every created reference released


def test_macos_forced_value_of_the_wrong_type_is_refused() -> None:
    cf = FakeCoreFoundation({"idle_lock_minutes": ("soon", True)})
    with pytest.raises(PolicyError, match="must be int"):
        policy_macos.read_managed_policy(cf)


def test_whom_to_sign_in_with_is_the_machines_to_say() -> None:
    machine = validate_layer(
        {"sso_provider": "corp", "sso_authority": "https://idp.example/oidc"}, "machine policy"
    )
    user = validate_layer(
        {"sso_provider": "mine", "sso_client_id": "evil", "sso_ca_file": "/tmp/ca.pem"},
        "user policy",
    )
    policy = Policy.merge(machine, user)
    assert policy.choice("sso_provider") == "corp" and policy.locked("sso_provider")
    assert policy.choice("sso_client_id") == "" and policy.choice("sso_ca_file") == ""
    assert set(policy.ignored) == {"sso_client_id", "sso_ca_file"}  # the machine set the other
    assert not policy.allows("sso_client_id", "x")
    assert {key.name for key in SCHEMA} - {key.name for key in USER_KEYS} == {
        "sso_provider",
        "sso_authority",
        "sso_kind",
        "sso_client_id",
        "sso_scopes",
        "sso_ca_file",
        "enrolment_secret_file",
        "server_url",
        "server_ca_file",
        "update_root_file",
        "update_install",
    }
    with pytest.raises(PolicyError, match="longer"):
        validate_layer({"sso_scopes": "x" * 3000}, "machine policy")
    with pytest.raises(PolicyError, match="one of"):
        validate_layer({"sso_kind": "saml"}, "machine policy")


def test_the_machine_policy_names_the_server_and_an_argument_cannot_change_it() -> None:
    """IT's policy picks the server and its CA; a user's own policy cannot, nor can --server."""
    machine = validate_layer(
        {"server_url": "https://cordon.corp:8443", "server_ca_file": "/etc/cordon/ca.pem"},
        "machine policy",
    )
    locked = Policy.merge(machine, {})
    assert server_target(locked, None, None) == (
        "https://cordon.corp:8443",
        Path("/etc/cordon/ca.pem"),
    )
    assert server_target(locked, "https://cordon.corp:8443", "/etc/cordon/ca.pem")[0] == (
        "https://cordon.corp:8443"
    )
    with pytest.raises(PolicyError, match=r"--server 'https://evil\.example'"):
        server_target(locked, "https://evil.example", None)
    with pytest.raises(PolicyError, match=r"--ca '/tmp/mine\.pem'"):
        server_target(locked, None, "/tmp/mine.pem")
    # Without a machine policy the arguments decide; a user's own policy is not heard.
    user = validate_layer({"server_url": "https://evil.example"}, "user policy")
    free = Policy.merge({}, user)
    assert "server_url" in free.ignored
    assert server_target(free, "https://a.example", "/tmp/ca.pem") == (
        "https://a.example",
        Path("/tmp/ca.pem"),
    )
    with pytest.raises(PolicyError, match="no --server given"):
        server_target(free, None, "/tmp/ca.pem")
    with pytest.raises(PolicyError, match="one of"):
        validate_layer({"update_install": "sometimes"}, "machine policy")
    # Half a lock is none: the server without its CA (or the CA without the server).
    for half in ({"server_url": "https://cordon.corp"}, {"server_ca_file": "/etc/ca.pem"}):
        partial = Policy.merge(validate_layer(half, "machine policy"), {})
        with pytest.raises(PolicyError, match="locked together"):
            server_target(partial, "https://a.example", "/tmp/ca.pem")
