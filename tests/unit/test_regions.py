"""Regions: ELAN-style boundaries, overlap, navigation, clamping."""

from __future__ import annotations

import pytest

from app.domain.regions import RegionList


def spans(regions: RegionList) -> list[tuple[int, int]]:
    return [(r.start, r.end) for r in regions]


def test_boundaries_while_listening_make_consecutive_regions() -> None:
    regions = RegionList(100_000, min_frames=100)
    assert regions.mark_boundary(1_000) is None  # the first boundary only starts one
    regions.mark_boundary(5_000)
    regions.mark_boundary(9_000)
    assert spans(regions) == [(1_000, 5_000), (5_000, 9_000)]


def test_a_boundary_inside_a_region_splits_it() -> None:
    regions = RegionList(100_000, min_frames=100)
    regions.add(1_000, 9_000)
    tail = regions.mark_boundary(4_000)
    assert tail is not None and (tail.start, tail.end) == (4_000, 9_000)
    assert spans(regions) == [(1_000, 4_000), (4_000, 9_000)]


def test_overlap_is_allowed_and_navigation_follows_starts() -> None:
    regions = RegionList(100_000)
    a = regions.add(1_000, 6_000)
    b = regions.add(4_000, 8_000)  # a second speaker talking over the first
    c = regions.add(9_000, 9_500)
    assert [r.region_id for r in regions.at(5_000)] == [a.region_id, b.region_id]
    assert regions.next_after(0) is a
    assert regions.next_after(1_000) is b
    assert regions.next_after(9_000) is None
    assert regions.previous_before(9_000) is b
    assert regions.previous_before(9_001) is c
    assert regions.previous_before(1_000) is None


def test_moves_and_resizes_are_clamped_and_sorted() -> None:
    regions = RegionList(10_000, min_frames=50)
    a = regions.add(100, 200)
    b = regions.add(500, 900)
    regions.update(b.region_id, -300, 50)  # dragged past the start, reversed
    assert spans(regions) == [(0, 50), (100, 200)]
    regions.update(a.region_id, 9_990, 20_000)
    assert (a.start, a.end) == (9_950, 10_000)  # kept at least min_frames long
    regions.remove(a.region_id)
    assert len(regions) == 1
    with pytest.raises(ValueError, match="too short"):
        regions.add(10, 20)


def test_neighbours_include_regions_that_share_a_start() -> None:
    regions = RegionList(100_000)
    a = regions.add(1_000, 2_000)
    b = regions.add(1_000, 3_000)  # two speakers starting together
    assert regions.neighbour(a.region_id, forward=True) is b
    assert regions.neighbour(b.region_id, forward=False) is a
    assert regions.neighbour(b.region_id, forward=True) is None


def test_a_boundary_near_a_region_end_does_not_leave_a_sliver() -> None:
    regions = RegionList(100_000, min_frames=100)
    regions.add(1_000, 9_000)
    regions.mark_boundary(8_950)  # inside, but too close to the end to split
    assert all(r.end - r.start >= 100 for r in regions)
