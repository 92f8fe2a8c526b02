"""The on-prem PKI: a local CA and a server certificate, made at ``init``.

The client pins this CA explicitly (it never trusts the system store for the
Cordon server), so the CA only needs to be good for this server. The CA key is
kept 0600 next to the certificate so that a new server certificate can be
issued from it (delete ``server.pem`` and run ``init --name`` again).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from server.datadir import DataDir, write_secret

CA_DAYS = 3650
SERVER_DAYS = 397


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _san(names: Sequence[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


def create_ca(ca_cert: Path, ca_key: Path, common_name: str = "Cordon on-prem CA") -> None:
    """Create a self-signed CA (ECDSA P-256) usable only to sign server certificates."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    write_secret(ca_key, _key_pem(key))
    ca_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def issue_server_cert(
    ca_cert: Path, ca_key: Path, cert_out: Path, key_out: Path, names: Sequence[str]
) -> None:
    """Issue a TLS server certificate for ``names`` (DNS names or IP addresses)."""
    ca = x509.load_pem_x509_certificate(ca_cert.read_bytes())
    signer = serialization.load_pem_private_key(ca_key.read_bytes(), password=None)
    if not isinstance(signer, ec.EllipticCurvePrivateKey):
        raise TypeError("CA key must be an EC key")
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=SERVER_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_san(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()),
            critical=False,
        )
        .sign(signer, hashes.SHA256())
    )
    for path in (key_out, cert_out):
        path.unlink(missing_ok=True)
    write_secret(key_out, _key_pem(key))
    cert_out.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def ensure_pki(data: DataDir, names: Sequence[str]) -> None:
    """Create the CA once, and a server certificate for ``names`` if none exists yet."""
    if not data.ca_cert.exists():
        create_ca(data.ca_cert, data.ca_key)
    if not data.server_cert.exists():
        issue_server_cert(data.ca_cert, data.ca_key, data.server_cert, data.server_key, names)
