"""Decoding while bytes arrive; every format Cordon promises; corrupt input is a typed error."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from app.player.decoded_audio import DecodedAudio
from app.player.decoder import DecodeError, decode
from app.player.progressive_buffer import ProgressiveBuffer
from app.player.stream_decoder import StreamDecoder
from app.player.waveform_summary import WaveformSummary
from devtools.synthetic_audio import write_audio


def run_stream(data: bytes, head: float = 1.0) -> tuple[StreamDecoder, list[int]]:
    """Deliver the first ``head`` of ``data``, wait (briefly) for first audio, then the rest."""
    source = ProgressiveBuffer(len(data))
    ready_at: list[int] = []
    ready = threading.Event()

    def on_ready(_audio: DecodedAudio, _summaries: list[WaveformSummary]) -> None:
        ready_at.append(source.available)
        ready.set()

    decoder = StreamDecoder(source, on_ready)
    decoder.start()
    cut = int(len(data) * head)
    source.view[:cut] = data[:cut]
    source.advance(cut)
    if cut < len(data):
        ready.wait(10)
    source.view[cut:] = data[cut:]
    source.finish()
    decoder.join(30)
    source.close()
    return decoder, ready_at


@pytest.mark.parametrize("suffix", [".wav", ".flac"])
def test_streamable_formats_start_before_the_end_arrives(tmp_path: Path, suffix: str) -> None:
    path = write_audio(tmp_path / f"call{suffix}", 20.0, 16000, 2, seed=4)
    decoder, ready_at = run_stream(path.read_bytes(), head=0.25)
    assert decoder.error is None and decoder.audio is not None
    assert ready_at and ready_at[0] < path.stat().st_size / 2  # first audio from the first part
    expected, _ = sf.read(path, dtype="int16")
    for c in range(2):
        np.testing.assert_array_equal(decoder.audio.channels[c], expected[:, c])
    assert decoder.audio.frames_ready == decoder.audio.frames
    full = WaveformSummary(decoder.audio.channels[0])
    assert decoder.summaries[0].complete
    np.testing.assert_array_equal(decoder.summaries[0].levels[0][0], full.levels[0][0])
    decoder.audio.close()


@pytest.mark.parametrize(("suffix", "rate"), [(".ogg", 16000), (".opus", 48000), (".mp3", 16000)])
def test_compressed_formats_decode_in_memory(tmp_path: Path, suffix: str, rate: int) -> None:
    path = write_audio(tmp_path / f"call{suffix}", 5.0, rate, 1, seed=5)
    decoder, ready_at = run_stream(path.read_bytes())
    assert decoder.error is None and decoder.audio is not None, decoder.error
    assert decoder.audio.sample_rate == rate
    assert abs(decoder.audio.frames - 5 * rate) < rate // 10
    assert np.abs(decoder.audio.channels[0]).max() > 1000  # real audio, not silence
    assert ready_at
    decoder.audio.close()


def test_corrupt_data_is_a_decode_error(tmp_path: Path) -> None:
    decoder, ready_at = run_stream(b"RIFF\x00\x00\x00\x00WAVEjunk" + bytes(5000))
    assert isinstance(decoder.error, DecodeError)
    assert ready_at == []
    with pytest.raises(DecodeError):
        decode(memoryview(bytearray(b"OggS" + bytes(3000))))


def test_truncated_flac_ends_cleanly(tmp_path: Path) -> None:
    data = write_audio(tmp_path / "cut.flac", 10.0, 16000, 1).read_bytes()
    decoder, _ = run_stream(data[: len(data) // 3])
    if decoder.error is None:
        assert decoder.audio is not None
        assert decoder.audio.frames < 10 * 16000
        decoder.audio.close()
    else:
        assert isinstance(decoder.error, DecodeError)


def test_a_failed_download_wakes_the_decoder() -> None:
    source = ProgressiveBuffer(1_000_000)
    decoder = StreamDecoder(source, lambda _a, _s: None)
    decoder.start()
    source.view[:4] = b"RIFF"
    source.advance(4)
    threading.Timer(0.2, lambda: source.fail(ConnectionError("network down"))).start()
    decoder.join(10)
    assert not decoder.running
    assert decoder.error is not None
    source.close()
