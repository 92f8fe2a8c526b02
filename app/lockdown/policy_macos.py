"""macOS managed preferences: policy pushed by a configuration profile (MDM).

Only values that ``CFPreferencesAppValueIsForced`` reports as forced count as
machine policy: an ordinary ``defaults write`` by the user is not forced and is
ignored here. CoreFoundation is called through ctypes with explicit argument
and result types (no PyObjC dependency); tests drive :func:`read_managed_policy`
with an injected fake that has the same function names.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Any, Protocol

from app.lockdown.policy import MAX_TEXT, SCHEMA, PolicyError, PolicyValue, validate_layer

MAC_DOMAIN = "io.cordon.client"
_UTF8 = 0x08000100  # kCFStringEncodingUTF8
_SINT64 = 4  # kCFNumberSInt64Type


class CoreFoundation(Protocol):
    """The CoreFoundation calls the reader makes (ctypes functions, or a fake)."""

    def CFStringCreateWithCString(self, alloc: Any, text: bytes, encoding: int) -> Any: ...  # noqa: N802
    def CFPreferencesCopyAppValue(self, key: Any, app: Any) -> Any: ...  # noqa: N802
    def CFPreferencesAppValueIsForced(self, key: Any, app: Any) -> bool: ...  # noqa: N802
    def CFGetTypeID(self, ref: Any) -> int: ...  # noqa: N802
    def CFBooleanGetTypeID(self) -> int: ...  # noqa: N802
    def CFNumberGetTypeID(self) -> int: ...  # noqa: N802
    def CFStringGetTypeID(self) -> int: ...  # noqa: N802
    def CFBooleanGetValue(self, ref: Any) -> bool: ...  # noqa: N802
    def CFNumberGetValue(self, ref: Any, kind: int, out: Any) -> bool: ...  # noqa: N802
    def CFStringGetCString(self, ref: Any, buf: Any, size: int, encoding: int) -> bool: ...  # noqa: N802
    def CFRelease(self, ref: Any) -> None: ...  # noqa: N802


class CoreFoundationPreferences:
    """Loads CoreFoundation and declares the prototypes (arm64 needs exact types)."""

    @staticmethod
    def load() -> CoreFoundation:
        path = ctypes.util.find_library("CoreFoundation")
        if path is None:
            raise PolicyError("CoreFoundation is not available; cannot read managed policy")
        cf = ctypes.CDLL(path)
        ref, boolean, index = ctypes.c_void_p, ctypes.c_bool, ctypes.c_ulong
        protos: dict[str, tuple[list[Any], Any]] = {
            "CFStringCreateWithCString": ([ref, ctypes.c_char_p, ctypes.c_uint32], ref),
            "CFPreferencesCopyAppValue": ([ref, ref], ref),
            "CFPreferencesAppValueIsForced": ([ref, ref], boolean),
            "CFGetTypeID": ([ref], index),
            "CFBooleanGetTypeID": ([], index),
            "CFNumberGetTypeID": ([], index),
            "CFStringGetTypeID": ([], index),
            "CFBooleanGetValue": ([ref], boolean),
            "CFNumberGetValue": ([ref, ctypes.c_long, ref], boolean),
            "CFStringGetCString": ([ref, ctypes.c_char_p, ctypes.c_long, ctypes.c_uint32], boolean),
            "CFRelease": ([ref], None),
        }
        for name, (argtypes, restype) in protos.items():
            fn = getattr(cf, name)
            fn.argtypes, fn.restype = argtypes, restype
        return cf  # type: ignore[return-value, unused-ignore]


def _to_python(cf: CoreFoundation, ref: Any, name: str) -> object:
    type_id = cf.CFGetTypeID(ref)
    if type_id == cf.CFBooleanGetTypeID():
        return bool(cf.CFBooleanGetValue(ref))
    if type_id == cf.CFNumberGetTypeID():
        out = ctypes.c_int64()
        if not cf.CFNumberGetValue(ref, _SINT64, ctypes.byref(out)):
            raise PolicyError(f"managed preference {name} is not an integer")
        return out.value
    if type_id == cf.CFStringGetTypeID():
        # Room for the longest text the schema allows, at UTF-8's widest per character.
        buf = ctypes.create_string_buffer(4 * MAX_TEXT + 1)
        if not cf.CFStringGetCString(ref, buf, len(buf), _UTF8):
            raise PolicyError(f"managed preference {name} is too long")
        return buf.value.decode("utf-8")
    raise PolicyError(f"managed preference {name} has an unsupported type")


def read_managed_policy(cf: CoreFoundation) -> dict[str, PolicyValue]:
    """Every schema key the profile forces, converted and validated."""
    app = cf.CFStringCreateWithCString(None, MAC_DOMAIN.encode(), _UTF8)
    raw: dict[str, object] = {}
    try:
        for key in SCHEMA:
            name = cf.CFStringCreateWithCString(None, key.name.encode(), _UTF8)
            try:
                if not cf.CFPreferencesAppValueIsForced(name, app):
                    continue
                ref = cf.CFPreferencesCopyAppValue(name, app)
                if not ref:
                    continue
                try:
                    raw[key.name] = _to_python(cf, ref, key.name)
                finally:
                    cf.CFRelease(ref)
            finally:
                cf.CFRelease(name)
    finally:
        cf.CFRelease(app)
    return validate_layer(raw, f"managed preferences {MAC_DOMAIN}")
