"""Swap-quality metrics on plain arrays: pose, expression, flicker, jitter, fidelity.

Every function here takes numpy arrays (RGB frames, 478-point meshes in
full-frame pixels as described in :mod:`facegraft.types`) and returns numbers,
so the metrics can be tested on synthetic input with known answers and reused
by the evaluator, the benchmark and the tests without decoding any video.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import cv2
import numpy as np

#: Mesh points that barely move with expression or with the renderer's
#: identity-shape morph (forehead, temples, nose bridge, cheekbones), used to
#: fit the rigid head rotation so that a smile or the source's inner-face
#: shape does not read as a head turn.
RIGID_POINTS = (10, 338, 297, 332, 284, 251, 21, 54, 103, 67, 109, 151, 9, 8, 168, 6, 197, 195, 5, 4,
                234, 454, 127, 356, 93, 323, 116, 345, 123, 352, 143, 372)
#: Inner lips (upper, lower) and outer eye corners (for the face scale).
UPPER_LIP, LOWER_LIP = 13, 14
EYE_CORNERS = (33, 263)
#: (upper lid, lower lid, corner a, corner b) of each eye.
EYES = ((159, 145, 33, 133), (386, 374, 362, 263))


def similarity_fit(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares similarity transform ``dst ≈ s * R @ src + t`` (Umeyama), as a tuple.

    Returns:
        (scale, rotation (3, 3) with det +1, translation (3,)).
    """
    from ..render.shape import umeyama

    fit = umeyama(src, dst)
    return fit.scale, fit.rotation, fit.translation


def euler_degrees(rot: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of ``rot = Rz(roll) @ Ry(yaw) @ Rx(pitch)``.

    Axes are the image's: x right, y down, z away from the camera (mediapipe's
    convention), so roll is the in-plane rotation, yaw a turn about the
    vertical axis and pitch a nod.
    """
    yaw = math.asin(float(np.clip(-rot[2, 0], -1.0, 1.0)))
    pitch = math.atan2(float(rot[2, 1]), float(rot[2, 2]))
    roll = math.atan2(float(rot[1, 0]), float(rot[0, 0]))
    return math.degrees(yaw), math.degrees(pitch), math.degrees(roll)


def pose_difference(reference: np.ndarray, other: np.ndarray) -> tuple[float, float, float]:
    """Head rotation of ``other`` relative to ``reference`` as (yaw, pitch, roll) degrees.

    A rigid (similarity) fit of the expression-stable mesh points of one face
    onto the other's, so no canonical 3-D model is needed and identical meshes
    give exactly zero; a frame rotated in the image plane by θ gives roll ±θ.

    Args:
        reference: (478, 3) mesh of the target face.
        other: (478, 3) mesh of the output face in the same frame.
    """
    idx = list(RIGID_POINTS)
    _, rot, _ = similarity_fit(np.asarray(reference)[idx, :3], np.asarray(other)[idx, :3])
    return euler_degrees(rot)


def face_scale(landmarks: np.ndarray) -> float:
    """3-D distance between the outer eye corners: a size that ignores expression."""
    a, b = EYE_CORNERS
    return float(np.linalg.norm(landmarks[a, :3] - landmarks[b, :3]))


def mouth_opening(landmarks: np.ndarray) -> float:
    """Inner-lip gap divided by :func:`face_scale` (0 when the mouth is closed)."""
    gap = np.linalg.norm(landmarks[UPPER_LIP, :3] - landmarks[LOWER_LIP, :3])
    return float(gap / max(face_scale(landmarks), 1e-6))


def eye_opening(landmarks: np.ndarray) -> float:
    """Mean over both eyes of the lid gap divided by the eye's width."""
    values = []
    for top, bottom, c0, c1 in EYES:
        gap = np.linalg.norm(landmarks[top, :3] - landmarks[bottom, :3])
        width = np.linalg.norm(landmarks[c0, :3] - landmarks[c1, :3])
        values.append(gap / max(width, 1e-6))
    return float(np.mean(values))


def pearson(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Pearson correlation of two series, skipping pairs where either is NaN.

    Returns None when fewer than three pairs remain or a series is constant
    (correlation is undefined there, and 0 would read as "no agreement").
    """
    x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(x) < 3 or x.std() < 1e-12 or y.std() < 1e-12:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def face_region(shape: tuple[int, ...], faces: Iterable[np.ndarray], *, dilate: float = 0.15) -> np.ndarray:
    """Boolean mask of the convex hulls of some meshes, dilated by a fraction of each face's size.

    Args:
        shape: frame shape (H, W, ...).
        faces: (N, 2+) landmark arrays in pixels.
        dilate: growth of the hull as a fraction of the face's larger bbox side, so the
            renderer's feathered edge falls inside the region.
    """
    h, w = shape[:2]
    mask = np.zeros((h, w), bool)
    for lm in faces:
        pts = np.asarray(lm, np.float64)[:, :2]
        radius = round(dilate * float(max(np.ptp(pts[:, 0]), np.ptp(pts[:, 1]))))
        # Work in the face's own box: a distance transform there is linear in
        # its area, where a dilation by a large round kernel is not.
        x0 = max(0, int(np.floor(pts[:, 0].min())) - radius - 1)
        y0 = max(0, int(np.floor(pts[:, 1].min())) - radius - 1)
        x1 = min(w, int(np.ceil(pts[:, 0].max())) + radius + 2)
        y1 = min(h, int(np.ceil(pts[:, 1].max())) + radius + 2)
        if x1 <= x0 or y1 <= y0:
            continue
        roi = np.zeros((y1 - y0, x1 - x0), np.uint8)
        hull = cv2.convexHull(np.round(pts - [x0, y0]).astype(np.int32))
        cv2.fillConvexPoly(roi, hull, 1)
        if radius > 0:
            dist = cv2.distanceTransform((1 - roi).astype(np.uint8), cv2.DIST_L2, 5)
            roi = (dist <= radius).astype(np.uint8)
        mask[y0:y1, x0:x1] |= roi.astype(bool)
    return mask


def mean_abs_change(previous: np.ndarray, current: np.ndarray, mask: np.ndarray) -> float | None:
    """Mean absolute difference of two frames inside ``mask`` (None for an empty mask)."""
    if not mask.any():
        return None
    diff = np.abs(current[mask].astype(np.int16) - previous[mask].astype(np.int16))
    return float(diff.mean())


def texture_energy(previous: np.ndarray, current: np.ndarray, mask: np.ndarray) -> float | None:
    """Mean gradient magnitude (grey levels per pixel) of two frames' average inside ``mask``.

    A moving textured surface changes by about ``|gradient . motion|`` per
    frame, so raw frame-to-frame change grows with texture contrast even
    when nothing flickers. Dividing by this energy gives a change measured
    in "pixels of apparent motion", comparable between a smooth original
    face and a more textured swapped one.
    """
    if not mask.any():
        return None
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    grey = (_grey(previous[y0:y1, x0:x1]) + _grey(current[y0:y1, x0:x1])) / 2
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3) / 8
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3) / 8
    return float((np.abs(gx) + np.abs(gy))[mask[y0:y1, x0:x1]].mean())


def mean_level(image: np.ndarray, mask: np.ndarray) -> float | None:
    """Mean grey level inside ``mask`` (for brightness flicker)."""
    return float(_grey(image)[mask].mean()) if mask.any() else None


def _grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32) if image.ndim == 3 else image.astype(np.float32)


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """PSNR in dB of two uint8 images, optionally only where ``mask`` is True; inf when identical."""
    if mask is not None:
        a, b = a[mask], b[mask]
    if a.size == 0:
        return math.inf
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0.0 else 10.0 * math.log10(255.0**2 / mse)


def psnr_from_mse(sum_sq: float, count: int) -> float:
    """PSNR of an accumulated squared error (several frames pooled); inf when zero."""
    if count == 0 or sum_sq == 0.0:
        return math.inf
    return 10.0 * math.log10(255.0**2 / (sum_sq / count))


def second_difference_energy(track: np.ndarray) -> float | None:
    """Mean squared second temporal difference of landmark trajectories, in face-size units.

    Smooth head motion has a small second difference while frame-to-frame
    jitter has a large one, so this is a high-pass energy without choosing a
    cutoff. Each frame is divided by its face scale so near and far faces
    compare. NaN frames (no face) break the trajectory: only triples of
    consecutive valid frames count.

    Args:
        track: (T, N, 2+) landmarks per frame (NaN where no face).

    Returns:
        The energy, or None when no three consecutive frames have a face.
    """
    track = np.asarray(track, np.float64)[:, :, :2]
    scales = np.array([_scale2d(f) for f in track])
    norm = track / scales[:, None, None]
    d2 = norm[2:] - 2 * norm[1:-1] + norm[:-2]
    valid = np.isfinite(d2).all(axis=(1, 2))
    if not valid.any():
        return None
    return float(np.mean(np.sum(d2[valid] ** 2, axis=2)))


def _scale2d(frame: np.ndarray) -> float:
    a, b = EYE_CORNERS
    if not np.isfinite(frame[[a, b]]).all():
        return math.nan
    return max(float(np.linalg.norm(frame[a] - frame[b])), 1e-6)


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, None when either is missing; inf for x/0 with x > 0, 1 for 0/0."""
    if numerator is None or denominator is None:
        return None
    if denominator == 0:
        return 1.0 if numerator == 0 else math.inf
    return numerator / denominator


def summary(values: Iterable[float | None]) -> dict[str, float | int | None]:
    """Median, mean, max and count of the finite values (None entries skipped)."""
    arr = np.array([v for v in values if v is not None and math.isfinite(v)], np.float64)
    if arr.size == 0:
        return {"n": 0, "median": None, "mean": None, "max": None}
    return {"n": int(arr.size), "median": float(np.median(arr)), "mean": float(arr.mean()),
            "max": float(arr.max())}
