"""Where policy comes from on each OS, and why each source is trusted.

- Linux: ``/etc/cordon/policy.json``, accepted only when the file and its
  directory are owned by root and writable by nobody else — otherwise any local
  user could loosen the policy for everyone. Whole lines starting with ``//``
  are comments (the generated template explains each key that way).
- Windows: ``HKLM\\SOFTWARE\\Policies\\Cordon`` in the 64-bit registry view
  (Group Policy and Intune write there; only administrators can), ``REG_DWORD``
  for booleans and numbers, ``REG_SZ`` for choices.
- macOS: managed preferences (configuration profiles); only *forced* values
  count (see :mod:`app.lockdown.policy_macos`).
- The annotator's own choices: a JSON file in the user's config directory,
  owned by them and writable by nobody else. They may only tighten a key
  (see :meth:`app.lockdown.policy.Policy.merge`).

A missing source is an empty layer. A present but unsafe or malformed one is a
:class:`PolicyError`: the client refuses to start rather than guess.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from app.lockdown.policy import KEYS, Policy, PolicyError, PolicyValue, validate_layer

LINUX_MACHINE_POLICY = Path("/etc/cordon/policy.json")
WINDOWS_POLICY_KEY = r"SOFTWARE\Policies\Cordon"
_MAX_POLICY_BYTES = 64 * 1024


def _check_owner(st: os.stat_result, path: Path, owner: int | None, what: str) -> None:
    if owner is None:  # Windows: stat() cannot see ACLs; the profile directory is private
        return
    if st.st_uid != owner:
        raise PolicyError(f"{what} {path} is not owned by uid {owner}; refusing to trust it")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise PolicyError(f"{what} {path} is writable by group or others; refusing to trust it")


def read_json_policy(path: Path, owner: int | None, source: str) -> dict[str, PolicyValue]:
    """Read a JSON policy file that must belong to ``owner`` (file and directory).

    The file is opened once with ``O_NOFOLLOW`` and checked through that
    descriptor, so it cannot be swapped between the check and the read.
    """
    try:
        dir_stat = path.parent.stat()
    except FileNotFoundError:
        return {}
    _check_owner(dir_stat, path.parent, owner, "policy directory")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise PolicyError(f"{source} {path} cannot be opened safely: {exc.strerror}") from exc
    with os.fdopen(fd, "rb") as handle:
        st = os.fstat(handle.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise PolicyError(f"{source} {path} is not a regular file")
        _check_owner(st, path, owner, source)
        data = handle.read(_MAX_POLICY_BYTES + 1)
    if len(data) > _MAX_POLICY_BYTES:
        raise PolicyError(f"{source} {path} is larger than {_MAX_POLICY_BYTES} bytes")
    try:
        raw = json.loads(_without_comment_lines(data.decode("utf-8")))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PolicyError(f"{source} {path} is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise PolicyError(f"{source} {path} must hold a JSON object")
    return validate_layer(raw, f"{source} {path}")


def _without_comment_lines(text: str) -> str:
    """Blank out whole lines starting with ``//`` (the commented template IT edits).

    Only whole lines: a JSON string cannot span lines, so such a line is never
    inside a value, and ``//`` within a value (a URL) is left alone. Blanking
    rather than deleting keeps the line numbers of JSON errors right.
    """
    return "\n".join("" if line.lstrip().startswith("//") else line for line in text.split("\n"))


class WinReg(Protocol):
    """The part of :mod:`winreg` the reader uses (injected in tests)."""

    HKEY_LOCAL_MACHINE: int
    KEY_READ: int
    KEY_WOW64_64KEY: int
    REG_DWORD: int
    REG_SZ: int

    def OpenKey(self, key: int, sub_key: str, reserved: int, access: int) -> Any: ...  # noqa: N802
    def EnumValue(self, key: Any, index: int) -> tuple[str, object, int]: ...  # noqa: N802
    def CloseKey(self, key: Any) -> None: ...  # noqa: N802


def _registry_value(name: str, value: object, reg_type: int, reg: WinReg) -> object:
    """Map a registry value to the schema's type: DWORD → bool/int, SZ → str."""
    key = KEYS.get(name)
    source = f"HKLM\\{WINDOWS_POLICY_KEY}\\{name}"
    if key is None:
        raise PolicyError(f"{source}: unknown policy key")
    if key.kind is str:
        if reg_type != reg.REG_SZ:
            raise PolicyError(f"{source} must be REG_SZ")
        return value
    if reg_type != reg.REG_DWORD or not isinstance(value, int):
        raise PolicyError(f"{source} must be REG_DWORD")
    if key.kind is bool:
        if value not in (0, 1):
            raise PolicyError(f"{source} must be 0 or 1")
        return bool(value)
    return value


def read_windows_policy(reg: WinReg) -> dict[str, PolicyValue]:
    """Read the machine policy from the 64-bit view of HKLM (a 32-bit Python sees it too)."""
    try:
        handle = reg.OpenKey(
            reg.HKEY_LOCAL_MACHINE, WINDOWS_POLICY_KEY, 0, reg.KEY_READ | reg.KEY_WOW64_64KEY
        )
    except FileNotFoundError:
        return {}
    raw: dict[str, object] = {}
    try:
        index = 0
        while True:
            try:
                name, value, reg_type = reg.EnumValue(handle, index)
            except OSError:
                break
            raw[name] = _registry_value(name, value, reg_type, reg)
            index += 1
    finally:
        reg.CloseKey(handle)
    return validate_layer(raw, f"HKLM\\{WINDOWS_POLICY_KEY}")


def user_policy_path(home: Path | None = None, platform: str = sys.platform) -> Path:
    """The annotator's own policy file (settings they may change if not locked)."""
    home = home or Path.home()
    if platform == "win32":
        appdata = Path(os.environ.get("APPDATA", home / "AppData" / "Roaming"))
        return appdata / "Cordon" / "policy.json"
    if platform == "darwin":
        return home / "Library" / "Application Support" / "Cordon" / "policy.json"
    config = os.environ.get("XDG_CONFIG_HOME") or str(home / ".config")
    return Path(config) / "cordon" / "policy.json"


def write_user_policy(values: Mapping[str, PolicyValue], path: Path | None = None) -> Path:
    """Save the annotator's choices (validated, never looser than the defaults), owner-only."""
    path = path or user_policy_path()
    validate_layer(values, f"user policy {path}")
    for name, value in values.items():
        if not KEYS[name].at_least_as_strict(value, KEYS[name].default):
            raise PolicyError(
                f"user policy {path}: {name}={value!r} would relax protection; "
                "only your organisation's policy can"
            )
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(dict(values), handle, indent=2, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)
    return path


MachineReader = Callable[[], dict[str, PolicyValue]]


def machine_reader(platform: str = sys.platform) -> MachineReader:
    """The machine-policy reader for this OS."""
    if platform == "win32":
        import winreg  # noqa: PLC0415 - Windows only

        return lambda: read_windows_policy(winreg)  # type: ignore[arg-type, unused-ignore]
    if platform == "darwin":
        from app.lockdown.policy_macos import (  # noqa: PLC0415 - macOS only
            CoreFoundationPreferences,
            read_managed_policy,
        )

        return lambda: read_managed_policy(CoreFoundationPreferences.load())
    return lambda: read_json_policy(LINUX_MACHINE_POLICY, 0, "machine policy")


def load_policy(
    machine: MachineReader | None = None,
    user_path: Path | None = None,
    user_owner: int | None = None,
) -> Policy:
    """The effective policy: machine > user > defaults. Raises :class:`PolicyError`."""
    machine_values = (machine or machine_reader())()
    owner = user_owner
    if owner is None and hasattr(os, "getuid"):
        owner = os.getuid()
    user_values = read_json_policy(user_path or user_policy_path(), owner, "user policy")
    return Policy.merge(machine_values, user_values)
