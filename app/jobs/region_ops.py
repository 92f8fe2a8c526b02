"""Region editing for the controller: create, select, move, delete, loop.

A mixin so the region operations live in their own module while sharing the
controller's state (the open segment, its regions, the playback engine) and its
``regions_changed`` signal; :class:`~app.jobs.controller.Controller` is the only user.
"""

from __future__ import annotations

from typing import Any

from app.domain.regions import Region, RegionList
from app.player.playback import PlaybackEngine, PlaybackState
from app.services.segments import OpenedSegment
from app.wire.schemas import AccessAction, Outcome


class RegionOps:
    # Provided by Controller.
    _regions: RegionList | None
    _selected: int | None
    _engine: PlaybackEngine
    _opened: OpenedSegment | None
    regions_changed: Any

    def record(
        self, action: AccessAction, outcome: Outcome = Outcome.OK, reason: str | None = None
    ) -> None:
        raise NotImplementedError

    def _emit_player_settings(self) -> None:
        raise NotImplementedError

    @property
    def regions(self) -> RegionList | None:
        return self._regions

    @property
    def selected_region(self) -> Region | None:
        if self._regions is None or self._selected is None:
            return None
        return self._regions.get(self._selected)

    def _regions_changed(self) -> None:
        region = self.selected_region
        if self._engine.loop is not None:
            if region is None:
                self._engine.set_loop(None, None)
            elif self._engine.loop != (region.start, region.end):
                self._engine.set_loop(region.start, region.end)
        self.regions_changed.emit(self._regions, self._selected)
        self._emit_player_settings()

    def mark_boundary(self) -> None:
        """ELAN-style: Alt+Enter while listening closes a region at the playhead."""
        if self._regions is None:
            return
        region = self._regions.mark_boundary(self._engine.position_frames)
        if region is not None:
            self._selected = region.region_id
        self._regions_changed()

    def step_region(self, forward: bool) -> None:
        """Select the next (or previous) region and play it from its start."""
        if self._regions is None:
            return
        selected = self.selected_region
        if selected is not None:  # step from the selection: the playhead lags a seek
            region = self._regions.neighbour(selected.region_id, forward)
        else:
            here = self._engine.position_frames
            margin = self._rate() // 3  # Shift+Tab just after a start goes back one
            region = (
                self._regions.next_after(here)
                if forward
                else self._regions.previous_before(max(0, here - margin))
            )
        if region is None:
            return
        self._selected = region.region_id
        self._regions_changed()
        self._engine.seek(region.start)
        if self._engine.state is not PlaybackState.PLAYING:
            self._engine.play()
            self.record(AccessAction.PLAYBACK_STARTED)
        self.record(AccessAction.PLAYBACK_SEEKED)

    def _rate(self) -> int:
        """The open segment's sample rate (the engine's is 0 once it has unloaded)."""
        return self._opened.audio.sample_rate if self._opened is not None else 0

    def select_region_at(self, seconds: float) -> None:
        if self._regions is None:
            return
        frame = int(seconds * self._rate())
        hits = self._regions.at(frame)
        self._selected = hits[-1].region_id if hits else None
        self._regions_changed()

    def move_region(self, region_id: int, start_s: float, end_s: float) -> None:
        if self._regions is None or self._regions.get(region_id) is None or not self._rate():
            return
        rate = self._rate()
        self._regions.update(region_id, round(start_s * rate), round(end_s * rate))
        self._selected = region_id
        self._regions_changed()

    def create_region(self, start_s: float, end_s: float) -> None:
        """A region drawn with the mouse; it becomes the selection (too short: ignored)."""
        if self._regions is None or not self._rate():
            return
        rate = self._rate()
        try:
            region = self._regions.add(round(start_s * rate), round(end_s * rate))
        except ValueError:
            return  # shorter than a region may be: a slip of the mouse, not an error
        self._selected = region.region_id
        self._regions_changed()

    def delete_selected_region(self) -> None:
        if self._regions is not None and self._selected is not None:
            self._regions.remove(self._selected)
            self._selected = None
            self._regions_changed()

    def toggle_loop(self) -> None:
        region = self.selected_region
        if self._engine.loop is not None or region is None:
            self._engine.set_loop(None, None)
        else:
            self._engine.set_loop(region.start, region.end)
            if self._engine.state is not PlaybackState.PLAYING:
                self._engine.play()
                self.record(AccessAction.PLAYBACK_STARTED)
        self._emit_player_settings()
