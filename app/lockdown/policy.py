"""The lockdown policy: one schema, three layers, admin values locked.

Every setting that weakens or strengthens protection is a :class:`PolicyKey`
with a type, a strict built-in default, a description (the settings dialog
and ``docs/security.md`` show the same text) and the direction that is
stricter. Values come from, in order of precedence: the machine policy an
administrator deploys (``/etc/cordon``, the Windows ``HKLM`` policy key, macOS
managed preferences), the annotator's own user policy, then the defaults. A key
the machine sets is *locked*: the user layer cannot override it and the UI
shows it greyed out. A key it does not set, the user may only *tighten*: a user
value looser than the default is ignored (and logged), so only the machine
policy ever relaxes protection.

Some keys are not about strictness but about whom to trust — the identity
provider to sign in with. They are ``stricter="machine"``: only the machine
policy sets them, a user value for them is ignored (and logged), and the
settings dialog does not offer them.

An invalid value anywhere is a :class:`PolicyError`, and the client refuses to
start with its message: running with a half-understood security policy would
be worse than not running.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

logger = logging.getLogger(__name__)

PolicyValue = bool | int | str
MAX_TEXT = 2048


class PolicyError(Exception):
    """A policy source is unsafe or holds a value the schema does not allow."""


class Layer(StrEnum):
    DEFAULT = "default"
    USER = "user"
    MACHINE = "machine"


@dataclass(frozen=True)
class PolicyKey:
    """One setting: its name, type, strict default, allowed values, meaning and strict side.

    ``stricter`` says which way protection grows: ``"true"``/``"false"`` for a
    flag, ``"higher"``/``"lower"`` for a number, ``"earlier"`` for choices listed
    from the strictest to the loosest; ``"machine"`` for a text only the machine
    policy may set (no order: a user cannot tighten whom Cordon trusts).
    """

    name: str
    kind: type[bool] | type[int] | type[str]
    default: PolicyValue
    description: str
    stricter: str
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None

    def __post_init__(self) -> None:
        allowed = {bool: ("true", "false"), int: ("higher", "lower"), str: ("earlier", "machine")}
        if self.stricter not in allowed[self.kind]:
            raise ValueError(f"policy key {self.name}: stricter={self.stricter!r}")

    def strictness(self, value: PolicyValue) -> int:
        """An order on the values: a larger number is stricter."""
        if self.stricter == "true":
            return int(bool(value))
        if self.stricter == "false":
            return int(not value)
        if self.stricter == "higher":
            return int(value)
        if self.stricter == "lower":
            return -int(value)
        if self.stricter == "machine":
            raise ValueError(f"policy key {self.name} is set by the machine policy only")
        return -self.choices.index(str(value))

    @property
    def machine_only(self) -> bool:
        return self.stricter == "machine"

    def at_least_as_strict(self, value: PolicyValue, than: PolicyValue) -> bool:
        return self.strictness(value) >= self.strictness(than)

    def validate(self, value: object, source: str) -> PolicyValue:
        """Return ``value`` if the schema allows it, else raise :class:`PolicyError`."""
        # bool is a subclass of int: check the exact type so ``true`` is never a number.
        if type(value) is not self.kind:
            raise PolicyError(
                f"{source}: {self.name} must be {self.kind.__name__}, not {type(value).__name__}"
            )
        if isinstance(value, str) and len(value) > MAX_TEXT:
            raise PolicyError(f"{source}: {self.name} is longer than {MAX_TEXT} characters")
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
        stricter="earlier",
        choices=("refuse", "deter"),
    ),
    PolicyKey(
        "remote_session",
        str,
        "refuse",
        "Remote desktop or remote-controlled sessions: 'refuse' to start, or 'allow' "
        "(the remote viewer's machine can capture what it shows).",
        stricter="earlier",
        choices=("refuse", "allow"),
    ),
    PolicyKey(
        "in_app_clipboard",
        bool,
        False,
        "Let Copy and Cut in the transcript fill a private in-app buffer (never the "
        "system clipboard).",
        stricter="false",
    ),
    PolicyKey(
        "paste_into_editor",
        str,
        "in_app",
        "What Paste may insert into the transcript: 'none', 'in_app' (only the in-app "
        "buffer) or 'system' (also the system clipboard and drops).",
        stricter="earlier",
        choices=("none", "in_app", "system"),
    ),
    PolicyKey(
        "watermark_opacity",
        int,
        14,
        "Opacity of the watermark over sensitive views, in percent (0 hides it).",
        stricter="higher",
        minimum=0,
        maximum=60,
    ),
    PolicyKey(
        "curtain_on_focus_loss",
        bool,
        True,
        "Cover sensitive views and pause audio whenever Cordon loses focus or is minimized.",
        stricter="true",
    ),
    PolicyKey(
        "idle_lock_minutes",
        int,
        10,
        "Minutes without keyboard or mouse input before Cordon locks, wipes decrypted "
        "audio and transcript from memory and asks for sign-in again.",
        stricter="lower",
        minimum=1,
        maximum=240,
    ),
    PolicyKey(
        "screen_reader",
        bool,
        False,
        "Expose transcript and task text to screen readers and UI automation (which "
        "other programs can also read).",
        stricter="false",
    ),
    # Whom to sign in with: the organisation's identity provider (machine policy only).
    PolicyKey(
        "sso_provider",
        str,
        "",
        "The name the Cordon server knows the identity provider by (cordon-server idp add). "
        "Empty: no single sign-on (only a demo server can sign anyone in).",
        stricter="machine",
    ),
    PolicyKey(
        "sso_authority",
        str,
        "",
        "The provider's authority: https://login.microsoftonline.com/<tenant> for Entra ID, "
        "or the issuer URL of any OpenID Connect provider (it needs a path segment).",
        stricter="machine",
    ),
    PolicyKey(
        "sso_kind",
        str,
        "oidc",
        "'entra' for an Entra ID tenant authority, 'oidc' for any other OpenID Connect issuer.",
        stricter="machine",
        choices=("oidc", "entra"),
    ),
    PolicyKey(
        "sso_client_id",
        str,
        "",
        "Cordon's client (application) id at the provider; the server checks tokens for it.",
        stricter="machine",
    ),
    PolicyKey(
        "sso_scopes",
        str,
        "",
        "Extra scopes to ask for, separated by spaces (openid, profile and offline_access "
        "are always asked for), e.g. 'groups' or 'api://cordon/access'.",
        stricter="machine",
    ),
    PolicyKey(
        "enrolment_secret_file",
        str,
        "",
        "File holding the enrolment secret IT deployed with the installer (made by "
        "cordon-server device policy with a new secret): the workstation is approved at once "
        "and counted as managed. Empty: an administrator approves it, if the server asks.",
        stricter="machine",
    ),
    # Which server to talk to, and which signed updates to take (machine policy only).
    PolicyKey(
        "server_url",
        str,
        "",
        "https://host:port of the organisation's Cordon server. Set: Cordon connects only "
        "there and refuses another server named on its command line. Empty: the command line "
        "names it.",
        stricter="machine",
    ),
    PolicyKey(
        "server_ca_file",
        str,
        "",
        "PEM file of the on-prem CA that signs the Cordon server's certificate, pinned for "
        "every request. Empty: the command line names it.",
        stricter="machine",
    ),
    PolicyKey(
        "update_root_file",
        str,
        "",
        "The trusted TUF root.json shipped with the installer (cordon-server updates init); "
        "Cordon checks the server for signed updates at start and daily. Empty: no checks.",
        stricter="machine",
    ),
    PolicyKey(
        "update_install",
        str,
        "ask",
        "What to do with a verified update: 'ask' the person signed in, hand it to the "
        "operating system's installer 'automatic'ally, or 'never' (report it only).",
        stricter="machine",
        choices=("ask", "automatic", "never"),
    ),
    PolicyKey(
        "sso_ca_file",
        str,
        "",
        "PEM file of the CA that signs the provider's TLS certificate, pinned for every "
        "request to it. Empty: the operating system's trusted CAs.",
        stricter="machine",
    ),
)

KEYS: dict[str, PolicyKey] = {key.name: key for key in SCHEMA}
#: The keys an annotator may see and tighten (the settings dialog's).
USER_KEYS: tuple[PolicyKey, ...] = tuple(key for key in SCHEMA if not key.machine_only)


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
    #: User values that would have relaxed protection, and were therefore ignored.
    ignored: Mapping[str, PolicyValue] = field(default_factory=dict)

    @classmethod
    def merge(cls, machine: Mapping[str, PolicyValue], user: Mapping[str, PolicyValue]) -> Policy:
        values: dict[str, PolicyValue] = {}
        origins: dict[str, Layer] = {}
        ignored: dict[str, PolicyValue] = {}
        for key in SCHEMA:
            if key.name in machine:
                values[key.name], origins[key.name] = machine[key.name], Layer.MACHINE
                continue
            values[key.name], origins[key.name] = key.default, Layer.DEFAULT
            if key.name not in user:
                continue
            if key.machine_only:
                ignored[key.name] = user[key.name]
                logger.warning("user policy %s is for the machine policy only; ignored", key.name)
            elif key.at_least_as_strict(user[key.name], key.default):
                values[key.name], origins[key.name] = user[key.name], Layer.USER
            else:
                ignored[key.name] = user[key.name]
                logger.warning("user policy %s would relax protection; ignored", key.name)
        return cls(values, origins, ignored)

    @classmethod
    def defaults(cls) -> Policy:
        return cls.merge({}, {})

    def locked(self, name: str) -> bool:
        """True when the machine policy sets ``name``: the annotator cannot change it."""
        return self.origins.get(name) is Layer.MACHINE

    def allows(self, name: str, value: PolicyValue) -> bool:
        """May the annotator choose ``value``? Never for a locked key; never looser than default."""
        key = KEYS[name]
        if key.machine_only or self.locked(name):
            return False
        return key.at_least_as_strict(value, key.default)

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
