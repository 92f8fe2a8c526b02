"""Tests for Cordon's signed audit-log checkpoints.

The signer is pinned to golang.org/x/mod/sumdb/note's published known answer (Ed25519 is
deterministic, so the note must match byte for byte), and the parser is exercised with the
malformed notes from that package's tests plus checkpoint-specific tampering.
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from server.auditlog.checkpoint import (
    MAX_SIGNATURES,
    BadSignatureError,
    Checkpoint,
    CheckpointError,
    MalformedNoteError,
    NoteSigner,
    NoteVerifier,
    UnknownSignerError,
    WrongOriginError,
    open_checkpoint,
    open_note,
    parse_verifier_key,
)

# --- Known answers from golang/mod sumdb/note/note_test.go (TestSign, TestOpen) ------------------

PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_B64 = (
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
)
ENOCH_B64 = (
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ="
)
PETER_SIG = f"— PeterNeumann {PETER_B64}\n"
ENOCH_SIG = f"— EnochRoot {ENOCH_B64}\n"


def b64(data: bytes) -> str:
    """Standard base64 as text, the encoding every field of a note uses."""
    return base64.b64encode(data).decode("ascii")


def _signer_from_skey(skey: str) -> NoteSigner:
    """Decode a Go `PRIVATE+KEY+<name>+<hash>+<base64(0x01 || seed)>` key (test fixture only)."""
    _, _, name, _, key_b64 = skey.split("+", 4)
    encoded = base64.b64decode(key_b64)
    assert encoded[0] == 0x01
    return NoteSigner(Ed25519PrivateKey.from_private_bytes(encoded[1:]), name)


PETER = _signer_from_skey(PETER_SKEY)
PETER_VERIFIER = parse_verifier_key(PETER_VKEY)
ENOCH_VERIFIER = parse_verifier_key(ENOCH_VKEY)


def test_sign_known_answer() -> None:
    assert PETER.sign_note_text(TEXT) == TEXT + "\n" + PETER_SIG
    assert open_note(TEXT + "\n" + PETER_SIG, PETER_VERIFIER) == TEXT


def test_signer_key_hash_and_vkey_match_go() -> None:
    assert PETER.name == "PeterNeumann"
    assert PETER.key_hash == bytes.fromhex("c74f20a3")
    assert PETER.verifier_key() == PETER_VKEY
    assert PETER_VERIFIER.verifier_key() == PETER_VKEY
    assert ENOCH_VERIFIER.verifier_key() == ENOCH_VKEY


def test_open_ignores_other_signers() -> None:
    note = TEXT + "\n" + PETER_SIG + ENOCH_SIG
    assert open_note(note, PETER_VERIFIER) == TEXT
    assert open_note(note, ENOCH_VERIFIER) == TEXT
    assert open_note(TEXT + "\n" + ENOCH_SIG + PETER_SIG, PETER_VERIFIER) == TEXT


def test_open_without_trusted_signature_fails() -> None:
    with pytest.raises(UnknownSignerError, match=r"PeterNeumann\+c74f20a3"):
        open_note(TEXT + "\n" + ENOCH_SIG, PETER_VERIFIER)


def test_open_invalid_signature_fails() -> None:
    bad = PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    with pytest.raises(BadSignatureError, match="invalid signature"):
        open_note(TEXT + "\n" + bad, PETER_VERIFIER)


def test_open_duplicated_signatures() -> None:
    enoch_abcd = ENOCH_SIG[:60] + "ABCD" + ENOCH_SIG[60:]
    note = TEXT + "\n" + PETER_SIG + PETER_SIG + ENOCH_SIG + ENOCH_SIG + enoch_abcd
    assert open_note(note, PETER_VERIFIER) == TEXT


def test_open_too_many_signatures_fails() -> None:
    assert MAX_SIGNATURES == 100
    with pytest.raises(MalformedNoteError):
        open_note(TEXT + "\n" + PETER_SIG * 101, PETER_VERIFIER)
    assert open_note(TEXT + "\n" + PETER_SIG * 100, PETER_VERIFIER) == TEXT


@pytest.mark.parametrize(
    "note",
    [
        TEXT,
        TEXT + "\n",
        TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + TEXT + "\n" + PETER_SIG,
        # Go's "\xff" (invalid UTF-8) arrives in a Python str as a lone surrogate.
        "\udcff" + TEXT + "\n" + PETER_SIG,
        TEXT + "\n— Bad Name " + PETER_B64,
        TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
    ],
)
def test_open_malformed_notes_from_go(note: str) -> None:
    with pytest.raises(MalformedNoteError):
        open_note(note, PETER_VERIFIER)


def test_open_signature_under_other_name_or_hash_is_unknown() -> None:
    misnamed = PETER_SIG.replace("PeterNeumann", "CarmenSandiego")
    with pytest.raises(UnknownSignerError):
        open_note(TEXT + "\n" + misnamed, PETER_VERIFIER)
    wrong_hash = PETER_SIG.replace("x08g", "xxxx")
    with pytest.raises(UnknownSignerError):
        open_note(TEXT + "\n" + wrong_hash, PETER_VERIFIER)


@pytest.mark.parametrize(
    "note",
    [
        TEXT + "\n" + PETER_SIG + "\n",  # trailing blank line: signature block is then empty
        TEXT + "\n" + "-" + PETER_SIG[1:],  # ASCII hyphen instead of the em dash
        TEXT + "\n" + PETER_SIG.replace(" x08go", "  x08go"),  # double space
        TEXT + "\n" + PETER_SIG.replace("AM=\n", "AM\n"),  # missing base64 padding
        TEXT + "\n" + "— PeterNeumann x08g\n",  # too short to hold a key hash and signature
        TEXT + "\n" + PETER_SIG.replace("\n", "\r\n"),  # CR is a control character
        "\n" + TEXT + "\n" + PETER_SIG,  # text starting with an empty line
        "\n\n" + PETER_SIG,  # empty text
    ],
)
def test_open_more_malformed_notes(note: str) -> None:
    with pytest.raises(MalformedNoteError):
        open_note(note, PETER_VERIFIER)


# --- Verifier keys: TestNewVerifier manglings -----------------------------------------------------


def test_verifier_key_manglings_are_rejected() -> None:
    for start in range(len(PETER_VKEY) + 1):
        for end in range(start + 1, len(PETER_VKEY) + 1):
            if (start, end) != (0, len(PETER_VKEY)):
                with pytest.raises(ValueError):  # noqa: PT011 - any rejection is fine
                    parse_verifier_key(PETER_VKEY[start:end])
    for position in range(len(PETER_VKEY)):
        mangled = (
            PETER_VKEY[:position] + chr(ord(PETER_VKEY[position]) + 1) + PETER_VKEY[position + 1 :]
        )
        with pytest.raises(ValueError):  # noqa: PT011
            parse_verifier_key(mangled)


def _vkey_with_adjusted_hash(name: str, encoded: bytes) -> str:
    """A vkey whose hash is right for its (possibly bogus) key, so only later checks can fail."""
    key_hash = hashlib.sha256(name.encode() + b"\n" + encoded).digest()[:4]
    return f"{name}+{key_hash.hex()}+{b64(encoded)}"


PETER_PUBLIC = base64.b64decode(PETER_VKEY.rsplit("+", 1)[1])


@pytest.mark.parametrize(
    ("vkey", "reason"),
    [
        # From TestNewVerifier: wrong length key, with adjusted key hash. Go's lenient base64
        # decoder accepts the non-canonical "EY==" ending; Cordon already rejects it there.
        (
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
            "not canonical base64",
        ),
        # From TestNewVerifier: unknown algorithm, with adjusted key hash.
        ("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "algorithm"),
        (_vkey_with_adjusted_hash("PeterNeumann", PETER_PUBLIC + b"\x00"), "32-byte"),
        (_vkey_with_adjusted_hash("PeterNeumann", PETER_PUBLIC[:-1]), "32-byte"),
        (_vkey_with_adjusted_hash("PeterNeumann", b"\x02" + PETER_PUBLIC[1:]), "algorithm"),
        ("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "does not match"),
        ("Peter+Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "8 hex digits"),
        ("PeterNeumann+c74f20a3+", "empty key"),
    ],
)
def test_verifier_key_rejections(vkey: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_verifier_key(vkey)


def test_verifier_key_accepts_uppercase_hash_like_go() -> None:
    upper = PETER_VKEY.replace("c74f20a3", "C74F20A3")
    assert parse_verifier_key(upper).key_hash == PETER_VERIFIER.key_hash


@pytest.mark.parametrize("name", ["", "a b", "a+b", "a\tb", "a\nb", "a\u00a0b", "a\x01b"])
def test_bad_key_names_are_rejected(name: str) -> None:
    key = Ed25519PrivateKey.generate()
    with pytest.raises(ValueError, match="invalid note key name"):
        NoteSigner(key, name)
    with pytest.raises(ValueError, match="invalid note key name"):
        NoteVerifier(key.public_key(), name)


@pytest.mark.parametrize("text", ["", "no newline", "a\n\nb\n", "\n", "bell\x07\n", "x\r\n"])
def test_sign_note_text_rejects_unencodable_text(text: str) -> None:
    with pytest.raises(ValueError, match="note text"):
        PETER.sign_note_text(text)


# --- Checkpoints ----------------------------------------------------------------------------------

ORIGIN = "cordon.example/audit"
ROOT = bytes.fromhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
ROOT_B64 = b64(ROOT)
URLSAFE_ROOT = base64.urlsafe_b64encode(bytes([0xFF]) * 32).decode("ascii")  # has '_' and '-'
LOG_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
LOG = NoteSigner(LOG_KEY, "cordon.example/audit")
LOG_VERIFIER = parse_verifier_key(LOG.verifier_key())
CHECKPOINT = Checkpoint(ORIGIN, 8, ROOT)


def test_body_format() -> None:
    assert CHECKPOINT.body() == f"{ORIGIN}\n8\n{ROOT_B64}\n"
    assert Checkpoint(ORIGIN, 0, ROOT, ("ext one", "ext two")).body() == (
        f"{ORIGIN}\n0\n{ROOT_B64}\next one\next two\n"
    )


@pytest.mark.parametrize("size", [0, 1, 8, 4097, 2**64 - 1])
def test_body_round_trip(size: int) -> None:
    checkpoint = Checkpoint(ORIGIN, size, ROOT, ("extension",))
    assert Checkpoint.parse_body(checkpoint.body()) == checkpoint


def test_sign_and_open_round_trip() -> None:
    note = LOG.sign(CHECKPOINT)
    assert note.startswith(CHECKPOINT.body() + "\n— cordon.example/audit ")
    assert open_checkpoint(note, LOG_VERIFIER, ORIGIN) == CHECKPOINT
    assert open_checkpoint(note, LOG.verifier(), ORIGIN) == CHECKPOINT


def test_extensions_are_signed_and_preserved() -> None:
    checkpoint = Checkpoint(ORIGIN, 8, ROOT, ("— witness-ts 1700000000",))
    assert open_checkpoint(LOG.sign(checkpoint), LOG_VERIFIER, ORIGIN) == checkpoint


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("\n8\n", "\n9\n"),
        (ROOT_B64, b64(bytes(32))),
        (ORIGIN + "\n", "cordon.example/other\n"),
        (f"{ROOT_B64}\n\n", f"{ROOT_B64}\nextra line\n\n"),
    ],
)
def test_tampered_body_fails(old: str, new: str) -> None:
    note = LOG.sign(CHECKPOINT)
    tampered = note.replace(old, new, 1)
    assert tampered != note
    with pytest.raises(BadSignatureError):
        open_checkpoint(tampered, LOG_VERIFIER, ORIGIN)
    with pytest.raises(BadSignatureError):
        open_checkpoint(tampered, LOG_VERIFIER, "cordon.example/other")


def test_wrong_origin_fails() -> None:
    with pytest.raises(WrongOriginError, match=r"cordon\.example/other"):
        open_checkpoint(LOG.sign(CHECKPOINT), LOG_VERIFIER, "cordon.example/other")


def test_other_key_with_same_name_fails() -> None:
    impostor = NoteSigner(Ed25519PrivateKey.generate(), LOG.name)
    note = impostor.sign(CHECKPOINT)
    with pytest.raises(UnknownSignerError):
        open_checkpoint(note, LOG_VERIFIER, ORIGIN)
    # Even if the impostor copies the real key hash onto its signature, it must not verify.
    line = note.split("\n\n", 1)[1]
    blob = base64.b64decode(line.rsplit(" ", 1)[1])
    forged = f"{CHECKPOINT.body()}\n— {LOG.name} {b64(LOG.key_hash + blob[4:])}\n"
    with pytest.raises(BadSignatureError):
        open_checkpoint(forged, LOG_VERIFIER, ORIGIN)


def test_unknown_signer_only_fails() -> None:
    note = PETER.sign(CHECKPOINT)
    with pytest.raises(UnknownSignerError, match=r"signed by: PeterNeumann\+c74f20a3"):
        open_checkpoint(note, LOG_VERIFIER, ORIGIN)


def test_extra_unknown_signature_is_ignored() -> None:
    ours = LOG.sign(CHECKPOINT)
    witness_line = PETER.sign(CHECKPOINT).split("\n\n", 1)[1]
    assert open_checkpoint(ours + witness_line, LOG_VERIFIER, ORIGIN) == CHECKPOINT
    body, our_line = ours.split("\n\n", 1)
    reordered = f"{body}\n\n{witness_line}{our_line}"
    assert open_checkpoint(reordered, LOG_VERIFIER, ORIGIN) == CHECKPOINT


def test_forged_line_next_to_good_one_fails() -> None:
    ours = LOG.sign(CHECKPOINT)
    our_line = ours.split("\n\n", 1)[1]
    blob = bytearray(base64.b64decode(our_line.rsplit(" ", 1)[1]))
    blob[-1] ^= 1
    forged_line = f"— {LOG.name} {b64(bytes(blob))}\n"
    with pytest.raises(BadSignatureError):
        open_checkpoint(ours + forged_line, LOG_VERIFIER, ORIGIN)


MALFORMED_BODIES = [
    pytest.param(f"{ORIGIN}\n8\n{ROOT_B64}", id="missing-trailing-newline"),
    pytest.param(f"{ORIGIN}\n8\n", id="missing-root"),
    pytest.param(f"\n8\n{ROOT_B64}\n", id="empty-origin"),
    pytest.param(f"{ORIGIN}\n08\n{ROOT_B64}\n", id="leading-zero-size"),
    pytest.param(f"{ORIGIN}\n00\n{ROOT_B64}\n", id="double-zero-size"),
    pytest.param(f"{ORIGIN}\n-8\n{ROOT_B64}\n", id="negative-size"),
    pytest.param(f"{ORIGIN}\n+8\n{ROOT_B64}\n", id="plus-size"),
    pytest.param(f"{ORIGIN}\n 8\n{ROOT_B64}\n", id="space-size"),
    pytest.param(f"{ORIGIN}\n8_0\n{ROOT_B64}\n", id="underscore-size"),
    pytest.param(f"{ORIGIN}\n\u0668\n{ROOT_B64}\n", id="arabic-digit-size"),
    pytest.param(f"{ORIGIN}\n0x8\n{ROOT_B64}\n", id="hex-size"),
    pytest.param(f"{ORIGIN}\n{2**64}\n{ROOT_B64}\n", id="size-over-64-bits"),
    pytest.param(f"{ORIGIN}\n\n{ROOT_B64}\n", id="empty-size"),
    pytest.param(f"{ORIGIN}\n8\n{ROOT_B64[:-1]}\n", id="root-missing-padding"),
    pytest.param(f"{ORIGIN}\n8\n{ROOT_B64[:-2]}!=\n", id="root-bad-base64"),
    pytest.param(f"{ORIGIN}\n8\n{ROOT.hex()}\n", id="root-hex"),
    pytest.param(f"{ORIGIN}\n8\n{b64(ROOT[:31])}\n", id="root-31-bytes"),
    pytest.param(f"{ORIGIN}\n8\n{b64(ROOT + b'x')}\n", id="root-33-bytes"),
    pytest.param(f"{ORIGIN}\n8\n{URLSAFE_ROOT}\n", id="root-urlsafe"),
    pytest.param(f"{ORIGIN}\n8\n{ROOT_B64[:-2]}9=\n", id="root-non-canonical"),
    pytest.param(f"{ORIGIN}\n8\n{ROOT_B64}\n\nextension\n", id="blank-extension-line"),
    pytest.param(f"{ORIGIN}\r\n8\n{ROOT_B64}\n", id="carriage-return"),
]


@pytest.mark.parametrize("body", MALFORMED_BODIES)
def test_parse_body_rejects_malformed(body: str) -> None:
    with pytest.raises(MalformedNoteError):
        Checkpoint.parse_body(body)


@pytest.mark.parametrize("body", MALFORMED_BODIES)
def test_open_checkpoint_rejects_malformed_even_if_signed(body: str) -> None:
    # Sign whatever the note format can carry, so only the checkpoint parser can object; the
    # rest (no final newline, blank or CR lines) must be caught before any signature check.
    try:
        note = LOG.sign_note_text(body)
    except ValueError:
        note = f"{body}\n— {LOG.name} {b64(LOG.key_hash + bytes(64))}\n"
    with pytest.raises(MalformedNoteError):
        open_checkpoint(note, LOG_VERIFIER, ORIGIN)


@pytest.mark.parametrize(
    ("origin", "size", "root", "extensions"),
    [
        ("", 1, ROOT, ()),
        ("two\nlines", 1, ROOT, ()),
        (ORIGIN, -1, ROOT, ()),
        (ORIGIN, 2**64, ROOT, ()),
        (ORIGIN, 1, ROOT[:31], ()),
        (ORIGIN, 1, ROOT, ("",)),
        (ORIGIN, 1, ROOT, ("a\nb",)),
        (ORIGIN, 1, ROOT, ("tab\tinside",)),
    ],
)
def test_checkpoint_constructor_validates(
    origin: str, size: int, root: bytes, extensions: tuple[str, ...]
) -> None:
    with pytest.raises(ValueError, match="checkpoint"):
        Checkpoint(origin, size, root, extensions)


def test_checkpoint_error_messages_name_the_problem() -> None:
    for error in (MalformedNoteError, UnknownSignerError, BadSignatureError, WrongOriginError):
        assert issubclass(error, CheckpointError)
    with pytest.raises(MalformedNoteError, match="canonical decimal"):
        Checkpoint.parse_body(f"{ORIGIN}\n08\n{ROOT_B64}\n")
    with pytest.raises(MalformedNoteError, match="32 bytes"):
        Checkpoint.parse_body(f"{ORIGIN}\n8\n{b64(ROOT[:31])}\n")
    with pytest.raises(MalformedNoteError, match="blank line"):
        open_checkpoint(CHECKPOINT.body(), LOG_VERIFIER, ORIGIN)
