"""Temporal planning: smoothing without lag, gap filling, track ends."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

import facegraft.temporal as temporal
from facegraft.render.topology import mesh_topology
from facegraft.temporal import TrackSettings, _interp_rows, plan_faces, plan_track
from facegraft.types import Face, bbox_of

RNG = np.random.default_rng(7)
BASE = RNG.normal(scale=40.0, size=(478, 3)).astype(np.float64)


def _track(n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """A head turning smoothly (yaw ramp) and moving right, with landmark noise."""
    truth = []
    for i in range(n):
        rot = Rotation.from_euler("y", 0.5 * i / n).as_matrix()
        truth.append(BASE @ rot.T + [300 + 2 * i, 200, 0])
    truth = np.stack(truth)
    return truth, truth + RNG.normal(scale=noise, size=truth.shape)


def _hf_energy(x: np.ndarray) -> float:
    return float((np.diff(x, 2, axis=0) ** 2).mean())


def test_smoothing_removes_jitter_but_follows_motion():
    truth, noisy = _track(60, 1.5)
    weight = mesh_topology().identity_weight
    planned = plan_track(np.arange(60), noisy, TrackSettings(smoothing=0.5, shape_strength=0.0), None, weight)
    out = np.stack([lm for _, lm, _, _ in planned])
    assert _hf_energy(out) < 0.25 * _hf_energy(noisy)
    # Zero-phase: no lag behind the true motion (error well under the noise level).
    assert np.abs(out - truth).mean() < 0.8 * np.abs(noisy - truth).mean()


def test_smoothing_off_returns_the_detections():
    _, noisy = _track(30, 1.0)
    planned = plan_track(np.arange(30), noisy, TrackSettings(smoothing=0.0, shape_strength=0.0), None,
                         mesh_topology().identity_weight)
    np.testing.assert_allclose(np.stack([lm for _, lm, _, _ in planned]), noisy, atol=1e-3)


def test_short_gaps_are_filled_and_long_gaps_end_the_swap():
    truth, noisy = _track(80, 0.5)
    seen = np.r_[0:20, 25:40, 70:80]  # a 5-frame miss (bridged) and a 30-frame absence (not bridged)
    planned = plan_track(seen, noisy[seen], TrackSettings(smoothing=0.5, max_gap=12, shape_strength=0.0), None,
                         mesh_topology().identity_weight)
    frames = [f for f, _, _, _ in planned]
    filled = {f for f, _, _, interp in planned if interp}
    assert set(range(20, 25)) == filled
    assert not set(range(40, 70)) & set(frames)
    by_frame = {f: lm for f, lm, _, _ in planned}
    # Interpolated frames lie on the true path (within a few pixels).
    assert max(np.abs(by_frame[f] - truth[f]).mean() for f in range(20, 25)) < 3.0


def test_identity_shape_keeps_pose_and_moves_inner_points_only():
    truth, _ = _track(20, 0.0)
    source = BASE * [1.1, 0.9, 1.0]  # a differently proportioned person
    weight = mesh_topology().identity_weight
    planned = plan_track(np.arange(20), truth, TrackSettings(smoothing=0.0, shape_strength=1.0), source, weight)
    out = np.stack([lm for _, lm, _, _ in planned])
    outline = weight == 0
    np.testing.assert_allclose(out[:, outline], truth[:, outline], atol=1e-3)
    assert np.abs(out[:, weight == 1] - truth[:, weight == 1]).mean() > 1.0


def test_long_tracks_planned_in_chunks_equal_the_whole_track(monkeypatch):
    n = 5 * temporal.CHUNK + 37
    _, noisy = _track(n, 1.0)
    # Misses of 1-12 frames (bridged) near chunk borders, and a 20-frame absence (a new segment).
    seen = np.setdiff1d(np.arange(n), np.r_[120:127, 255:256, 380:392, 400:420, 513:520])
    source = BASE * [1.1, 0.9, 1.0]
    weight = mesh_topology().identity_weight
    settings = TrackSettings(smoothing=1.0, max_gap=12, shape_strength=0.8)  # the widest filter windows
    chunked = plan_track(seen, noisy[seen], settings, source, weight)
    monkeypatch.setattr(temporal, "CHUNK", 10 * n)
    whole = plan_track(seen, noisy[seen], settings, source, weight)
    assert [(f, i) for f, _, _, i in chunked] == [(f, i) for f, _, _, i in whole]
    assert sum(i for _, _, _, i in whole) == 7 + 1 + 12 + 7
    np.testing.assert_allclose(np.stack([lm for _, lm, _, _ in chunked]), np.stack([lm for _, lm, _, _ in whole]),
                               atol=1e-4)
    np.testing.assert_allclose(np.stack([b for _, _, b, _ in chunked]), np.stack([b for _, _, b, _ in whole]),
                               atol=1e-4)


def test_row_interpolation_matches_np_interp():
    known = np.array([3, 4, 9, 10, 17])
    values = RNG.normal(size=(5, 40))
    frames = np.arange(3, 18)
    expected = np.stack([np.interp(frames, known, values[:, k]) for k in range(40)], axis=1)
    np.testing.assert_allclose(_interp_rows(frames, known, values), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(_interp_rows(known, known, values), values)


def _planning_peak(n: int, folder) -> tuple[int, int]:
    """Peak and retained bytes (tracemalloc) of plan_faces on one n-frame track, faces as the analysis holds them."""
    _, noisy = _track(n, 1.0)
    frames = [[Face(bbox=bbox_of(lm), score=1.0, landmarks=lm.astype(np.float32), track_id=1, identity_id=0,
                    frame_index=i)] for i, lm in enumerate(noisy)]
    del noisy
    topology = mesh_topology()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        plan = plan_faces(frames, {0: 0}, TrackSettings(), [BASE * [1.1, 0.9, 1.0]], topology.identity_weight,
                          topology.parts, folder=folder)
        assert len(plan) == n
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - start, current - start


def test_planning_memory_does_not_grow_with_video_length(tmp_path):
    short_peak, _ = _planning_peak(300, tmp_path)
    long_peak, retained = _planning_peak(1500, tmp_path)
    # Chunk temporaries only (a whole-track plan in memory took ~60 KB a frame at its peak, 12 KB kept).
    assert long_peak < 1.2 * short_peak + 1e6, (short_peak, long_peak)
    assert retained / 1500 < 500  # the store's index: bytes a face-frame


def test_face_record_box():
    lm = BASE.astype(np.float32)
    face = Face(bbox=bbox_of(lm), score=1.0, landmarks=lm)
    assert face.width > 0 and face.area == face.width * face.height


@pytest.mark.parametrize(("n", "window"), [(5, 5), (6, 5), (13, 13), (40, 7), (200, 13)])
def test_savgol_equals_scipys_interp_mode(n, window):
    """Our Savitzky-Golay (no scipy.signal import) gives scipy's ``mode="interp"`` result, edges included."""
    from scipy.signal import savgol_filter

    from facegraft.temporal import savgol

    x = np.random.default_rng(n).normal(size=(n, 478, 3)).cumsum(axis=0)
    np.testing.assert_allclose(savgol(x, window, 2), savgol_filter(x, window, 2, axis=0, mode="interp"),
                               rtol=0, atol=1e-9)


def test_own_rotation_vectors_match_scipy():
    """The planner's Rodrigues conversions (no scipy.spatial import in a swap) agree with scipy's."""
    from facegraft.render.shape import matrices_from_rotvecs, rotvecs_from_matrices

    rng = np.random.default_rng(3)
    r = rng.normal(size=(500, 3))
    r *= (rng.uniform(0, np.pi, 500) / np.linalg.norm(r, axis=1))[:, None]
    r = np.concatenate([r, [[0, 0, 0], [1e-10, 0, 0], [0, np.pi - 1e-6, 0], [0, 0, np.pi]]])
    expected = Rotation.from_rotvec(r).as_matrix()
    np.testing.assert_allclose(matrices_from_rotvecs(r), expected, atol=1e-12)
    back = rotvecs_from_matrices(expected)
    np.testing.assert_allclose(matrices_from_rotvecs(back), expected, atol=1e-8)  # a half turn's sign is free
    np.testing.assert_allclose(back[:-2], Rotation.from_matrix(expected[:-2]).as_rotvec(), atol=1e-8)
