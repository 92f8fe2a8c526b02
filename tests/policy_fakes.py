"""Fakes for the OS boundaries the policy readers cross: winreg and CoreFoundation.

Only these two are faked (there is no Windows registry or macOS CoreFoundation
on Linux); the readers under them are Cordon's real code.
"""

from __future__ import annotations

import ctypes
from typing import Any

from app.lockdown import policy_macos


class FakeWinReg:
    """Just enough of winreg: records how the key was opened."""

    HKEY_LOCAL_MACHINE = 0x80000002
    KEY_READ = 0x20019
    KEY_WOW64_64KEY = 0x0100
    REG_SZ = 1
    REG_DWORD = 4

    def __init__(self, values: list[tuple[str, object, int]] | None) -> None:
        self.values = values
        self.opened: list[tuple[int, str, int]] = []
        self.closed = 0

    def OpenKey(self, key: int, sub_key: str, reserved: int, access: int) -> str:  # noqa: N802
        if self.values is None:
            raise FileNotFoundError(sub_key)
        self.opened.append((key, sub_key, access))
        return "handle"

    def EnumValue(self, key: str, index: int) -> tuple[str, object, int]:  # noqa: N802
        assert self.values is not None
        if index >= len(self.values):
            raise OSError("no more data")
        return self.values[index]

    def CloseKey(self, key: str) -> None:  # noqa: N802
        self.closed += 1


class FakeCoreFoundation:
    """CoreFoundation calls as Python functions: strings are bytes, refs are ints."""

    BOOL, NUMBER, STRING = 21, 22, 7

    def __init__(self, prefs: dict[str, tuple[object, bool]]) -> None:
        self.prefs = prefs
        self.objects: dict[int, object] = {}
        self.released: list[int] = []

    def _new(self, value: object) -> int:
        ref = 1000 + len(self.objects)
        self.objects[ref] = value
        return ref

    def CFStringCreateWithCString(self, alloc: Any, text: bytes, encoding: int) -> int:  # noqa: N802
        return self._new(text.decode())

    def CFPreferencesAppValueIsForced(self, key: int, app: int) -> bool:  # noqa: N802
        assert self.objects[app] == policy_macos.MAC_DOMAIN
        return self.prefs.get(str(self.objects[key]), (None, False))[1]

    def CFPreferencesCopyAppValue(self, key: int, app: int) -> int | None:  # noqa: N802
        entry = self.prefs.get(str(self.objects[key]))
        return None if entry is None else self._new(entry[0])

    def CFGetTypeID(self, ref: int) -> int:  # noqa: N802
        value = self.objects[ref]
        if isinstance(value, bool):
            return self.BOOL
        return self.NUMBER if isinstance(value, int) else self.STRING

    def CFBooleanGetTypeID(self) -> int:  # noqa: N802
        return self.BOOL

    def CFNumberGetTypeID(self) -> int:  # noqa: N802
        return self.NUMBER

    def CFStringGetTypeID(self) -> int:  # noqa: N802
        return self.STRING

    def CFBooleanGetValue(self, ref: int) -> bool:  # noqa: N802
        return bool(self.objects[ref])

    def CFNumberGetValue(self, ref: int, kind: int, out: Any) -> bool:  # noqa: N802
        ctypes.cast(out, ctypes.POINTER(ctypes.c_int64))[0] = int(self.objects[ref])  # type: ignore[call-overload]
        return True

    def CFStringGetCString(self, ref: int, buf: Any, size: int, encoding: int) -> bool:  # noqa: N802
        data = str(self.objects[ref]).encode()
        buf.value = data
        return len(data) < size

    def CFRelease(self, ref: int) -> None:  # noqa: N802
        self.released.append(ref)
