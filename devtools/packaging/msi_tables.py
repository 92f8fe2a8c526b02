"""Read an MSI's tables (``msiinfo``) and play its registry part the way Windows Installer would.

Why: the MSI is built on Linux and Windows is not at hand, so the proof that
``msiexec /i cordon.msi /qn SERVER_URL=…`` leaves the registry Cordon's
reader expects is a faithful replay of the tables, limited to what the package
uses, and strict about the rest (an unexpected condition form raises rather
than being guessed at):

1. AppSearch: each RegLocator (raw, 64-bit view when its type says so) fills
   its property from the registry left by an earlier install: REG_SZ as is
   (a leading ``#`` doubled), REG_DWORD as ``#<n>``.
2. The type-51 custom actions between AppSearch and CostFinalize, in sequence
   order, under conditions of the form ``NOT A AND B``.
3. RemoveExistingProducts before InstallInitialize: the older Cordon's values
   are gone before the new ones are written (the replay starts from an
   empty registry).
4. WriteRegistryValues: for each component whose condition (a bare property
   name: set to anything, ``0`` included) holds, its Registry rows, formatted
   (``[PROP]`` → the value, empty when unset) and typed by the prefix: ``#<n>``
   REG_DWORD, ``##`` a literal ``#``, anything else REG_SZ.

Launch conditions are not evaluated here: the tests check their text.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from pathlib import Path

HKLM_ROOT = "2"  # the Registry and RegLocator tables' code for HKEY_LOCAL_MACHINE
COMPONENT_64BIT = 0x100  # msidbComponentAttributes64bit
LOCATOR_RAW = 0x2  # msidbLocatorTypeRawValue
LOCATOR_64BIT = 0x10  # msidbLocatorType64bit
CUSTOM_ACTION_SET_PROPERTY = 51  # type 51: set a property from formatted text
_PROPERTY = r"[A-Za-z_][A-Za-z0-9_.]*"


def export(msi: Path, table: str) -> list[dict[str, str]]:
    """A table's rows as dicts, from ``msiinfo export`` (names, types, key line, then rows)."""
    done = subprocess.run(
        ["msiinfo", "export", str(msi), table], capture_output=True, text=True, check=True
    )
    lines = done.stdout.splitlines()
    columns = lines[0].split("\t")
    return [dict(zip(columns, line.split("\t"), strict=True)) for line in lines[3:]]


class InstalledRegistry:
    """HKLM as Windows Installer leaves it, with the ``winreg`` calls Cordon's reader makes.

    Values of 64-bit components land in the 64-bit view, others in the
    32-bit (WOW6432Node) view: opening without ``KEY_WOW64_64KEY`` does not
    see them.
    """

    HKEY_LOCAL_MACHINE = 0x80000002
    KEY_READ = 0x20019
    KEY_WOW64_64KEY = 0x0100
    REG_SZ = 1
    REG_DWORD = 4

    def __init__(self) -> None:
        self.views: dict[str, dict[str, dict[str, tuple[object, int]]]] = {"64": {}, "32": {}}

    def write(self, view: str, key: str, name: str, value: object, reg_type: int) -> None:
        self.views[view].setdefault(key.lower(), {})[name] = (value, reg_type)

    def read(self, view: str, key: str, name: str) -> tuple[object, int] | None:
        return self.views[view].get(key.lower(), {}).get(name)

    def OpenKey(self, key: int, sub_key: str, reserved: int, access: int) -> str:  # noqa: N802
        if key != self.HKEY_LOCAL_MACHINE:
            raise FileNotFoundError(sub_key)
        view = "64" if access & self.KEY_WOW64_64KEY else "32"
        if sub_key.lower() not in self.views[view]:
            raise FileNotFoundError(sub_key)
        return f"{view}:{sub_key.lower()}"

    def EnumValue(self, key: str, index: int) -> tuple[str, object, int]:  # noqa: N802
        view, sub_key = key.split(":", 1)
        items = list(self.views[view][sub_key].items())
        if index >= len(items):
            raise OSError("no more data")
        name, (value, reg_type) = items[index]
        return name, value, reg_type

    def CloseKey(self, key: str) -> None:  # noqa: N802
        pass


def format_text(value: str, props: Mapping[str, str]) -> str:
    """MSI formatted text: ``[NAME]`` is the property's value, empty when unset."""
    return re.sub(rf"\[({_PROPERTY})\]", lambda m: props.get(m.group(1), ""), value)


def registry_data(formatted: str) -> tuple[object, int]:
    """The Registry Value prefixes: ``#<n>`` REG_DWORD, ``##`` a literal ``#``, else REG_SZ."""
    if formatted.startswith("##"):
        return formatted[1:], InstalledRegistry.REG_SZ
    if formatted.startswith("#"):
        # Only an integer makes a DWORD; int() raises on anything else.
        return int(formatted[1:]), InstalledRegistry.REG_DWORD
    return formatted, InstalledRegistry.REG_SZ


def _app_search(msi: Path, before: InstalledRegistry, props: dict[str, str]) -> None:
    locators = {row["Signature_"]: row for row in export(msi, "RegLocator")}
    for row in export(msi, "AppSearch"):
        locator = locators[row["Signature_"]]
        kind = int(locator["Type"])
        if locator["Root"] != HKLM_ROOT or not kind & LOCATOR_RAW:
            raise ValueError(f"unexpected RegLocator {locator}")
        view = "64" if kind & LOCATOR_64BIT else "32"
        found = before.read(view, locator["Key"], locator["Name"])
        if found is None:
            continue
        value, reg_type = found
        text = str(value)
        if reg_type == InstalledRegistry.REG_DWORD:
            props[row["Property"]] = f"#{text}"
        else:
            props[row["Property"]] = f"#{text}" if text.startswith("#") else text


def _condition_holds(condition: str, props: Mapping[str, str]) -> bool:
    match = re.fullmatch(rf"NOT ({_PROPERTY}) AND ({_PROPERTY})", condition)
    if match is None:
        raise ValueError(f"condition not understood by the replay: {condition!r}")
    return match.group(1) not in props and match.group(2) in props


def _set_property_actions(msi: Path, props: dict[str, str]) -> None:
    """Run the type-51 actions between AppSearch and CostFinalize, in sequence order."""
    sequence = sorted(export(msi, "InstallExecuteSequence"), key=lambda r: int(r["Sequence"]))
    numbers = {row["Action"]: int(row["Sequence"]) for row in sequence}
    actions = {row["Action"]: row for row in export(msi, "CustomAction")}
    for row in sequence:
        if not numbers["AppSearch"] < int(row["Sequence"]) < numbers["CostFinalize"]:
            continue
        action = actions.get(row["Action"])
        if action is None:
            continue
        if int(action["Type"]) & 0x3F != CUSTOM_ACTION_SET_PROPERTY:
            raise ValueError(f"unexpected custom action {action}")
        if _condition_holds(row["Condition"], props):
            text = format_text(action["Target"], props)
            if text:
                props[action["Source"]] = text
            else:
                props.pop(action["Source"], None)


def install(
    msi: Path, command_line: Mapping[str, str], before: InstalledRegistry | None = None
) -> InstalledRegistry:
    """The registry after ``msiexec /i msi PROP=value …`` on a machine left as ``before``."""
    # msiexec PROP="" leaves a property unset, like not naming it.
    props = {name: value for name, value in command_line.items() if value != ""}
    _app_search(msi, before or InstalledRegistry(), props)
    _set_property_actions(msi, props)
    components = {row["Component"]: row for row in export(msi, "Component")}
    after = InstalledRegistry()
    for row in export(msi, "Registry"):
        component = components[row["Component_"]]
        condition = component["Condition"]
        if condition and not re.fullmatch(_PROPERTY, condition):
            raise ValueError(f"component condition not understood: {condition!r}")
        if condition and condition not in props:
            continue
        if row["Root"] != HKLM_ROOT:
            raise ValueError(f"unexpected registry root {row['Root']}")
        value, reg_type = registry_data(format_text(row["Value"], props))
        view = "64" if int(component["Attributes"]) & COMPONENT_64BIT else "32"
        after.write(view, row["Key"], row["Name"], value, reg_type)
    return after
