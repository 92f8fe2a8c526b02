"""Regions: the time spans an annotator marks on a segment (speaker turns, utterances).

Qt-free and in frames of the segment's own rate, so boundaries are exact and
independent of zoom. Regions may overlap (two speakers talking at once). The
list stays sorted by start so "next" and "previous" are well defined.
Boundaries are times, not content; they travel with the transcript.
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass, field

_ids = itertools.count(1)


@dataclass
class Region:
    start: int
    end: int
    region_id: int = field(default_factory=lambda: next(_ids))

    def contains(self, frame: int) -> bool:
        return self.start <= frame < self.end


class RegionList:
    """The regions of one segment of ``length`` frames."""

    def __init__(self, length: int, min_frames: int = 1) -> None:
        self.length = length
        self.min_frames = max(1, min_frames)
        self._regions: list[Region] = []
        #: Where ELAN-style splitting left off: the next boundary starts a region here.
        self.pending_start: int | None = None

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(list(self._regions))

    def __len__(self) -> int:
        return len(self._regions)

    def _clamp(self, frame: int) -> int:
        return max(0, min(int(frame), self.length))

    def _sort(self) -> None:
        self._regions.sort(key=lambda r: (r.start, r.end, r.region_id))

    def get(self, region_id: int) -> Region | None:
        return next((r for r in self._regions if r.region_id == region_id), None)

    def add(self, start: int, end: int) -> Region:
        start, end = sorted((self._clamp(start), self._clamp(end)))
        if end - start < self.min_frames:
            raise ValueError("region too short")
        region = Region(start, end)
        self._regions.append(region)
        self._sort()
        return region

    def update(self, region_id: int, start: int, end: int) -> Region:
        """Move or resize a region (the view's drag handles call this)."""
        region = self.get(region_id)
        if region is None:
            raise KeyError(region_id)
        start, end = sorted((self._clamp(start), self._clamp(end)))
        if end - start < self.min_frames:
            end = min(self.length, start + self.min_frames)
            start = end - self.min_frames
        region.start, region.end = start, end
        self._sort()
        return region

    def remove(self, region_id: int) -> None:
        self._regions = [r for r in self._regions if r.region_id != region_id]

    def mark_boundary(self, frame: int) -> Region | None:
        """ELAN-style: each boundary closes a region begun at the previous one.

        The first boundary only remembers where the next region starts; every
        later one creates ``[previous boundary, frame)`` and starts the next.
        Marking inside an existing region splits it there instead.
        """
        frame = self._clamp(frame)
        inside = [
            r
            for r in self._regions
            if r.start + self.min_frames <= frame <= r.end - self.min_frames
        ]
        if inside:
            region = inside[-1]
            tail = Region(frame, region.end)
            region.end = frame
            self._regions.append(tail)
            self._sort()
            self.pending_start = frame
            return tail
        start = self.pending_start
        self.pending_start = frame
        if start is None or frame - start < self.min_frames:
            return None
        return self.add(start, frame)

    def neighbour(self, region_id: int, forward: bool) -> Region | None:
        """The region after (or before) ``region_id`` in start order; overlaps included."""
        ids = [r.region_id for r in self._regions]
        if region_id not in ids:
            return None
        i = ids.index(region_id) + (1 if forward else -1)
        return self._regions[i] if 0 <= i < len(ids) else None

    def next_after(self, frame: int) -> Region | None:
        starts = [r.start for r in self._regions]
        i = bisect.bisect_right(starts, frame)
        return self._regions[i] if i < len(self._regions) else None

    def previous_before(self, frame: int) -> Region | None:
        starts = [r.start for r in self._regions]
        i = bisect.bisect_left(starts, frame) - 1
        return self._regions[i] if i >= 0 else None

    def at(self, frame: int) -> list[Region]:
        return [r for r in self._regions if r.contains(frame)]
