"""Decode a segment's compressed plaintext, in memory, into :class:`DecodedAudio`.

libsndfile (through soundfile) reads from a :class:`MemoryFile` over the secure
buffer, in blocks, into a small secure scratch buffer that is then split per
channel. Nothing touches the disk; the scratch is zeroed when decoding ends.
"""

from __future__ import annotations

import logging

import numpy as np
import soundfile as sf

from app.crypto.secure_buffer import SecureBuffer
from app.player.decoded_audio import DecodedAudio
from app.player.memory_file import MemoryFile

logger = logging.getLogger(__name__)

BLOCK_FRAMES = 65536
MAX_CHANNELS = 8
MIN_RATE, MAX_RATE = 8000, 192000


class DecodeError(Exception):
    """The decrypted segment is not audio Cordon can decode."""


def decode(plaintext: memoryview) -> DecodedAudio:
    """Decode WAV/FLAC/OGG/MP3 bytes into per-channel int16 arrays in secure memory."""
    try:
        handle = sf.SoundFile(MemoryFile(plaintext), mode="r")
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise DecodeError("not a supported audio format") from exc
    with handle:
        rate, count, frames = handle.samplerate, handle.channels, handle.frames
        if not (MIN_RATE <= rate <= MAX_RATE and 1 <= count <= MAX_CHANNELS) or frames < 0:
            raise DecodeError(f"unsupported audio layout ({rate} Hz, {count} channels)")
        audio = DecodedAudio(rate, frames, count)
        try:
            done = _read_blocks(handle, audio)
        except Exception:
            audio.close()
            raise
    if done < frames:
        logger.warning("decoder delivered %d of %d promised frames", done, frames)
        audio.truncate(done)
    return audio


def _read_blocks(handle: sf.SoundFile, audio: DecodedAudio) -> int:
    count = audio.channel_count
    with SecureBuffer(BLOCK_FRAMES * count * 2) as scratch_buf:
        view = scratch_buf.view()
        scratch = np.frombuffer(view, dtype=np.int16).reshape(BLOCK_FRAMES, count)
        done = 0
        try:
            while done < audio.frames:
                want = min(BLOCK_FRAMES, audio.frames - done)
                got = handle.read(want, dtype="int16", always_2d=True, out=scratch[:want])
                n = len(got)
                if n == 0:
                    break
                for c in range(count):
                    audio.channels[c][done : done + n] = scratch[:n, c]
                done += n
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise DecodeError("audio data is corrupt") from exc
        finally:
            del scratch
            view.release()
    return done
