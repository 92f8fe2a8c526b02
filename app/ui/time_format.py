"""One way to write a time everywhere: ``m:ss`` / ``h:mm:ss``, with fractions as needed.

The ruler, the player's clock and the task list all use it, so a transcriber
never reads "00:06.03" in one place and "0:06" in another.
"""

from __future__ import annotations


def clock_label(seconds: float, spacing: float) -> str:
    """``seconds`` as clock time with as many decimals as the tick ``spacing`` needs."""
    decimals = 0 if spacing >= 1 else 1 if spacing >= 0.1 else 2 if spacing >= 0.01 else 3
    sign = "-" if seconds < 0 else ""
    units = 10**decimals
    whole, part = divmod(round(abs(seconds) * units), units)  # integers: no "1:05.10" slips
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    fraction = f".{part:0{decimals}d}" if decimals else ""
    if hours:
        return f"{sign}{hours}:{minutes:02d}:{secs:02d}{fraction}"
    return f"{sign}{minutes}:{secs:02d}{fraction}"


def format_time(seconds: float) -> str:
    """A position or a duration to the hundredth: ``m:ss.cc`` or ``h:mm:ss.cc``."""
    return clock_label(max(0.0, seconds), 0.01)
