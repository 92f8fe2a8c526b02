"""An export sealed to its recipient: HPKE to their public key, then Cordon's segment format.

Exports are where data leaves Cordon, so by default nobody but the named
recipient can read one: the archive is encrypted under a fresh data key
(chunked AES-256-GCM, the format of the server's blobs), and that key is
wrapped to the recipient's public key with the same HPKE suite as key grants
(ML-KEM-768 + X25519, HKDF-SHA256, AES-256-GCM), with the export id, project
and creation time bound in ``info``. A recipient makes their key pair with
``cordon-server recipient keygen`` and keeps the private half; only the public half
(``*.pub``) is handed to the data owner.

File layout: ``MAGIC``, one JSON header line (ids, times, the recipient key's
fingerprint, the wrapped key), then the encrypted archive. The header holds no
content.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag

from app.crypto.device_keys import DeviceKeyPair, load_public_key, public_key_fingerprint
from app.crypto.errors import CryptoError
from app.crypto.fields import encode_fields
from app.crypto.key_grant import SUITE
from app.crypto.key_wrap import new_key
from app.crypto.segment_format import SegmentDecryptor, encrypt_stream

MAGIC = b"CORDON-EXPORT-1\n"
PUBLIC_LABEL = "cordon-export-recipient-v1"
PRIVATE_LABEL = "cordon-export-recipient-private-v1"
_INFO = b"cordon/v1/export-key\x00"
_MAX_HEADER = 4096


class RecipientKeyError(ValueError):
    """Not a Cordon export recipient key (wrong type, damaged, or a private key)."""

    code = "recipient_key_invalid"


class SealedExportError(ValueError):
    """The file is not a Cordon export, is damaged, or is not for this key."""

    code = "export_unreadable"


def _info(export_id: str, project_id: str, created_at: int) -> bytes:
    return _INFO + encode_fields(export_id, project_id, str(created_at))


def write_key_pair(stem: Path) -> tuple[Path, Path]:
    """Make a recipient key pair: ``stem.key`` (private, 0600) and ``stem.pub``."""
    pair = DeviceKeyPair.generate()
    private, public = stem.with_suffix(".key"), stem.with_suffix(".pub")
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(f"{PRIVATE_LABEL}\n{base64.b64encode(pair.private_bytes()).decode()}\n")
    public.write_text(f"{PUBLIC_LABEL}\n{base64.b64encode(pair.public_bytes()).decode()}\n")
    return private, public


def _read(path: Path, label: str) -> bytes:
    try:
        text = path.read_text("ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipientKeyError(f"{path.name}: not a Cordon export key file") from exc
    lines = text.split()
    if len(lines) != 2 or lines[0] != label:
        if lines and lines[0] == PRIVATE_LABEL:
            raise RecipientKeyError(f"{path.name} is a private key: give the recipient's .pub")
        raise RecipientKeyError(f"{path.name}: not a Cordon export key ({label})")
    try:
        return base64.b64decode(lines[1], validate=True)
    except binascii.Error as exc:
        raise RecipientKeyError(f"{path.name}: damaged key") from exc


def read_public_key(path: Path) -> bytes:
    """A recipient's public key, checked to be one (refused: any other key type)."""
    raw = _read(path, PUBLIC_LABEL)
    try:
        load_public_key(raw)
    except ValueError as exc:
        raise RecipientKeyError(f"{path.name}: not an ML-KEM-768 + X25519 public key") from exc
    return raw


def read_private_key(path: Path) -> DeviceKeyPair:
    raw = _read(path, PRIVATE_LABEL)
    try:
        return DeviceKeyPair.from_private_bytes(raw)
    except ValueError as exc:
        raise RecipientKeyError(f"{path.name}: damaged private key") from exc


@dataclass(frozen=True)
class ExportHeader:
    export_id: str
    project_id: str
    created_at: int
    recipient: str  # the public key's fingerprint
    wrapped_key: str  # base64


def seal(
    archive: bytes, sink: BinaryIO, public_key: bytes, *, export_id: str, project_id: str,
    created_at: int,
) -> ExportHeader:  # fmt: skip
    """Write ``archive`` encrypted to ``public_key`` into ``sink``."""
    data_key = new_key()
    wrapped = SUITE.encrypt(
        data_key, load_public_key(public_key), info=_info(export_id, project_id, created_at)
    )
    header = ExportHeader(
        export_id, project_id, created_at, public_key_fingerprint(public_key),
        base64.b64encode(wrapped).decode("ascii"),
    )  # fmt: skip
    sink.write(MAGIC)
    sink.write(json.dumps(header.__dict__, sort_keys=True).encode() + b"\n")
    encrypt_stream(
        data_key, io.BytesIO(archive), sink, project_id=project_id, segment_id=export_id,
        plaintext_length=len(archive),
    )  # fmt: skip
    return header


def open_sealed(source: BinaryIO, pair: DeviceKeyPair) -> tuple[ExportHeader, bytearray]:
    """The header and the archive of a sealed export (for the recipient)."""
    if source.read(len(MAGIC)) != MAGIC:
        raise SealedExportError("not a Cordon export")
    line = source.readline(_MAX_HEADER)
    try:
        header = ExportHeader(**json.loads(line))
        wrapped = base64.b64decode(header.wrapped_key, validate=True)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise SealedExportError("the export's header is damaged") from exc
    if header.recipient != public_key_fingerprint(pair.public_bytes()):
        raise SealedExportError("this export was sealed to another recipient's key")
    try:
        data_key = SUITE.decrypt(
            wrapped, pair.private_key,
            info=_info(header.export_id, header.project_id, header.created_at),
        )  # fmt: skip
    except (InvalidTag, ValueError) as exc:
        raise SealedExportError("the export's key does not open with this private key") from exc
    holder: list[bytearray] = []

    def allocate(size: int) -> memoryview:
        holder.append(bytearray(size))
        return memoryview(holder[0])

    decryptor = SegmentDecryptor(
        data_key, project_id=header.project_id, segment_id=header.export_id, allocate=allocate
    )
    try:
        while piece := source.read(1 << 20):
            decryptor.feed(piece)
        decryptor.finish()
    except (CryptoError, ValueError) as exc:
        raise SealedExportError("the export is damaged or was changed") from exc
    return header, holder[0] if holder else bytearray()
