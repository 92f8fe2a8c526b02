"""The lockdown policy: one schema, three layers, admin values locked.

Every setting that weakens or strengthens protection is a :class:`PolicyKey`
with a type, a strict built-in default and a description (the settings dialog
and ``docs/security.md`` show the same text). Values come from, in order of
precedence: the machine policy an administrator deploys (``/etc/cordon``, the
Windows ``HKLM`` policy key, macOS managed preferences), the annotator's own
user policy, then the defaults. A key the machine sets is *locked*: the user
layer cannot override it and the UI shows it greyed out.

An invalid value anywhere is a :class:`PolicyError`, and the client refuses to
start with its message: running with a half-understood security policy would
be worse than not running.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

PolicyValue = bool | int | str


class PolicyError(Exception):
    """A policy source is unsafe or holds a value the schema does not allow."""


class Layer(StrEnum):
    DEFAULT = "default"
    USER = "user"
    MACHINE = "machine"


@dataclass(frozen=True)
class PolicyKey:
    """One setting: its name, type, strict default, allowed values and meaning."""

    name: str
    kind: type[bool] | type[int] | type[str]
    default: PolicyValue
    description: str
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None

    def validate(self, value: object, source: str) -> PolicyValue:
        """Return ``value`` if the schema allows it, else raise :class:`PolicyError`."""
        # bool is a subclass of int: check the exact type so ``true`` is never a number.
        if type(value) is not self.kind:
            raise PolicyError(
                f"{source}: {self.name} must be {self.kind.__name__}, not {type(value).__name__}"
            )
        if self.choices and value not in self.choices:
            raise PolicyError(f"{source}: {self.name} must be one of {', '.join(self.choices)}")
        if isinstance(value, int) and not isinstance(value, bool):
            low = self.minimum if self.minimum is not None else value
            high = self.maximum if self.maximum is not None else value
            if not low <= value <= high:
                raise PolicyError(f"{source}: {self.name} must be between {low} and {high}")
        return value  # type: ignore[return-value, unused-ignore]  # kind checked above


SCHEMA: tuple[PolicyKey, ...] = (
    PolicyKey(
        "unprotected_capture",
        str,
        "deter",
        "What to do where the OS cannot keep the window out of screenshots (Linux X11 "
        "and Wayland): 'refuse' to start, or 'deter' — run with curtain and watermark "
        "and audit that capture is unprotected.",
        choices=("refuse", "deter"),
    ),
    PolicyKey(
        "remote_session",
        str,
        "refuse",
        "Remote desktop or remote-controlled sessions: 'refuse' to start, or 'allow' "
        "(the remote viewer's machine can capture what it shows).",
        choices=("refuse", "allow"),
    ),
    PolicyKey(
        "in_app_clipboard",
        bool,
        False,
        "Let Copy and Cut in the transcript fill a private in-app buffer (never the "
        "system clipboard).",
    ),
    PolicyKey(
        "paste_into_editor",
        str,
        "in_app",
        "What Paste may insert into the transcript: 'none', 'in_app' (only the in-app "
        "buffer) or 'system' (also the system clipboard and drops).",
        choices=("none", "in_app", "system"),
    ),
    PolicyKey(
        "watermark_opacity",
        int,
        14,
        "Opacity of the watermark over sensitive views, in percent (0 hides it).",
        minimum=0,
        maximum=60,
    ),
    PolicyKey(
        "curtain_on_focus_loss",
        bool,
        True,
        "Cover sensitive views and pause audio whenever Cordon loses focus or is minimized.",
    ),
    PolicyKey(
        "idle_lock_minutes",
        int,
        10,
        "Minutes without keyboard or mouse input before Cordon locks, wipes decrypted "
        "audio and transcript from memory and asks for sign-in again.",
        minimum=1,
        maximum=240,
    ),
    PolicyKey(
        "screen_reader",
        bool,
        False,
        "Expose transcript and task text to screen readers and UI automation (which "
        "other programs can also read).",
    ),
)

KEYS: dict[str, PolicyKey] = {key.name: key for key in SCHEMA}


def validate_layer(raw: Mapping[str, Any], source: str) -> dict[str, PolicyValue]:
    """Check every entry of one source against the schema; unknown keys are errors too."""
    values: dict[str, PolicyValue] = {}
    for name, value in raw.items():
        key = KEYS.get(name)
        if key is None:
            raise PolicyError(f"{source}: unknown policy key {name!r}")
        values[name] = key.validate(value, source)
    return values


@dataclass(frozen=True)
class Policy:
    """The effective policy: one value per key, and where each came from."""

    values: Mapping[str, PolicyValue]
    origins: Mapping[str, Layer] = field(default_factory=dict)

    @classmethod
    def merge(cls, machine: Mapping[str, PolicyValue], user: Mapping[str, PolicyValue]) -> Policy:
        values: dict[str, PolicyValue] = {}
        origins: dict[str, Layer] = {}
        for key in SCHEMA:
            for layer, source in ((Layer.MACHINE, machine), (Layer.USER, user)):
                if key.name in source:
                    values[key.name], origins[key.name] = source[key.name], layer
                    break
            else:
                values[key.name], origins[key.name] = key.default, Layer.DEFAULT
        return cls(values, origins)

    @classmethod
    def defaults(cls) -> Policy:
        return cls.merge({}, {})

    def locked(self, name: str) -> bool:
        """True when the machine policy sets ``name``: the annotator cannot change it."""
        return self.origins.get(name) is Layer.MACHINE

    def _typed(self, name: str, kind: type) -> PolicyValue:
        value = self.values[name]
        if type(value) is not kind:
            raise TypeError(f"policy key {name} is {type(value).__name__}, not {kind.__name__}")
        return value

    def flag(self, name: str) -> bool:
        return bool(self._typed(name, bool))

    def number(self, name: str) -> int:
        return int(self._typed(name, int))

    def choice(self, name: str) -> str:
        return str(self._typed(name, str))
