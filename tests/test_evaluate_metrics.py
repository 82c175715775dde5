"""Metrics on plain arrays with known answers (no video, no models)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from facegraft.evaluate import metrics as m


def _rot(yaw: float, pitch: float, roll: float) -> np.ndarray:
    y, p, r = np.radians([yaw, pitch, roll])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    return rz @ ry @ rx


@pytest.fixture()
def mesh() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.normal(0, 50, (478, 3)) + np.array([200.0, 150.0, 0.0])


def test_pose_difference_recovers_known_rotation(mesh: np.ndarray) -> None:
    assert m.pose_difference(mesh, mesh) == pytest.approx((0, 0, 0), abs=1e-9)
    centre = mesh.mean(0)
    moved = (mesh - centre) @ _rot(12.0, -7.0, 20.0).T * 1.3 + centre + 40
    assert m.pose_difference(mesh, moved) == pytest.approx((12.0, -7.0, 20.0), abs=1e-6)


def test_pose_ignores_non_rigid_points(mesh: np.ndarray) -> None:
    open_mouth = mesh.copy()
    open_mouth[m.LOWER_LIP, 1] += 30  # expression: not a rigid point
    assert m.pose_difference(mesh, open_mouth) == pytest.approx((0, 0, 0), abs=1e-9)
    assert m.mouth_opening(open_mouth) > m.mouth_opening(mesh)


def test_pearson() -> None:
    a = np.sin(np.linspace(0, 6, 50))
    assert m.pearson(a, 3 * a + 1) == pytest.approx(1.0)
    assert m.pearson(a, -a) == pytest.approx(-1.0)
    assert m.pearson(a, np.ones(50)) is None
    b = a.copy()
    b[5] = np.nan
    assert m.pearson(a, b) == pytest.approx(1.0)


def test_psnr_and_masks() -> None:
    a = np.full((40, 40, 3), 100, np.uint8)
    b = a.copy()
    b[10:20, 10:20] = 0
    inside = np.zeros((40, 40), bool)
    inside[5:25, 5:25] = True
    assert m.psnr(a, b, ~inside) == math.inf
    assert m.psnr(a, b, inside) < 20
    assert m.psnr_from_mse(0.0, 10) == math.inf
    hull = m.face_region((40, 40), [np.array([[10, 10], [20, 10], [20, 20], [10, 20]], float)], dilate=0.0)
    grown = m.face_region((40, 40), [np.array([[10, 10], [20, 10], [20, 20], [10, 20]], float)], dilate=0.3)
    assert hull[15, 15] and not hull[5, 15] and grown[8, 15] and grown.sum() > hull.sum()


def test_second_difference_energy_rises_with_jitter() -> None:
    t = np.linspace(0, 1, 40)[:, None, None]
    base = np.zeros((40, 478, 2))
    base[:, 33] = [0, 0]
    base[:, 263] = [100, 0]
    smooth = base + 30 * t  # constant velocity: zero second difference
    assert m.second_difference_energy(smooth) == pytest.approx(0.0, abs=1e-20)
    shaky = smooth + np.random.default_rng(1).normal(0, 1, (40, 1, 2))
    assert m.second_difference_energy(shaky) > 1e-5
    gaps = shaky.copy()
    gaps[::2] = np.nan
    assert m.second_difference_energy(gaps) is None


def test_ratio_and_summary() -> None:
    assert m.ratio(0.0, 0.0) == 1.0
    assert m.ratio(2.0, 1.0) == 2.0
    assert m.ratio(None, 1.0) is None
    assert m.summary([1.0, None, 3.0, math.inf]) == {"n": 2, "median": 2.0, "mean": 2.0, "max": 3.0}
