"""Policy templates for IT, generated from the one schema in :mod:`app.lockdown.policy`.

Cordon reads its machine policy from three places (see
:mod:`app.lockdown.policy_sources`): ``HKLM\\SOFTWARE\\Policies\\Cordon`` on
Windows, the managed preferences domain ``io.cordon.client`` on macOS and
``/etc/cordon/policy.json`` on Linux. IT writes those with the tools it already
runs — Group Policy or Intune (ADMX + ADML), an MDM's configuration profile
(``.mobileconfig``), a configuration-management tool (the JSON file) — so each
gets a template here. They are generated, never hand-written: a key added to the
schema appears in every template with its type, default and description, and
the tests apply each template and read it back with Cordon's own readers.

``python -m devtools.packaging.policy_templates --out DIR`` writes them;
``installer/policy/`` holds the committed copy IT downloads.
"""

from __future__ import annotations

import argparse
import json
import plistlib
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from xml.sax.saxutils import escape

from app import __version__
from app.lockdown.policy import MAX_TEXT, SCHEMA, PolicyKey, PolicyValue, validate_layer
from app.lockdown.policy_macos import MAC_DOMAIN
from app.lockdown.policy_sources import LINUX_MACHINE_POLICY, WINDOWS_POLICY_KEY

ADMX_NAME = "cordon.admx"
ADML_NAME = "en-US/cordon.adml"
PROFILE_NAME = "cordon.mobileconfig"
JSON_NAME = "policy.json"
_PD_NS = "http://schemas.microsoft.com/GroupPolicy/2006/07/PolicyDefinitions"
#: Stable identifiers: a regenerated profile replaces the installed one instead of adding one.
_PROFILE_NS = uuid.UUID("5d1d7a5e-3c4f-4e55-9b3e-0c0000000001")
_SUPPORTED = "SUPPORTED_CORDON_0_1"

#: Group Policy categories: the keys a security team sets together.
_CATEGORIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "Lockdown",
        "Capture, clipboard and screen protection",
        (
            "unprotected_capture",
            "remote_session",
            "in_app_clipboard",
            "paste_into_editor",
            "watermark_opacity",
            "curtain_on_focus_loss",
            "idle_lock_minutes",
            "screen_reader",
        ),
    ),
    ("Server", "Server and workstation enrolment", ("server_url", "server_ca_file")),
    (
        "SignIn",
        "Single sign-on",
        (
            "sso_provider",
            "sso_authority",
            "sso_kind",
            "sso_client_id",
            "sso_scopes",
            "sso_ca_file",
            "enrolment_secret_file",
        ),
    ),
    ("Updates", "Signed updates", ("update_root_file", "update_install")),
)


def category_of(key: PolicyKey) -> str:
    """The Group Policy category a key is listed under (every key has one)."""
    for name, _title, keys in _CATEGORIES:
        if key.name in keys:
            return name
    raise KeyError(f"policy key {key.name} has no category in the templates")


def registry_type(key: PolicyKey) -> str:
    """The registry type Cordon's Windows reader expects for the key."""
    return "REG_SZ" if key.kind is str else "REG_DWORD"


def type_words(key: PolicyKey) -> str:
    """The key's type as IT reads it in every template."""
    if key.kind is bool:
        return "boolean"
    if key.kind is int:
        return f"integer {key.minimum} to {key.maximum}"
    if key.choices:
        return "one of " + ", ".join(key.choices)
    return "text"


def default_words(key: PolicyKey) -> str:
    """The built-in default, as written in every template."""
    if key.kind is bool:
        return "true" if key.default else "false"
    if key.kind is int:
        return str(key.default)
    return json.dumps(key.default)


def _explain(key: PolicyKey) -> str:
    scope = (
        "Machine policy only: a user's own setting of it is ignored."
        if key.machine_only
        else "Not configured: the annotator may only make it stricter than the default."
    )
    return (
        f"{key.description}\n\nType: {type_words(key)}. Default: {default_words(key)}. "
        f"{scope}\n\nRegistry: HKLM\\{WINDOWS_POLICY_KEY}\\{key.name} ({registry_type(key)})."
    )


def _title(key: PolicyKey) -> str:
    return key.name.replace("_", " ").capitalize()


def admx() -> str:
    """The ADMX: one machine policy per key, under HKLM\\SOFTWARE\\Policies\\Cordon.

    Booleans are enabled/disabled policies writing 1/0; numbers a decimal box
    with the schema's bounds; choices a drop-down writing the exact string;
    texts a text box. A policy set to *Disabled* or *Not configured* leaves the
    value absent (booleans: Disabled writes 0), so the default applies.
    """
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<policyDefinitions revision="1.0" schemaVersion="1.0" xmlns="{_PD_NS}">',
        "  <policyNamespaces>",
        '    <target prefix="cordon" namespace="Cordon.Policies.Cordon"/>',
        "  </policyNamespaces>",
        '  <resources minRequiredRevision="1.0"/>',
        "  <supportedOn>",
        "    <definitions>",
        f'      <definition name="{_SUPPORTED}" displayName="$(string.{_SUPPORTED})"/>',
        "    </definitions>",
        "  </supportedOn>",
        "  <categories>",
        '    <category name="Cordon" displayName="$(string.Cordon)"/>',
    ]
    for name, _title_text, _keys in _CATEGORIES:
        lines += [
            f'    <category name="{name}" displayName="$(string.Category_{name})">',
            '      <parentCategory ref="Cordon"/>',
            "    </category>",
        ]
    lines += ["  </categories>", "  <policies>"]
    for key in SCHEMA:
        lines += _admx_policy(key)
    lines += ["  </policies>", "</policyDefinitions>", ""]
    return "\n".join(lines)


def _admx_policy(key: PolicyKey) -> list[str]:
    head = (
        f'    <policy name="{key.name}" class="Machine" displayName="$(string.{key.name})" '
        f'explainText="$(string.{key.name}_Explain)" key="{WINDOWS_POLICY_KEY}"'
    )
    parent = [
        f'      <parentCategory ref="{category_of(key)}"/>',
        f'      <supportedOn ref="{_SUPPORTED}"/>',
    ]
    if key.kind is bool:
        return [
            f'{head} valueName="{key.name}">',
            *parent,
            '      <enabledValue><decimal value="1"/></enabledValue>',
            '      <disabledValue><decimal value="0"/></disabledValue>',
            "    </policy>",
        ]
    lines = [f'{head} presentation="$(presentation.{key.name})">', *parent, "      <elements>"]
    if key.kind is int:
        lines.append(
            f'        <decimal id="{key.name}" valueName="{key.name}" required="true" '
            f'minValue="{key.minimum}" maxValue="{key.maximum}"/>'
        )
    elif key.choices:
        lines.append(f'        <enum id="{key.name}" valueName="{key.name}" required="true">')
        for choice in key.choices:
            lines += [
                f'          <item displayName="$(string.{key.name}__{choice})">',
                f"            <value><string>{escape(choice)}</string></value>",
                "          </item>",
            ]
        lines.append("        </enum>")
    else:
        lines.append(
            f'        <text id="{key.name}" valueName="{key.name}" required="true" '
            f'maxLength="{MAX_TEXT}"/>'
        )
    return [*lines, "      </elements>", "    </policy>"]


def adml() -> str:
    """The English ADML: every display name, explanation and control of the ADMX."""
    strings: list[tuple[str, str]] = [
        ("Cordon", "Cordon"),
        (_SUPPORTED, f"Cordon {__version__} and later"),
    ]
    strings += [(f"Category_{name}", title) for name, title, _keys in _CATEGORIES]
    presentations: list[str] = []
    for key in SCHEMA:
        strings += [(key.name, _title(key)), (f"{key.name}_Explain", _explain(key))]
        strings += [(f"{key.name}__{choice}", choice) for choice in key.choices]
        presentations += _adml_presentation(key)
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<policyDefinitionResources revision="1.0" schemaVersion="1.0" xmlns="{_PD_NS}">',
        "  <displayName>Cordon</displayName>",
        "  <description>Machine policy for the Cordon annotation client.</description>",
        "  <resources>",
        "    <stringTable>",
        *(f'      <string id="{sid}">{escape(text)}</string>' for sid, text in strings),
        "    </stringTable>",
        "    <presentationTable>",
        *presentations,
        "    </presentationTable>",
        "  </resources>",
        "</policyDefinitionResources>",
        "",
    ]
    return "\n".join(lines)


def _adml_presentation(key: PolicyKey) -> list[str]:
    if key.kind is bool:
        return []
    label = escape(_title(key))
    if key.kind is int:
        control = (
            f'<decimalTextBox refId="{key.name}" defaultValue="{key.default}">'
            f"{label}</decimalTextBox>"
        )
    elif key.choices:
        index = key.choices.index(str(key.default))
        control = (
            f'<dropdownList refId="{key.name}" noSort="true" defaultItem="{index}">'
            f"{label}</dropdownList>"
        )
    else:
        control = (
            f'<textBox refId="{key.name}"><label>{label}</label>'
            f"<defaultValue>{escape(str(key.default))}</defaultValue></textBox>"
        )
    return [
        f'      <presentation id="{key.name}">',
        f"        {control}",
        "      </presentation>",
    ]


def mobileconfig(values: Mapping[str, PolicyValue] | None = None) -> str:
    """A configuration profile forcing ``values`` (default: every key at its default).

    macOS turns a payload whose ``PayloadType`` is the preference domain into
    forced managed preferences of that domain — the only values Cordon's macOS
    reader trusts. Each key is preceded by a comment with its type, default and
    description; IT deletes the keys it leaves to the annotator.
    """
    chosen = _values(values)
    payload: dict[str, object] = {
        "PayloadType": MAC_DOMAIN,
        "PayloadIdentifier": f"{MAC_DOMAIN}.policy",
        "PayloadUUID": str(uuid.uuid5(_PROFILE_NS, "payload")).upper(),
        "PayloadVersion": 1,
        "PayloadDisplayName": "Cordon machine policy",
        **chosen,
    }
    profile = {
        "PayloadContent": [payload],
        "PayloadDescription": "Locks Cordon's machine policy (generated from Cordon's schema).",
        "PayloadDisplayName": "Cordon",
        "PayloadIdentifier": "io.cordon.profile",
        "PayloadScope": "System",
        "PayloadType": "Configuration",
        "PayloadUUID": str(uuid.uuid5(_PROFILE_NS, "profile")).upper(),
        "PayloadVersion": 1,
    }
    text = plistlib.dumps(profile, sort_keys=False).decode("utf-8")
    for key in SCHEMA:
        if key.name not in chosen:
            continue
        marker = f"\t\t\t<key>{key.name}</key>\n"
        note = _comment(key).replace("--", "—")  # "--" may not occur inside an XML comment
        text = text.replace(marker, f"\t\t\t<!-- {note} -->\n{marker}", 1)
    return text


def policy_json(values: Mapping[str, PolicyValue] | None = None) -> str:
    """``/etc/cordon/policy.json``: ``values`` (default: every key at its default), commented.

    Cordon's Linux reader skips whole lines starting with ``//``; every key the
    file names is locked for everyone on the machine. IT deletes the lines of
    keys it leaves to the annotator (and the comma before the closing brace).
    """
    chosen = _values(values)
    lines = [
        f"// Cordon machine policy: {LINUX_MACHINE_POLICY} (root:root, 0644, in a root-owned",
        "// directory writable by nobody else, or Cordon refuses to start).",
        "// Every key named here is locked; keys not named keep their defaults and the",
        "// annotator may make them stricter. Generated from Cordon's policy schema.",
        "{",
    ]
    names = [key for key in SCHEMA if key.name in chosen]
    for index, key in enumerate(names):
        comma = "," if index < len(names) - 1 else ""
        lines += [f"  // {line}" for line in _comment(key).splitlines()] + [
            f"  {json.dumps(key.name)}: {json.dumps(chosen[key.name])}{comma}"
        ]
    lines += ["}", ""]
    return "\n".join(lines)


def _comment(key: PolicyKey) -> str:
    return (
        f"{key.name} ({type_words(key)}; default {default_words(key)}"
        f"{'; machine policy only' if key.machine_only else ''}):\n{key.description}"
    )


def _values(values: Mapping[str, PolicyValue] | None) -> dict[str, PolicyValue]:
    if values is None:
        return {key.name: key.default for key in SCHEMA}
    return validate_layer(values, "template values")


def templates() -> dict[str, str]:
    """Every template by its file name (relative to the output directory)."""
    return {
        ADMX_NAME: admx(),
        ADML_NAME: adml(),
        PROFILE_NAME: mobileconfig(),
        JSON_NAME: policy_json(),
    }


def write(out: Path) -> list[Path]:
    """Write every template under ``out``; returns the paths written."""
    written: list[Path] = []
    for name, text in templates().items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="policy-templates", description="Write Cordon's machine-policy templates for IT."
    )
    parser.add_argument("--out", type=Path, required=True, help="directory to write them to")
    args = parser.parse_args(argv)
    for path in write(args.out):
        print(path)  # noqa: T201 - the command's output
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
