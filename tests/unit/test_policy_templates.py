"""IT's policy templates: every key in each, and each one applied reads back the same.

"Applied" means what the OS does with the template: Group Policy writes the
registry values the ADMX describes, macOS forces the profile's payload keys in
the preference domain, the Linux file is read as it is. Cordon's own readers
then read those back. The values chosen differ from every default, so a template
that dropped a key or wrote the wrong type or value would fail.
"""

from __future__ import annotations

import json
import os
import plistlib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from app.lockdown import policy_macos
from app.lockdown.policy import MAX_TEXT, SCHEMA, PolicyError, PolicyKey, PolicyValue
from app.lockdown.policy_sources import WINDOWS_POLICY_KEY, read_json_policy, read_windows_policy
from devtools.packaging import policy_templates as templates
from tests.policy_fakes import FakeCoreFoundation, FakeWinReg

ROOT = Path(__file__).resolve().parents[2]
NS = {"pd": "http://schemas.microsoft.com/GroupPolicy/2006/07/PolicyDefinitions"}
TRICKY_TEXT = 'C:\\Program Files\\Cordon & "Co" <ä> https://x.example//y'


def _not_default(key: PolicyKey) -> PolicyValue:
    """A valid value other than the key's default."""
    if key.kind is bool:
        return not key.default
    if key.kind is int:
        return key.minimum if key.default != key.minimum else key.maximum  # type: ignore[return-value]
    if key.choices:
        return next(choice for choice in key.choices if choice != key.default)
    if key.name == "sso_scopes":
        return "x" * MAX_TEXT  # the longest text the schema allows
    return f"{TRICKY_TEXT} {key.name}"


def _xml(text: str) -> ET.Element:
    return ET.fromstring(text)  # noqa: S314 - the templates this repository generates


CHOSEN: dict[str, PolicyValue] = {key.name: _not_default(key) for key in SCHEMA}


def _apply_group_policy(admx: str, wanted: dict[str, PolicyValue]) -> list[tuple[str, object, int]]:
    """What the Group Policy client writes when each policy is Enabled with ``wanted``.

    Reads only the ADMX: its key, value names, element kinds and allowed items.
    """
    reg = FakeWinReg([])
    written: list[tuple[str, object, int]] = []
    root = _xml(admx)
    for policy in root.iterfind("pd:policies/pd:policy", NS):
        name = policy.attrib["name"]
        if name not in wanted:
            continue
        assert policy.attrib["class"] == "Machine"
        assert policy.attrib["key"] == WINDOWS_POLICY_KEY
        value = wanted[name]
        enabled = policy.find("pd:enabledValue/pd:decimal", NS)
        if enabled is not None:
            side = "pd:enabledValue/pd:decimal" if value else "pd:disabledValue/pd:decimal"
            decimal = policy.find(side, NS)
            assert decimal is not None
            written.append(
                (policy.attrib["valueName"], int(decimal.attrib["value"]), reg.REG_DWORD)
            )
            continue
        (element,) = list(policy.find("pd:elements", NS) or [])
        kind = element.tag.split("}")[1]
        if kind == "decimal":
            assert isinstance(value, int)
            assert int(element.attrib["minValue"]) <= value <= int(element.attrib["maxValue"])
            written.append((element.attrib["valueName"], value, reg.REG_DWORD))
        elif kind == "enum":
            items = [item.findtext("pd:value/pd:string", None, NS) for item in element]
            assert value in items, f"{name}: {value!r} is not offered"
            written.append((element.attrib["valueName"], value, reg.REG_SZ))
        else:
            assert kind == "text"
            assert isinstance(value, str) and len(value) <= int(element.attrib["maxLength"])
            written.append((element.attrib["valueName"], value, reg.REG_SZ))
    return written


def test_group_policy_applied_from_the_admx_reads_back_every_value() -> None:
    values = _apply_group_policy(templates.admx(), CHOSEN)
    assert len(values) == len(SCHEMA)
    assert read_windows_policy(FakeWinReg(values)) == CHOSEN
    # Not configured: nothing written, nothing read.
    some: dict[str, PolicyValue] = {"idle_lock_minutes": 3, "server_url": "https://cordon.corp"}
    assert read_windows_policy(FakeWinReg(_apply_group_policy(templates.admx(), some))) == some


def test_the_adml_resolves_every_string_and_control_of_the_admx() -> None:
    admx, adml = _xml(templates.admx()), _xml(templates.adml())
    strings = {s.attrib["id"]: s.text or "" for s in adml.iterfind(".//pd:string", NS)}
    presentations = {p.attrib["id"]: p for p in adml.iterfind(".//pd:presentation", NS)}
    text = templates.admx()
    for ref in {part.split(")")[0] for part in text.split("$(string.")[1:]}:
        assert ref in strings, ref
    for policy in admx.iterfind("pd:policies/pd:policy", NS):
        elements = policy.find("pd:elements", NS)
        if elements is None:
            continue
        presentation = presentations[policy.attrib["presentation"][len("$(presentation.") : -1]]
        refs = {control.attrib.get("refId") for control in presentation}
        assert {element.attrib["id"] for element in elements} <= refs
    names = [policy.attrib["name"] for policy in admx.iterfind("pd:policies/pd:policy", NS)]
    assert names == [key.name for key in SCHEMA]


def test_every_key_appears_with_its_type_default_and_description() -> None:
    adml = _xml(templates.adml())
    explain = {s.attrib["id"]: s.text or "" for s in adml.iterfind(".//pd:string", NS)}
    profile, linux = templates.mobileconfig(), templates.policy_json()
    for key in SCHEMA:
        facts = (key.description, templates.type_words(key), templates.default_words(key))
        for fact in facts:
            assert fact in explain[f"{key.name}_Explain"], (key.name, fact)
            assert fact in profile, (key.name, fact)
        assert templates.registry_type(key) in explain[f"{key.name}_Explain"]
        assert f"<key>{key.name}</key>" in profile
        comment = " ".join(
            line.strip()[3:] for line in linux.splitlines() if line.strip().startswith("//")
        )
        assert key.description in comment and templates.type_words(key) in comment
        assert f"{json.dumps(key.name)}: {json.dumps(key.default)}" in linux


def test_the_profile_forces_the_values_the_macos_reader_reads_back() -> None:
    profile = plistlib.loads(templates.mobileconfig(CHOSEN).encode("utf-8"))
    assert profile["PayloadType"] == "Configuration" and profile["PayloadScope"] == "System"
    (payload,) = [
        p for p in profile["PayloadContent"] if p["PayloadType"] == policy_macos.MAC_DOMAIN
    ]
    forced = {k: (v, True) for k, v in payload.items() if not k.startswith("Payload")}
    assert policy_macos.read_managed_policy(FakeCoreFoundation(forced)) == CHOSEN
    defaults = plistlib.loads(templates.mobileconfig().encode("utf-8"))["PayloadContent"][0]
    assert defaults["PayloadUUID"] == payload["PayloadUUID"]  # regenerated: replaces, not adds


def test_the_linux_file_reads_back_as_written(tmp_path: Path) -> None:
    policy_dir = tmp_path / "cordon"
    policy_dir.mkdir(mode=0o755)
    path = policy_dir / "policy.json"
    path.write_text(templates.policy_json(CHOSEN), encoding="utf-8")
    os.chmod(path, 0o644)
    assert read_json_policy(path, os.getuid(), "machine policy") == CHOSEN
    path.write_text(templates.policy_json(), encoding="utf-8")
    assert read_json_policy(path, os.getuid(), "machine policy") == {
        key.name: key.default for key in SCHEMA
    }


def test_a_template_refuses_values_the_schema_does_not_allow() -> None:
    with pytest.raises(PolicyError, match="between 1 and 240"):
        templates.policy_json({"idle_lock_minutes": 0})
    with pytest.raises(PolicyError, match="unknown policy key"):
        templates.mobileconfig({"server": "x"})


def test_the_committed_templates_are_the_generated_ones() -> None:
    """installer/policy/ is what IT downloads: regenerate it after a schema change."""
    for name, text in templates.templates().items():
        committed = ROOT / "installer" / "policy" / name
        assert committed.read_text(encoding="utf-8") == text, (
            f"{committed} is stale: python -m devtools.packaging.policy_templates "
            "--out installer/policy"
        )
