"""Temporal planning: smoothing without lag, gap filling, track ends."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from facegraft.render.topology import mesh_topology
from facegraft.temporal import TrackSettings, plan_track
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


def test_face_record_box():
    lm = BASE.astype(np.float32)
    face = Face(bbox=bbox_of(lm), score=1.0, landmarks=lm)
    assert face.width > 0 and face.area == face.width * face.height
