"""The Windows MSI, built here with the real wixl, read back with msiinfo, signed with osslsigncode.

No mocks of the tools: the package is built once per module with the
placeholder payload (PyInstaller cannot cross-compile), and every assertion is
on the tables Windows Installer will read. The round trip applies the Registry
table the way Windows Installer does (component condition, property
substitution, the ``#`` prefix that makes a REG_DWORD) to an in-memory
registry, then reads it with Cordon's own :func:`read_windows_policy`.
"""

from __future__ import annotations

import datetime
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from app import __version__
from app.lockdown.policy import SCHEMA, PolicyKey, PolicyValue
from app.lockdown.policy_sources import WINDOWS_POLICY_KEY, read_windows_policy
from devtools.packaging import msi_sign
from devtools.packaging.msi import PLACEHOLDER_TEXT
from devtools.packaging.msi_tables import (
    COMPONENT_64BIT,
    HKLM_ROOT,
    LOCATOR_64BIT,
    LOCATOR_RAW,
    InstalledRegistry,
    export,
    install,
)
from devtools.packaging.msi_wxs import (
    REMEMBERED_KEY,
    UPGRADE_CODE,
    harvest,
    keep_action,
    property_name,
    property_table,
    remembered_property,
)

ROOT = Path(__file__).resolve().parents[2]
BUILD_MSI = ROOT / "installer" / "build-msi"
COMPONENT_REGISTRY_KEYPATH = 0x4  # msidbComponentAttributesRegistryKeyPath


def _tools_present() -> None:
    missing = [t for t in ("wixl", "msiinfo", "msibuild", "osslsigncode") if not shutil.which(t)]
    # A missing tool is a failure, not a skip: these tests are the MSI's only proof.
    assert not missing, f"install Debian's wixl, msitools and osslsigncode: missing {missing}"


def _build(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {"CORDON_PYTHON": sys.executable, "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [str(BUILD_MSI), "--placeholder", "--out", str(out), *extra],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )


@dataclass(frozen=True)
class Built:
    msi: Path
    seconds: float
    size: int


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    _tools_present()
    out = tmp_path_factory.mktemp("msi") / "cordon.msi"
    started = time.monotonic()
    done = _build(out)
    seconds = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert "PLACEHOLDER payload" in done.stdout
    return Built(out, seconds, out.stat().st_size)


def properties(msi: Path) -> dict[str, str]:
    return {row["Property"]: row["Value"] for row in export(msi, "Property")}


# --- what the package declares -------------------------------------------------------------


def test_build_time_and_size_are_reported(built: Built) -> None:
    print(f"\nMSI (placeholder payload): {built.size} bytes, built in {built.seconds:.2f} s")  # noqa: T201
    assert 0 < built.size < 1_000_000
    assert built.seconds < 60


def test_per_machine_x64_with_the_fixed_upgrade_code_and_the_apps_version(built: Built) -> None:
    props = properties(built.msi)
    assert props["UpgradeCode"] == "{" + UPGRADE_CODE + "}"
    assert props["ProductVersion"] == __version__
    assert props["ALLUSERS"] == "1"
    assert re.fullmatch(r"\{[0-9A-F-]{36}\}", props["ProductCode"])
    summary = subprocess.run(
        ["msiinfo", "suminfo", str(built.msi)], capture_output=True, text=True, check=True
    ).stdout
    assert "Template: x64;1033" in summary


def test_the_placeholder_build_says_what_it_is(built: Built, tmp_path: Path) -> None:
    assert "placeholder" in properties(built.msi)["ProductName"].lower()
    summary = subprocess.run(
        ["msiinfo", "suminfo", str(built.msi)], capture_output=True, text=True, check=True
    ).stdout
    assert "PLACEHOLDER" in summary
    subprocess.run(
        ["msiextract", "-C", str(tmp_path), str(built.msi)], capture_output=True, check=True
    )
    (program,) = tmp_path.rglob("cordon.exe")
    assert program.read_bytes() == PLACEHOLDER_TEXT.encode("ascii")


def test_a_newer_version_replaces_an_older_one_and_no_downgrade(built: Built) -> None:
    rows = export(built.msi, "Upgrade")
    assert {row["UpgradeCode"] for row in rows} == {"{" + UPGRADE_CODE + "}"}
    older = next(row for row in rows if row["ActionProperty"] == "WIX_UPGRADE_DETECTED")
    assert older["VersionMax"] == __version__ and older["VersionMin"] == ""
    assert older["Attributes"] == "1"  # msidbUpgradeAttributesMigrateFeatures, not OnlyDetect
    newer = next(row for row in rows if row["ActionProperty"] == "WIX_DOWNGRADE_DETECTED")
    assert newer["VersionMin"] == __version__ and int(newer["Attributes"]) & 2  # OnlyDetect
    actions = {
        row["Action"]: int(row["Sequence"]) for row in export(built.msi, "InstallExecuteSequence")
    }
    assert actions["FindRelatedProducts"] < actions["RemoveExistingProducts"]
    conditions = {row["Condition"] for row in export(built.msi, "LaunchCondition")}
    assert "NOT WIX_DOWNGRADE_DETECTED" in conditions


def test_program_files_and_a_start_menu_shortcut(built: Built) -> None:
    directories = {row["Directory"]: row for row in export(built.msi, "Directory")}
    assert directories["INSTALLDIR"]["Directory_Parent"] == "ProgramFiles64Folder"
    assert directories["INSTALLDIR"]["DefaultDir"] == "Cordon"
    (shortcut,) = export(built.msi, "Shortcut")
    assert shortcut["Directory_"] == "ProgramMenuFolder"
    assert shortcut["Target"] == "[#CordonExe]"  # not advertised: no repair from the shortcut


def test_each_policy_key_is_a_conditional_64_bit_component_writing_hklm(built: Built) -> None:
    rows = export(built.msi, "Registry")
    policy = {row["Name"]: row for row in rows if row["Key"] == WINDOWS_POLICY_KEY}
    remembered = {row["Name"]: row for row in rows if row["Key"] == REMEMBERED_KEY}
    assert set(policy) == set(remembered) == {key.name for key in SCHEMA}
    assert len(rows) == 2 * len(SCHEMA)
    components = {row["Component"]: row for row in export(built.msi, "Component")}
    for key in SCHEMA:
        row, prop = policy[key.name], property_name(key)
        assert row["Root"] == HKLM_ROOT
        # "#[P]" formats to "#<n>": Windows Installer writes REG_DWORD <n>; "[P]" is REG_SZ.
        assert row["Value"] == (f"[{prop}]" if key.kind is str else f"#[{prop}]")
        # The same component keeps the text it was given, for the next install.
        assert remembered[key.name]["Value"] == f"[{prop}]"
        assert remembered[key.name]["Component_"] == row["Component_"]
        assert remembered[key.name]["Root"] == HKLM_ROOT
        component = components[row["Component_"]]
        assert component["Condition"] == prop
        attributes = int(component["Attributes"])
        assert attributes & COMPONENT_64BIT and attributes & COMPONENT_REGISTRY_KEYPATH
        assert component["KeyPath"] == row["Registry"]


def test_a_remembered_value_fills_a_property_the_command_line_left_unset(built: Built) -> None:
    locators = {row["Signature_"]: row for row in export(built.msi, "RegLocator")}
    searches = {
        row["Property"]: locators[row["Signature_"]] for row in export(built.msi, "AppSearch")
    }
    actions = {row["Action"]: row for row in export(built.msi, "CustomAction")}
    sequence = {row["Action"]: row for row in export(built.msi, "InstallExecuteSequence")}
    number = {action: int(row["Sequence"]) for action, row in sequence.items()}
    for key in SCHEMA:
        prop, memory = property_name(key), remembered_property(key)
        locator = searches[memory]
        assert (locator["Root"], locator["Key"], locator["Name"]) == (
            HKLM_ROOT,
            REMEMBERED_KEY,
            key.name,
        )
        assert int(locator["Type"]) == LOCATOR_RAW | LOCATOR_64BIT
        action = actions[keep_action(key)]
        assert int(action["Type"]) & 0x3F == 51
        assert (action["Source"], action["Target"]) == (prop, f"[{memory}]")
        assert sequence[keep_action(key)]["Condition"] == f"NOT {prop} AND {memory}"
        assert number["AppSearch"] < number[keep_action(key)] < number["LaunchConditions"]
    # The older Cordon goes before the newer one is written (what install() replays).
    assert (
        number["InstallValidate"] < number["RemoveExistingProducts"] < number["InstallInitialize"]
    )


def test_policy_properties_are_not_secure_and_have_no_default(built: Built) -> None:
    """Not secure: a standard user's repair cannot hand the elevated install new values."""
    props = properties(built.msi)
    secure = set(props.get("SecureCustomProperties", "").split(";"))
    for key in SCHEMA:
        assert property_name(key) not in secure
        # A default in the Property table would write the key on every install.
        assert property_name(key) not in props


def test_an_invalid_value_is_a_launch_condition_that_stops_the_install(built: Built) -> None:
    rows = export(built.msi, "LaunchCondition")
    by_prop = {row["Description"].split(" ")[0]: row["Condition"] for row in rows}
    for key in SCHEMA:
        prop = property_name(key)
        assert by_prop[prop].startswith(f"NOT {prop} OR (")
        if key.kind is bool:
            assert by_prop[prop] == f"NOT {prop} OR ({prop} = 0 OR {prop} = 1)"
        elif key.kind is int:
            assert f"{prop} >= {key.minimum}" in by_prop[prop]
            assert f"{prop} <= {key.maximum}" in by_prop[prop]
        elif key.choices:
            assert all(f'{prop} = "{choice}"' in by_prop[prop] for choice in key.choices)
        else:
            # Text starting with "#" would be written as a number.
            assert by_prop[prop] == f'NOT {prop} OR (NOT ({prop} << "#"))'


def test_a_frozen_app_directory_is_installed_as_it_is(tmp_path: Path) -> None:
    """PyInstaller's onedir layout: nested folders, long names with spaces, ProductName Cordon."""
    _tools_present()
    payload = tmp_path / "dist" / "cordon"
    files = {
        "cordon.exe": b"MZ stand-in",
        "_internal/python311.dll": b"dll",
        "_internal/PySide6/plugins/platforms/qwindows long name.dll": b"plugin",
    }
    for name, data in files.items():
        (payload / name).parent.mkdir(parents=True, exist_ok=True)
        (payload / name).write_bytes(data)
    out = tmp_path / "cordon.msi"
    done = subprocess.run(
        [str(BUILD_MSI), "--payload", str(payload), "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
        env={"CORDON_PYTHON": sys.executable, "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert "PLACEHOLDER" not in done.stdout
    assert properties(out)["ProductName"] == "Cordon"
    extracted = tmp_path / "extracted"
    subprocess.run(["msiextract", "-C", str(extracted), str(out)], capture_output=True, check=True)
    installed = {
        str(p.relative_to(extracted / "Cordon")): p.read_bytes()
        for p in extracted.rglob("*")
        if p.is_file()
    }
    assert installed == files


@pytest.mark.parametrize(
    ("problem", "message"), [("no program", r"has no cordon\.exe"), ("symlink", "symbolic link")]
)
def test_a_payload_that_is_not_plain_files_with_cordon_exe_is_refused(
    problem: str, message: str, tmp_path: Path
) -> None:
    payload = tmp_path / "payload"
    payload.mkdir()
    if problem == "symlink":
        (payload / "cordon.exe").write_bytes(b"MZ")
        (payload / "elsewhere.dll").symlink_to("/etc/hostname")
    with pytest.raises(ValueError, match=message):
        harvest(payload)


def test_the_readme_property_table_has_a_row_per_key() -> None:
    rows = property_table().splitlines()[2:]
    assert [row.split("`")[1] for row in rows] == [property_name(key) for key in SCHEMA]
    readme = (Path(__file__).resolve().parents[2] / "installer" / "README.md").read_text()
    assert property_table().strip() in readme, "installer/README.md: build-msi --property-table"


# --- the round trip: command line -> registry -> Cordon's reader ------------------------------


def _non_default(key: PolicyKey) -> tuple[str, PolicyValue]:
    """A valid value other than the default, and how it is written on the command line."""
    if key.kind is bool:
        return str(int(not key.default)), not key.default
    if key.kind is int:
        assert isinstance(key.default, int) and key.maximum is not None
        value = key.default + 1 if key.default < key.maximum else key.default - 1
        return str(value), value
    if key.choices:
        choice = next(c for c in key.choices if c != key.default)
        return choice, choice
    text = {
        "server_url": "https://cordon.example.org:8443",
        "sso_authority": "https://login.microsoftonline.com/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        "sso_scopes": "groups api://cordon/access",
    }.get(key.name, rf"C:\ProgramData\Cordon\{key.name} value.pem")
    return text, text


def _everything() -> tuple[dict[str, str], dict[str, PolicyValue]]:
    chosen = {key: _non_default(key) for key in SCHEMA}
    command_line = {property_name(k): text for k, (text, _) in chosen.items()}
    return command_line, {key.name: value for key, (_, value) in chosen.items()}


def test_every_key_set_on_the_command_line_reads_back_exactly(built: Built) -> None:
    command_line, expected = _everything()
    reg = install(built.msi, command_line)
    assert read_windows_policy(reg) == expected
    assert reg.views["32"] == {}


def test_keys_not_set_are_absent_and_false_is_a_value(built: Built) -> None:
    reg = install(
        built.msi,
        {"SERVER_URL": "https://cordon.example.org", "SCREEN_READER": "0", "SSO_PROVIDER": ""},
    )
    assert read_windows_policy(reg) == {
        "server_url": "https://cordon.example.org",
        "screen_reader": False,
    }
    values = reg.views["64"][WINDOWS_POLICY_KEY.lower()]
    assert values["screen_reader"] == (0, reg.REG_DWORD)
    assert values["server_url"] == ("https://cordon.example.org", reg.REG_SZ)


def test_nothing_set_writes_no_policy_key_at_all(built: Built) -> None:
    reg = install(built.msi, {})
    assert reg.views == {"64": {}, "32": {}}
    assert read_windows_policy(reg) == {}


def test_an_upgrade_or_repair_without_the_command_line_keeps_the_policy(built: Built) -> None:
    command_line, expected = _everything()
    first = install(built.msi, command_line)
    again = install(built.msi, {}, before=first)
    assert read_windows_policy(again) == expected
    assert again.views == first.views


def test_an_upgrade_changes_only_what_its_command_line_sets(built: Built) -> None:
    first = install(built.msi, {"SERVER_URL": "https://old.example.org", "IDLE_LOCK_MINUTES": "5"})
    second = install(built.msi, {"SERVER_URL": "https://new.example.org"}, before=first)
    assert read_windows_policy(second) == {
        "server_url": "https://new.example.org",
        "idle_lock_minutes": 5,
    }
    third = install(built.msi, {}, before=second)
    assert read_windows_policy(third) == read_windows_policy(second)


def test_the_remembered_copy_is_not_read_as_policy(built: Built) -> None:
    reg = install(built.msi, {"WATERMARK_OPACITY": "30"})
    assert reg.read("64", REMEMBERED_KEY, "watermark_opacity") == ("30", reg.REG_SZ)
    assert read_windows_policy(reg) == {"watermark_opacity": 30}
    empty = InstalledRegistry()
    empty.write("64", REMEMBERED_KEY, "watermark_opacity", "30", empty.REG_SZ)
    assert read_windows_policy(empty) == {}


# --- Authenticode --------------------------------------------------------------------------


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


@dataclass(frozen=True)
class Signer:
    ca: Path
    cert: Path
    key: Path


def _code_signing_pki(directory: Path, label: str) -> Signer:
    """A test CA and a leaf with the codeSigning EKU, as PEM files."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name(f"Cordon test code-signing CA {label}"))
        .issuer_name(_name(f"Cordon test code-signing CA {label}"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("Cordon test publisher"))
        .issuer_name(ca.subject)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    signer = Signer(
        directory / f"ca-{label}.pem",
        directory / f"leaf-{label}.pem",
        directory / f"leaf-{label}.key",
    )
    signer.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    signer.cert.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    signer.key.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return signer


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Signer]:
    """One command: build, sign (SHA-256, chain attached, no timestamp) and verify."""
    _tools_present()
    directory = tmp_path_factory.mktemp("signed")
    signer = _code_signing_pki(directory, "a")
    out = directory / "cordon.msi"
    done = _build(
        out,
        "--sign-cert", str(signer.cert),
        "--sign-key", str(signer.key),
        "--sign-chain", str(signer.ca),
        "--verify-ca", str(signer.ca),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "signature: verified" in done.stdout
    assert sorted(p.name for p in directory.iterdir() if p.suffix == ".msi") == ["cordon.msi"]
    return out, signer


def test_the_signed_msi_verifies_against_its_ca(signed: tuple[Path, Signer]) -> None:
    msi, signer = signed
    result = msi_sign.verify(msi, signer.ca)
    assert result.ok, result.output
    assert "SHA256" in result.output.upper().replace("-", "")
    assert "Cordon test publisher" in result.output
    assert "Calculated MsiDigitalSignatureEx" in result.output


def test_a_flipped_byte_breaks_the_signature(signed: tuple[Path, Signer], tmp_path: Path) -> None:
    msi, signer = signed
    cab = tmp_path / "cordon.cab"
    subprocess.run(
        ["msiinfo", "extract", str(msi), "cordon.cab"], stdout=cab.open("wb"), check=True
    )
    data = bytearray(msi.read_bytes())
    # The first 64 bytes of a stream are contiguous in the file (one mini-sector).
    offset = data.find(cab.read_bytes()[:48])
    assert offset > 0
    data[offset + 40] ^= 0x01
    tampered = tmp_path / "tampered.msi"
    tampered.write_bytes(bytes(data))
    result = msi_sign.verify(tampered, signer.ca)
    assert not result.ok, result.output


def test_an_unsigned_msi_does_not_verify(built: Built, tmp_path: Path) -> None:
    signer = _code_signing_pki(tmp_path, "u")
    result = msi_sign.verify(built.msi, signer.ca)
    assert not result.ok, result.output


def test_a_signature_from_another_ca_does_not_verify(
    signed: tuple[Path, Signer], tmp_path: Path
) -> None:
    msi, _ = signed
    other = _code_signing_pki(tmp_path, "other")
    result = msi_sign.verify(msi, other.ca)
    assert not result.ok, result.output
