"""B1 (decrypt + decode vs libsndfile) and B2 (decrypt vs openssl speed)."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
from pathlib import Path

import soundfile as sf

from app.crypto.key_wrap import new_key
from app.crypto.secure_buffer import SecureBuffer
from app.crypto.segment_format import SegmentDecryptor, encrypt_stream
from app.player.progressive_buffer import ProgressiveBuffer
from app.player.stream_decoder import StreamDecoder
from devtools.bench.measure import ratio, timed

PIECE = 256 * 1024


def seal(data: bytes, key: bytes) -> bytes:
    sink = io.BytesIO()
    encrypt_stream(
        key, io.BytesIO(data), sink, project_id="prj_bench", segment_id="seg_bench",
        plaintext_length=len(data),
    )  # fmt: skip
    return sink.getvalue()


def open_segment(blob: bytes, key: bytes, *, decode: bool = True) -> None:
    """The client pipeline on in-memory ciphertext: verify, decrypt, decode, pyramid."""
    holder: dict[str, object] = {}

    def allocate(size: int) -> memoryview:
        source = ProgressiveBuffer(size)
        holder["source"] = source
        if decode:
            decoder = StreamDecoder(source, lambda _a, _s: None)
            decoder.start()
            holder["decoder"] = decoder
        return source.view

    dec = SegmentDecryptor(key, project_id="prj_bench", segment_id="seg_bench", allocate=allocate)
    view = memoryview(blob)
    for start in range(0, len(blob), PIECE):
        dec.feed(view[start : start + PIECE])
        source = holder.get("source")
        if isinstance(source, ProgressiveBuffer):
            source.advance(dec.plaintext_available)
    dec.finish()
    source = holder["source"]
    assert isinstance(source, ProgressiveBuffer)  # noqa: S101
    source.finish()
    decoder = holder.get("decoder")
    if isinstance(decoder, StreamDecoder):
        decoder.join()
        if decoder.error is not None:
            raise decoder.error
        assert decoder.audio is not None  # noqa: S101
        decoder.audio.close()
        for summary in decoder.summaries:
            summary.close()
    source.close()


def b1_decrypt_decode(flac: Path) -> dict[str, object]:
    data = flac.read_bytes()
    key = new_key()
    blob = seal(data, key)
    floor = timed(lambda: sf.read(str(flac), dtype="int16"))
    ours = timed(lambda: open_segment(blob, key))
    return {
        "what": "decrypt + decode + waveform pyramid, 1 h 16 kHz mono FLAC, from memory",
        "floor_libsndfile_file_path_ms": round(floor, 1),
        "cordon_ms": round(ours, 1),
        "ratio": ratio(ours, floor),
        "target_ratio_max": 1.15,
    }


def openssl_gcm_bytes_per_s() -> float | None:
    exe = shutil.which("openssl")
    if exe is None:
        return None
    out = subprocess.run(
        [exe, "speed", "-evp", "aes-256-gcm", "-seconds", "2", "-bytes", "16384"],
        capture_output=True, text=True, check=False, timeout=60,
    ).stdout  # fmt: skip
    match = re.search(r"^AES-256-GCM\s+.*?([\d.]+)k\s*$", out, re.MULTILINE | re.IGNORECASE)
    return float(match.group(1)) * 1000 if match else None


def _decrypt_into(blob: bytes, key: bytes, out: memoryview) -> None:
    dec = SegmentDecryptor(
        key, project_id="prj_bench", segment_id="seg_bench", allocate=lambda _n: out
    )
    view = memoryview(blob)
    for start in range(0, len(blob), PIECE):
        dec.feed(view[start : start + PIECE])
    dec.finish()


def b2_decrypt_throughput(megabytes: int = 256) -> dict[str, object]:
    key = new_key()
    size = megabytes << 20
    blob = seal(os.urandom(size), key)
    target = SecureBuffer(size)
    view = target.view()
    _decrypt_into(blob, key, view)  # touch every page once: measure the cipher, not faults
    ms = timed(lambda: _decrypt_into(blob, key, view))
    view.release()
    target.close()
    alloc_ms = timed(lambda: SecureBuffer(size).close())
    ours = size / (ms / 1000)
    floor = openssl_gcm_bytes_per_s()
    return {
        "what": f"verify + decrypt {megabytes} MiB (1 MiB chunks, 256 KiB network pieces) "
        "into a secure buffer",
        "floor_openssl_speed_gb_s": round(floor / 1e9, 2) if floor else None,
        "cordon_gb_s": round(ours / 1e9, 2),
        "ratio": ratio(ours, floor) if floor else None,
        "secure_buffer_alloc_lock_zero_free_ms": round(alloc_ms, 1),
        "target_ratio_min": 0.8,
    }
