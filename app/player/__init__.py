"""Qt-free audio: in-memory decoding, waveform summaries and the playback engine."""
