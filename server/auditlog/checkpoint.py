"""Signed checkpoints for the Cordon audit log, in the C2SP signed-note format.

A checkpoint is the server's signed claim "the audit log named <origin> has <size> entries and
this Merkle root". Auditors keep the checkpoints they have seen and use Merkle proofs to hold
the server to them, so a checkpoint must be unambiguous to parse and impossible to alter
without breaking its signature.

The encoding follows transparency-dev/formats `log/README.md` for the body and
golang.org/x/mod/sumdb/note (the C2SP signed-note spec) for the envelope, so Cordon checkpoints
can be checked with standard transparency tooling (witnesses, the Go `note` package):

    <origin>\\n<decimal size>\\n<base64 root hash>\\n[extension lines]
    \\n
    — <key name> <base64(4-byte key hash || 64-byte Ed25519 signature)>\\n

Parsing is deliberately strict: anything the reference implementation would not produce is
rejected, because a lenient parser lets two different byte strings mean the same checkpoint.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "MAX_SIGNATURES",
    "BadSignatureError",
    "Checkpoint",
    "CheckpointError",
    "MalformedNoteError",
    "NoteSigner",
    "NoteVerifier",
    "UnknownSignerError",
    "WrongOriginError",
    "open_checkpoint",
    "open_note",
    "parse_verifier_key",
]

MAX_SIGNATURES = 100
"""Notes with more signature lines are rejected, as the reference implementation does."""

_ALG_ED25519 = 0x01
_ED25519_SIGNATURE_SIZE = 64
_ROOT_HASH_SIZE = 32
_KEY_HASH_SIZE = 4
_MAX_TREE_SIZE = 2**64 - 1
_SIGNATURE_PREFIX = "\u2014 "  # EM DASH, SPACE
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_HEX8 = re.compile(r"[0-9a-fA-F]{8}")


class CheckpointError(Exception):
    """A signed checkpoint was rejected; subclasses say why, the message says where."""


class MalformedNoteError(CheckpointError):
    """The note or checkpoint body does not follow the format byte for byte."""


class UnknownSignerError(CheckpointError):
    """No signature line is from the trusted key, so the note proves nothing."""


class BadSignatureError(CheckpointError):
    """A signature line claims to be from the trusted key but does not verify."""


class WrongOriginError(CheckpointError):
    """The checkpoint is genuine but for another log; accepting it would mix up two logs."""


def _has_forbidden_chars(text: str) -> bool:
    """Signed notes must be UTF-8 without ASCII controls other than newline (sumdb/note).

    Lone surrogates (undecodable input smuggled through a str) count as forbidden too.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return any(ch < " " and ch != "\n" for ch in text)


def _is_valid_key_name(name: str) -> bool:
    """Key names must be non-empty with no whitespace and no '+', which delimits vkey fields."""
    return bool(name) and "+" not in name and not any(ch.isspace() for ch in name)


def _check_key_name(name: str) -> None:
    """Fail early on a key name the note format cannot carry unambiguously."""
    if not _is_valid_key_name(name) or _has_forbidden_chars(name):
        raise ValueError(f"invalid note key name {name!r}: need non-empty, no whitespace, no '+'")


def _b64decode_strict(value: str) -> bytes:
    """Standard base64 with padding, rejecting any encoding that is not the canonical one.

    Python's decoder accepts non-zero padding bits, which would give a second spelling of
    the same root hash; re-encoding and comparing closes that gap. Raises ValueError.
    """
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error) as exc:
        raise ValueError(f"invalid base64 {value!r}") from exc
    if base64.b64encode(raw).decode("ascii") != value:
        raise ValueError(f"non-canonical base64 {value!r}")
    return raw


def _key_hash(name: str, algorithm_and_key: bytes) -> bytes:
    """First 4 bytes of SHA-256(name || "\\n" || alg || key): the key id carried on signatures."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + algorithm_and_key).digest()
    return digest[:_KEY_HASH_SIZE]


def _check_text_lines(text: str, what: str) -> None:
    """Signed text is one or more non-empty, newline-terminated lines; raise ValueError if not."""
    if _has_forbidden_chars(text):
        raise ValueError(f"{what} contains control characters or invalid Unicode")
    if not text.endswith("\n"):
        raise ValueError(f"{what} must end with a newline")
    if "" in text[:-1].split("\n"):
        raise ValueError(f"{what} must not contain empty lines")


@dataclass(frozen=True)
class Checkpoint:
    """One signed claim about the log: its origin, its size and the Merkle root at that size.

    `extensions` holds optional extra body lines; keeping them (rather than dropping them)
    means body() reproduces exactly the bytes that were signed.
    """

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Refuse to represent a checkpoint whose body() could not be parsed back identically."""
        for line in (self.origin, *self.extensions):
            if not line or "\n" in line or _has_forbidden_chars(line):
                raise ValueError(f"invalid checkpoint line {line!r}")
        if not 0 <= self.size <= _MAX_TREE_SIZE:
            raise ValueError(f"checkpoint size {self.size} out of range")
        if len(self.root_hash) != _ROOT_HASH_SIZE:
            raise ValueError(f"checkpoint root hash must be {_ROOT_HASH_SIZE} bytes")

    def body(self) -> str:
        """The exact text that gets signed, trailing newline included."""
        root = base64.b64encode(self.root_hash).decode("ascii")
        lines = [self.origin, str(self.size), root, *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse_body(cls, text: str) -> Checkpoint:
        """Parse a checkpoint body strictly, so each checkpoint has exactly one encoding.

        Raises MalformedNoteError for anything body() would not have produced.
        """
        try:
            _check_text_lines(text, "checkpoint body")
        except ValueError as exc:
            raise MalformedNoteError(str(exc)) from exc
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise MalformedNoteError("checkpoint body needs origin, size and root hash lines")
        origin, size_text, root_text, *extensions = lines
        return cls(origin, _parse_size(size_text), _parse_root(root_text), tuple(extensions))


def _parse_size(text: str) -> int:
    """ASCII decimal without sign or leading zeros; int() would also take '+7', '0_7', non-ASCII."""
    if not _DECIMAL.fullmatch(text):
        raise MalformedNoteError(f"checkpoint size {text!r} is not a canonical decimal")
    size = int(text)
    if size > _MAX_TREE_SIZE:
        raise MalformedNoteError(f"checkpoint size {text} exceeds 64 bits")
    return size


def _parse_root(text: str) -> bytes:
    """Canonical standard base64 of exactly one SHA-256 digest."""
    try:
        root = _b64decode_strict(text)
    except ValueError as exc:
        raise MalformedNoteError(f"checkpoint root hash is not valid base64: {text!r}") from exc
    if len(root) != _ROOT_HASH_SIZE:
        raise MalformedNoteError(
            f"checkpoint root hash must be {_ROOT_HASH_SIZE} bytes, got {len(root)}"
        )
    return root


class NoteVerifier:
    """An Ed25519 public key plus the name it signs under, as auditors configure it."""

    __slots__ = ("_key_hash", "_name", "_public_key")

    def __init__(self, public_key: Ed25519PublicKey, name: str) -> None:
        """Bind a name to a key; the key hash commits to both, so neither can be swapped."""
        _check_key_name(name)
        self._public_key = public_key
        self._name = name
        self._key_hash = _key_hash(name, bytes([_ALG_ED25519]) + public_key.public_bytes_raw())

    @property
    def name(self) -> str:
        """Key name that appears on this key's signature lines."""
        return self._name

    @property
    def key_hash(self) -> bytes:
        """4-byte key id that prefixes this key's signatures."""
        return self._key_hash

    def verifier_key(self) -> str:
        """The `<name>+<hex8 key hash>+<base64(0x01 || key)>` string auditors are given."""
        encoded = bytes([_ALG_ED25519]) + self._public_key.public_bytes_raw()
        key_b64 = base64.b64encode(encoded).decode("ascii")
        return f"{self._name}+{self._key_hash.hex()}+{key_b64}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether `signature` (without the key-hash prefix) is this key's over `message`."""
        if len(signature) != _ED25519_SIGNATURE_SIZE:
            return False
        try:
            self._public_key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


def parse_verifier_key(vkey: str) -> NoteVerifier:
    """Load a verifier from its `<name>+<hex8>+<base64>` string, checking it hangs together.

    The embedded key hash must match the name and key, so a typo or a key pasted under the
    wrong name is caught at configuration time. Raises ValueError.
    """
    name, _, rest = vkey.partition("+")
    hash_hex, _, key_b64 = rest.partition("+")
    if not _is_valid_key_name(name) or not _HEX8.fullmatch(hash_hex):
        raise ValueError("malformed verifier key: need <name>+<8 hex digits>+<base64 key>")
    try:
        encoded = _b64decode_strict(key_b64)
    except ValueError as exc:
        raise ValueError("malformed verifier key: key is not canonical base64") from exc
    if not encoded:
        raise ValueError("malformed verifier key: empty key")
    if _key_hash(name, encoded) != bytes.fromhex(hash_hex):
        raise ValueError("malformed verifier key: key hash does not match its name and key")
    if encoded[0] != _ALG_ED25519 or len(encoded) != 1 + 32:
        raise ValueError("unsupported verifier key: not a 32-byte Ed25519 key (algorithm 0x01)")
    return NoteVerifier(Ed25519PublicKey.from_public_bytes(encoded[1:]), name)


class NoteSigner:
    """The server's checkpoint-signing identity: an Ed25519 private key and its key name."""

    __slots__ = ("_private_key", "_verifier")

    def __init__(self, private_key: Ed25519PrivateKey, name: str) -> None:
        """Validate the name now so a bad configuration fails at startup, not at first sign."""
        self._private_key = private_key
        self._verifier = NoteVerifier(private_key.public_key(), name)

    @property
    def name(self) -> str:
        """Key name written on every signature line."""
        return self._verifier.name

    @property
    def key_hash(self) -> bytes:
        """4-byte key id written in front of every signature."""
        return self._verifier.key_hash

    def verifier(self) -> NoteVerifier:
        """The matching verifier, for self-checks and tests."""
        return self._verifier

    def verifier_key(self) -> str:
        """The vkey string to hand to auditors so they can check this server's checkpoints."""
        return self._verifier.verifier_key()

    def sign_note_text(self, text: str) -> str:
        """Sign arbitrary note text and return the complete signed note.

        The signature covers the text bytes including the final newline but not the blank
        separator line. Raises ValueError for text the note format cannot carry.
        """
        _check_text_lines(text, "note text")
        signature = self._private_key.sign(text.encode("utf-8"))
        blob = base64.b64encode(self.key_hash + signature).decode("ascii")
        return f"{text}\n{_SIGNATURE_PREFIX}{self.name} {blob}\n"

    def sign(self, checkpoint: Checkpoint) -> str:
        """Sign a checkpoint's body and return the signed note to publish."""
        return self.sign_note_text(checkpoint.body())


@dataclass(frozen=True)
class _SignatureLine:
    """One parsed `— <name> <base64>` line; not yet checked against any key."""

    name: str
    key_hash: bytes
    signature: bytes


def _parse_signature_line(line: str) -> _SignatureLine:
    """Split one signature line, rejecting any deviation from the reference encoding."""
    if not line.startswith(_SIGNATURE_PREFIX):
        raise MalformedNoteError(f"signature line does not start with an em dash: {line!r}")
    name, _, blob_b64 = line[len(_SIGNATURE_PREFIX) :].partition(" ")
    if not _is_valid_key_name(name) or not blob_b64:
        raise MalformedNoteError(f"malformed signature line: {line!r}")
    try:
        blob = _b64decode_strict(blob_b64)
    except ValueError as exc:
        raise MalformedNoteError(f"signature is not valid base64: {line!r}") from exc
    if len(blob) <= _KEY_HASH_SIZE:
        raise MalformedNoteError(f"signature too short: {line!r}")
    return _SignatureLine(name, blob[:_KEY_HASH_SIZE], blob[_KEY_HASH_SIZE:])


def _split_note(note_text: str) -> tuple[str, list[_SignatureLine]]:
    """Separate the signed text from its signature lines, as sumdb/note's Open does."""
    if _has_forbidden_chars(note_text):
        raise MalformedNoteError("note contains control characters or invalid Unicode")
    split = note_text.rfind("\n\n")
    if split < 0:
        raise MalformedNoteError("note has no blank line before its signatures")
    text, block = note_text[: split + 1], note_text[split + 2 :]
    if not block.endswith("\n"):
        raise MalformedNoteError("note signature block is empty or lacks its final newline")
    try:
        _check_text_lines(text, "note text")
    except ValueError as exc:
        raise MalformedNoteError(str(exc)) from exc
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNoteError(f"note has more than {MAX_SIGNATURES} signatures")
    return text, [_parse_signature_line(line) for line in lines]


def open_note(note_text: str, verifier: NoteVerifier) -> str:
    """Return the text of a signed note after checking the trusted key's signature on it.

    Signatures from other keys (witnesses, old keys) are ignored. Every line that claims to
    be from the trusted key (same name and key hash) must verify: a forged line next to a
    good one still means someone is tampering, so it is rejected rather than skipped.
    """
    text, signatures = _split_note(note_text)
    ours = [
        sig
        for sig in signatures
        if sig.name == verifier.name and hmac.compare_digest(sig.key_hash, verifier.key_hash)
    ]
    if not ours:
        present = ", ".join(f"{sig.name}+{sig.key_hash.hex()}" for sig in signatures)
        raise UnknownSignerError(
            f"no signature from {verifier.name}+{verifier.key_hash.hex()} (signed by: {present})"
        )
    message = text.encode("utf-8")
    for sig in ours:
        if not verifier.verify(message, sig.signature):
            raise BadSignatureError(
                f"invalid signature for key {verifier.name}+{verifier.key_hash.hex()}"
            )
    return text


def open_checkpoint(note_text: str, verifier: NoteVerifier, expected_origin: str) -> Checkpoint:
    """Verify a signed checkpoint from the trusted log key and return what it claims.

    The signature is checked before the body is interpreted, and the origin last: a
    genuine checkpoint from a different log is as useless to an auditor as a forged one.
    """
    checkpoint = Checkpoint.parse_body(open_note(note_text, verifier))
    if checkpoint.origin != expected_origin:
        raise WrongOriginError(
            f"checkpoint origin {checkpoint.origin!r} is not the expected {expected_origin!r}"
        )
    return checkpoint
