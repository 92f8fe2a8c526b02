"""The WiX source for Cordon's Windows package, generated from the policy schema.

Why generated: the MSI's public properties, the registry values they write
and the checks on them must stay in step with :data:`app.lockdown.policy.SCHEMA`
and with the reader in :mod:`app.lockdown.policy_sources`. A hand-kept ``.wxs``
would drift the day a key is added; this module has no list of its own.

What the source says (for ``wixl`` from msitools, which understands a subset
of WiX 3):

- **Per machine, 64-bit**: ``InstallScope="perMachine"`` (``ALLUSERS=1``),
  ``Win64="yes"`` on every component, files under ``ProgramFiles64Folder\\Cordon``,
  registry values in the 64-bit view the reader opens.
- **Major upgrades**: :data:`UPGRADE_CODE` never changes; every build gets a new
  ProductCode; ``<MajorUpgrade>`` makes a newer version remove the older one
  first and refuses a downgrade.
- **One public property per policy key**: ``server_url`` → ``SERVER_URL``
  (:func:`property_name`). Each writes ``HKLM\\SOFTWARE\\Policies\\Cordon\\<key>``
  (REG_DWORD for bool/int, REG_SZ for str) from its own component, whose
  condition is the bare property name: Windows Installer installs it only when
  the property has a value, so a key not given on the command line is absent,
  never an empty string or a zero. wixl cannot write component conditions
  (it rejects ``<Condition>`` under ``<Component>``), so
  :mod:`devtools.packaging.msi` sets the Component table's ``Condition``
  column after wixl, from :func:`component_conditions`.
- **Invalid values refuse the install**: a launch condition per key (the
  choices, 0/1, the number range; no text starting with ``#``, which Windows
  Installer would take for a number) fails ``msiexec`` with a message, rather
  than writing a policy Cordon would refuse to start with.
- **Policy survives upgrades and repairs**: each component also writes the
  property's text to :data:`REMEMBERED_KEY` (REG_SZ). On the next install,
  upgrade or repair, a RegistrySearch reads it into ``REMEMBERED_<PROP>`` and a
  custom action (type 51) copies it into ``<PROP>`` when the command line did
  not set it. Without this, an upgrade pushed without the original command
  line (or a repair, which rewrites registry values from the properties of
  *its* session) would drop or blank the locked keys. A key is removed only by
  uninstalling.
- Component GUIDs are derived from the file's path or the key's name
  (:func:`stable_guid`), so they stay the same across versions, as Windows
  Installer's reference counting requires.
"""

from __future__ import annotations

import hashlib
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from app.lockdown.policy import SCHEMA, PolicyKey
from app.lockdown.policy_sources import WINDOWS_POLICY_KEY

#: Cordon's UpgradeCode: the same for every version, forever. Windows Installer
#: finds the installed Cordon by it to replace it; changing it would leave two
#: Cordons installed side by side.
UPGRADE_CODE = "E69F2691-FEA3-428C-B50C-B4E9E20481DD"
#: Namespace for the component GUIDs derived from paths and key names.
COMPONENT_NAMESPACE = uuid.UUID("9eab30f0-fc41-4bd8-a072-c1207a146f18")
#: Where each component keeps the text it was installed with (64-bit view), so the
#: next install can carry it forward. Not under ``Policies``: Cordon does not read it.
REMEMBERED_KEY = r"SOFTWARE\Cordon\InstalledPolicy"
#: The keep actions' numbers in InstallExecuteSequence: after AppSearch (50), before
#: LaunchConditions (100) so a remembered value is checked like a given one.
KEEP_SEQUENCE_START = 51
MANUFACTURER = "Cordon"
#: The program's file name at the payload's root (PyInstaller's ``dist\\cordon``).
PROGRAM = "cordon.exe"
PROGRAM_FILE_ID = "CordonExe"
WIX_NS = "http://schemas.microsoft.com/wix/2006/wi"
#: Windows Installer's limit for a launch condition (LaunchCondition.Condition is s255).
_MAX_CONDITION = 255


def property_name(key: PolicyKey) -> str:
    """The public MSI property for a key: its name in capitals (``idle_lock_minutes`` →
    ``IDLE_LOCK_MINUTES``). Public properties must be upper case to be passed to
    the per-machine (elevated) part of the install from the command line."""
    return key.name.upper()


def remembered_property(key: PolicyKey) -> str:
    """The property AppSearch fills from :data:`REMEMBERED_KEY` for ``key``."""
    return f"REMEMBERED_{property_name(key)}"


def keep_action(key: PolicyKey) -> str:
    return f"Keep_{key.name}"


def keep_condition(key: PolicyKey) -> str:
    """Copy the remembered value only when the command line did not give one."""
    return f"NOT {property_name(key)} AND {remembered_property(key)}"


def component_id(key: PolicyKey) -> str:
    return f"Policy_{key.name}"


def stable_guid(label: str) -> str:
    """A GUID that depends only on ``label``: a component keeps it across versions."""
    return str(uuid.uuid5(COMPONENT_NAMESPACE, label)).upper()


def component_conditions() -> dict[str, str]:
    """Component → condition: a policy value is written only when its property is set.

    A bare property name is true for any value, ``0`` included, and false when
    the property is unset or was given as ``PROP=""``.
    """
    return {component_id(key): property_name(key) for key in SCHEMA}


def launch_condition(key: PolicyKey) -> str:
    """The condition a property's value must meet, or ``msiexec`` stops before writing anything.

    In these conditions a property whose value is an integer compares as one; a
    string never equals an integer, so ``"abc"`` fails every numeric test.
    """
    prop = property_name(key)
    if key.kind is bool:
        test = f"{prop} = 0 OR {prop} = 1"
    elif key.kind is int:
        # Condition literals are 16-bit: a key without bounds in that range needs
        # another check, so say so here rather than build a package without it.
        bounds = (key.minimum, key.maximum)
        if None in bounds or not all(-32767 <= b <= 32767 for b in bounds if b is not None):
            raise ValueError(f"policy key {key.name}: no bounds an MSI condition can check")
        test = f"{prop} >= {key.minimum} AND {prop} <= {key.maximum}"
    elif key.choices:
        test = " OR ".join(f'{prop} = "{choice}"' for choice in key.choices)
    else:  # any text; Cordon checks its length and meaning at start
        test = f'NOT ({prop} << "#")'
    condition = f"NOT {prop} OR ({test})"
    if len(condition) > _MAX_CONDITION:
        raise ValueError(f"launch condition for {key.name} is longer than {_MAX_CONDITION}")
    return condition


def launch_message(key: PolicyKey) -> str:
    prop = property_name(key)
    if key.kind is bool:
        return f"{prop} must be 0 or 1."
    if key.kind is int:
        return f"{prop} must be a whole number from {key.minimum} to {key.maximum}."
    if key.choices:
        return f"{prop} must be one of: {', '.join(key.choices)}."
    return f"{prop} must not start with #."


@dataclass(frozen=True)
class PayloadFile:
    """One file to install: its path under Program Files\\Cordon (and under the payload).

    wixl cannot take an absolute ``Source`` (GLib refuses it), so sources are
    relative and :func:`devtools.packaging.msi.build_msi` runs wixl in the payload.
    """

    relative: tuple[str, ...]


def harvest(payload: Path) -> list[PayloadFile]:
    """Every regular file under ``payload``, sorted, with ``cordon.exe`` at its root.

    Symbolic links are refused: the package must hold what the directory
    holds, not whatever a link points at on the build machine.
    """
    if not (payload / PROGRAM).is_file():
        raise ValueError(f"{payload} has no {PROGRAM} at its root")
    files: list[PayloadFile] = []
    for path in sorted(payload.rglob("*")):
        if path.is_symlink():
            raise ValueError(f"{path} is a symbolic link; the payload must be plain files")
        if path.is_file():
            files.append(PayloadFile(path.relative_to(payload).parts))
    return files


def _short_id(prefix: str, label: str) -> str:
    """A valid MSI identifier (≤ 72 characters) for any path."""
    return prefix + hashlib.sha256(label.encode()).hexdigest()[:24].upper()


def _element(parent: ET.Element, tag: str, **attributes: str) -> ET.Element:
    return ET.SubElement(parent, tag, attributes)


def _add_files(install_dir: ET.Element, files: list[PayloadFile]) -> list[str]:
    """Directories and one component per file (its key path); returns the component ids."""
    directories: dict[tuple[str, ...], ET.Element] = {(): install_dir}
    components: list[str] = []
    for item in files:
        *folders, name = item.relative
        for depth in range(1, len(folders) + 1):
            path = tuple(folders[:depth])
            if path not in directories:
                directories[path] = _element(
                    directories[path[:-1]],
                    "Directory",
                    Id=_short_id("D", "/".join(path)),
                    Name=path[-1],
                )
        label = "/".join(item.relative)
        is_program = item.relative == (PROGRAM,)
        comp_id = "CordonProgram" if is_program else _short_id("C", label)
        component = _element(
            directories[tuple(folders)],
            "Component",
            Id=comp_id,
            Guid=stable_guid(f"file:{label}"),
            Win64="yes",
        )
        _element(
            component,
            "File",
            Id=PROGRAM_FILE_ID if is_program else _short_id("F", label),
            Name=name,
            Source=label,
            KeyPath="yes",
        )
        if is_program:
            # Not advertised (a Shortcut under File would be): an advertised shortcut
            # starts a repair whenever a key path is missing, and a repair run
            # without the install's command line would rewrite the policy values
            # from empty properties.
            _element(
                component,
                "Shortcut",
                Id="CordonStartMenu",
                Directory="ProgramMenuFolder",
                Name="Cordon",
                Target=f"[#{PROGRAM_FILE_ID}]",
                WorkingDirectory="INSTALLDIR",
            )
        components.append(comp_id)
    return components


def _add_policy(root_dir: ET.Element) -> list[str]:
    """One component per key, writing the key's value from its property (see module doc)."""
    components: list[str] = []
    for key in SCHEMA:
        component = _element(
            root_dir,
            "Component",
            Id=component_id(key),
            Guid=stable_guid(f"policy:{key.name}"),
            Win64="yes",
        )
        _element(
            component,
            "RegistryValue",
            Root="HKLM",
            Key=WINDOWS_POLICY_KEY,
            Name=key.name,
            Type="string" if key.kind is str else "integer",
            Value=f"[{property_name(key)}]",
            KeyPath="yes",
        )
        _element(
            component,
            "RegistryValue",
            Root="HKLM",
            Key=REMEMBERED_KEY,
            Name=key.name,
            Type="string",
            Value=f"[{property_name(key)}]",
        )
        components.append(component_id(key))
    return components


def _add_memory(product: ET.Element) -> None:
    """RegistrySearch + type-51 custom action per key, and the upgrade's place in the sequence.

    The actions run right after AppSearch in the execute sequence (the one a
    silent install runs), before LaunchConditions checks the values and
    CostFinalize evaluates the component conditions. RemoveExistingProducts
    stays after InstallValidate (WiX's default): the older Cordon is removed
    before the newer one is written.
    """
    for key in SCHEMA:
        remembered = _element(product, "Property", Id=remembered_property(key))
        _element(
            remembered,
            "RegistrySearch",
            Id=f"Find_{key.name}",
            Root="HKLM",
            Key=REMEMBERED_KEY,
            Name=key.name,
            Type="raw",
            Win64="yes",
        )
        _element(
            product,
            "CustomAction",
            Id=keep_action(key),
            Property=property_name(key),
            Value=f"[{remembered_property(key)}]",
        )
    sequence = _element(product, "InstallExecuteSequence")
    # Explicit numbers: wixl scatters several actions that all say After="AppSearch".
    for number, key in enumerate(SCHEMA, start=KEEP_SEQUENCE_START):
        custom = _element(sequence, "Custom", Action=keep_action(key), Sequence=str(number))
        custom.text = keep_condition(key)
    _element(sequence, "RemoveExistingProducts", After="InstallValidate")


def msi_version(version: str) -> str:
    """Cordon's version as Windows Installer needs it: three numbers, 255.255.65535 at most.

    Major upgrades compare only these three fields, so a version that does not
    fit would silently fail to replace the installed one.
    """
    parts = version.split(".")
    limits = (255, 255, 65535)
    if len(parts) != 3 or not all(
        p.isdigit() and int(p) <= m for p, m in zip(parts, limits, strict=True)
    ):
        raise ValueError(f"version {version!r} is not major.minor.build within 255.255.65535")
    return version


def build_wxs(files: list[PayloadFile], version: str, placeholder: bool) -> str:
    """The complete ``.wxs`` text. ``placeholder`` names the package for what it is."""
    ET.register_namespace("", WIX_NS)
    wix = ET.Element("Wix", {"xmlns": WIX_NS})
    if placeholder:
        name = "Cordon (placeholder payload, not the Cordon program)"
        description = (
            "PLACEHOLDER build: installs a text file named cordon.exe, not Cordon. "
            "The real program is frozen with PyInstaller on Windows."
        )
    else:
        name = "Cordon"
        description = "Cordon: annotate sensitive speech without letting it leave the window."
    product = _element(
        wix,
        "Product",
        Id="*",
        Name=name,
        Language="1033",
        Version=msi_version(version),
        Manufacturer=MANUFACTURER,
        UpgradeCode=UPGRADE_CODE,
    )
    _element(
        product,
        "Package",
        InstallerVersion="500",
        Compressed="yes",
        InstallScope="perMachine",
        Description=description,
        Comments=description,
        Manufacturer=MANUFACTURER,
    )
    _element(product, "Media", Id="1", Cabinet="cordon.cab", EmbedCab="yes")
    _element(
        product,
        "MajorUpgrade",
        DowngradeErrorMessage="A newer version of Cordon is already installed.",
    )
    for key in SCHEMA:
        _element(product, "Condition", Message=launch_message(key)).text = launch_condition(key)
    _add_memory(product)
    target = _element(product, "Directory", Id="TARGETDIR", Name="SourceDir")
    program_files = _element(target, "Directory", Id="ProgramFiles64Folder")
    install_dir = _element(program_files, "Directory", Id="INSTALLDIR", Name="Cordon")
    _element(target, "Directory", Id="ProgramMenuFolder")
    components = _add_files(install_dir, files) + _add_policy(target)
    feature = _element(product, "Feature", Id="Cordon", Title="Cordon", Level="1")
    for comp in components:
        _element(feature, "ComponentRef", Id=comp)
    ET.indent(wix)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(wix, encoding="unicode") + "\n"


def property_table() -> str:
    """The Markdown table of properties for the installer's README, from the schema."""
    lines = [
        "| MSI property | Value in HKLM\\SOFTWARE\\Policies\\Cordon | Type | Allowed | Unset |",
        "|---|---|---|---|---|",
    ]
    for key in SCHEMA:
        if key.kind is bool:
            kind, allowed = "REG_DWORD", "0 or 1"
        elif key.kind is int:
            kind, allowed = "REG_DWORD", f"{key.minimum} to {key.maximum}"
        else:
            kind = "REG_SZ"
            allowed = ", ".join(f"`{c}`" for c in key.choices) or "text (not starting with #)"
        default = int(key.default) if isinstance(key.default, bool) else key.default
        unset = f"`{default}`" if default != "" else "empty"
        lines.append(f"| `{property_name(key)}` | `{key.name}` | {kind} | {allowed} | {unset} |")
    return "\n".join(lines) + "\n"
