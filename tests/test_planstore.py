"""The plan on disk: reads like the dict it replaces, ships as one, leaves no file behind."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from facegraft.planstore import PlannedFace, PlanStore

RNG = np.random.default_rng(3)


def _faces(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    shaped = RNG.normal(scale=100.0, size=(len(frames), 478, 3)).astype(np.float32)
    return shaped, shaped + np.float32(1.5)


@pytest.fixture
def planned(tmp_path) -> tuple[PlanStore, dict[int, list[PlannedFace]]]:
    """Two tracks (the second overlaps the first in frames 40-59), as a store and as the equivalent dict."""
    store = PlanStore(tmp_path)
    expected: dict[int, list[PlannedFace]] = {}
    for track, identity, source, frames in [(3, 0, 0, np.arange(0, 60)), (7, 1, 1, np.arange(40, 90))]:
        shaped, base = _faces(frames)
        interp = frames % 11 == 5
        for half in (slice(0, 25), slice(25, None)):  # added in two chunks, as the planner does
            store.add(frames[half], track_id=track, identity_id=identity, source_index=source,
                      landmarks=shaped[half], base=base[half], interpolated=interp[half])
        for k, f in enumerate(frames):
            expected.setdefault(int(f), []).append(
                PlannedFace(int(f), track, identity, source, shaped[k], bool(interp[k]), base[k]))
    return store, expected


def _same(got: list[PlannedFace], want: list[PlannedFace]) -> None:
    assert [(p.frame_index, p.track_id, p.identity_id, p.source_index, p.interpolated) for p in got] == \
        [(p.frame_index, p.track_id, p.identity_id, p.source_index, p.interpolated) for p in want]
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(a.landmarks, b.landmarks)
        np.testing.assert_array_equal(a.base, b.base)


def test_store_reads_like_the_dict(planned):
    store, expected = planned
    assert len(store) == len(expected) == 90 and store.faces() == 110 and bool(store)
    assert list(store) == sorted(expected) and store.keys() == expected.keys()
    assert 45 in store and 90 not in store and -1 not in store and "45" not in store
    assert store.get(95) is None and store.get(95, ()) == ()
    with pytest.raises(KeyError):
        store[95]
    for frame, faces in store.items():
        _same(faces, expected[frame])  # frames 40-59: track 3 then track 7, the order they were planned in
    face = store[50][1]
    face.landmarks[0, 0] += 1.0  # the renderer gets writable arrays of its own
    assert store[50][1].landmarks[0, 0] == expected[50][1].landmarks[0, 0]


def test_window_and_pickle_give_a_segment_in_memory(planned):
    store, expected = planned
    part = store.window(30, 45)
    assert list(part) == list(range(30, 45)) and len(part) == 15
    shipped = pickle.loads(pickle.dumps(part))
    assert type(shipped) is dict and shipped.keys() == {k: 0 for k in range(30, 45)}.keys()
    for frame in range(30, 45):
        _same(shipped[frame], expected[frame])
    assert len(pickle.dumps(part)) < len(pickle.dumps(store)) / 4


def test_adding_after_reading_keeps_frame_order(planned):
    store, _ = planned
    assert len(store) == 90
    shaped, base = _faces(np.array([10, 100]))
    store.add(np.array([10, 100]), track_id=9, identity_id=2, source_index=0, landmarks=shaped, base=base,
              interpolated=np.zeros(2, bool))
    assert len(store) == 91 and [p.track_id for p in store[10]] == [3, 9]
    np.testing.assert_array_equal(store[100][0].base, base[1])


def test_the_file_is_anonymous_and_goes_with_the_store(tmp_path, planned):
    store, _ = planned
    assert os.listdir(tmp_path) == []  # unlinked when created: nothing to leave behind, even on SIGKILL
    view = store.window(0, 10)
    del store
    assert len(view[5]) == 1  # a window keeps the file open
    with PlanStore(tmp_path) as other:
        shaped, base = _faces(np.array([0]))
        other.add(np.array([0]), track_id=0, identity_id=0, source_index=0, landmarks=shaped, base=base,
                  interpolated=np.zeros(1, bool))
    with pytest.raises(ValueError):
        other.get(0)  # closed
