"""Head pose and identity shape: similarity fits between 3-D meshes.

The target's pose and expression must survive while the inner face takes the
source's proportions. A similarity transform (Umeyama) fitted on points that
barely move with expression separates rigid head pose from shape; the
*identity offset* is the difference between the source's shape and the
target's neutral (mean) shape, expressed in the target's canonical frame, and
it is added to every frame after rotating and scaling it into that frame's
pose. Expression lives in the frame's own landmarks, so it is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .topology import LIPS_PART, RIGID_POINTS, MeshTopology

_RIGID = np.array(RIGID_POINTS)


@dataclass(frozen=True, slots=True)
class Similarity:
    """``x -> scale * R @ x + t`` for row vectors: ``scale * x @ R.T + t``."""

    scale: float
    rotation: np.ndarray  # (3, 3)
    translation: np.ndarray  # (3,)

    def apply(self, points: np.ndarray) -> np.ndarray:
        return self.scale * points @ self.rotation.T + self.translation

    def apply_vectors(self, vectors: np.ndarray) -> np.ndarray:
        return self.scale * vectors @ self.rotation.T

    def inverse(self) -> Similarity:
        r_inv = self.rotation.T
        return Similarity(1.0 / self.scale, r_inv, -(r_inv @ self.translation) / self.scale)


def umeyama(src: np.ndarray, dst: np.ndarray) -> Similarity:
    """Least-squares similarity mapping ``src`` points onto ``dst`` (Umeyama 1991)."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    cs, cd = src - mu_s, dst - mu_d
    cov = cd.T @ cs / len(src)
    u, sig, vt = np.linalg.svd(cov)
    d = np.ones(len(sig))
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1
    rot = u @ np.diag(d) @ vt
    var_s = (cs**2).sum() / len(src)
    scale = float((sig * d).sum() / var_s) if var_s > 0 else 1.0
    return Similarity(scale, rot, mu_d - scale * rot @ mu_s)


def _skew(v: np.ndarray) -> np.ndarray:
    """(n, 3, 3) cross-product matrices of (n, 3) vectors."""
    out = np.zeros((*v.shape[:-1], 3, 3))
    out[..., 0, 1], out[..., 0, 2], out[..., 1, 2] = -v[..., 2], v[..., 1], -v[..., 0]
    out[..., 1, 0], out[..., 2, 0], out[..., 2, 1] = v[..., 2], -v[..., 1], v[..., 0]
    return out


def matrices_from_rotvecs(rotvecs: np.ndarray) -> np.ndarray:
    """(n, 3, 3) rotation matrices of (n, 3) rotation vectors (Rodrigues' formula).

    Written out (as ``scipy.spatial.transform.Rotation`` would do it) because
    importing scipy's rotations costs ~0.3 s in every swap process.
    """
    r = np.asarray(rotvecs, np.float64)
    theta = np.linalg.norm(r, axis=-1)[..., None, None]
    small = theta < 1e-8
    safe = np.where(small, 1.0, theta)
    k = _skew(r) / safe
    eye = np.broadcast_to(np.eye(3), k.shape)
    full = eye + np.sin(safe) * k + (1.0 - np.cos(safe)) * (k @ k)
    # Second order near zero: the first-order term alone is not a rotation.
    approx = eye + _skew(r) + 0.5 * (_skew(r) @ _skew(r))
    return np.where(small, approx, full)


def rotvecs_from_matrices(matrices: np.ndarray) -> np.ndarray:
    """(n, 3) rotation vectors of (n, 3, 3) rotation matrices (the inverse of :func:`matrices_from_rotvecs`)."""
    m = np.asarray(matrices, np.float64)
    cos = np.clip((np.trace(m, axis1=-2, axis2=-1) - 1.0) / 2.0, -1.0, 1.0)
    theta = np.arccos(cos)
    vee = np.stack([m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]], -1)
    sin = np.sin(theta)
    scale = np.where(sin > 1e-6, theta / np.maximum(2.0 * sin, 1e-12), 0.5 + theta**2 / 12.0)
    out = vee * scale[..., None]
    # Near a half turn the antisymmetric part vanishes: take the axis from the symmetric part instead.
    for i in np.nonzero(theta > np.pi - 1e-3)[0]:
        sym = (m[i] + np.eye(3)) / 2.0
        axis = sym[int(np.argmax(np.diag(sym)))]
        axis = axis / np.linalg.norm(axis)
        out[i] = theta[i] * (axis if axis @ vee[i] >= 0 else -axis)
    return out


def fit_pose(reference: np.ndarray, landmarks: np.ndarray) -> Similarity:
    """Pose of ``landmarks`` relative to a reference shape, fitted on rigid points."""
    return umeyama(reference[_RIGID], landmarks[_RIGID])


def identity_offset(source: np.ndarray, neutral: np.ndarray,
                    parts: tuple[tuple[int, int, np.ndarray], ...] = ()) -> np.ndarray:
    """Source shape minus the target's neutral shape, in the neutral shape's frame.

    Args:
        source: (478, 3) source landmarks (any pose).
        neutral: (478, 3) the target's mean, pose-normalised landmarks.
        parts: (corner_a, corner_b, weight) of expressive parts (eyes, lips):
            there only the part's position and size move toward the source,
            measured from its two corners, so the source photo's smile or
            blink never replaces the target's expression.
    """
    aligned = fit_pose(source, neutral).apply(source)
    offset = aligned - neutral
    for a, b, weight in parts:
        n_mid, s_mid = (neutral[a] + neutral[b]) / 2, (aligned[a] + aligned[b]) / 2
        scale = np.linalg.norm(aligned[a] - aligned[b]) / max(np.linalg.norm(neutral[a] - neutral[b]), 1e-6)
        whole = (scale - 1.0) * (neutral - n_mid) + (s_mid - n_mid)
        offset = offset + weight[:, None] * (whole - offset)
    return offset.astype(np.float32)


#: Points whose rigid fit defines head pose in evaluation and smoothing: the
#: identity offset must not rotate them as a whole, or the new proportions
#: would read (and look) like a nod or a turn of the head.
_POSE_POINTS = np.array(sorted(set(RIGID_POINTS) | {10, 338, 297, 332, 284, 251, 21, 54, 103, 67, 109, 151, 9, 8,
                                                     168, 6, 197, 195, 5, 4, 234, 454, 127, 356, 93, 323, 116,
                                                     345, 123, 352, 143, 372}))


def pose_neutral(offset: np.ndarray, neutral: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Remove the rigid part (rotation, scale, shift) that an identity offset adds on the pose points.

    Returns an offset that, applied with ``weight``, leaves the similarity fit
    of the pose points where it was: the inner face changes shape, the head
    does not appear to turn.
    """
    shaped = neutral + weight[:, None] * offset
    fit = umeyama(neutral[_POSE_POINTS], shaped[_POSE_POINTS])
    back = fit.inverse().apply(shaped)
    safe = np.where(weight > 0.05, weight, 1.0)[:, None]
    return np.where(weight[:, None] > 0.05, (back - neutral) / safe, 0.0).astype(np.float32)


#: Forehead top and chin: the face's own vertical axis in any shape.
_FOREHEAD, _CHIN = 10, 152


def damp_vertical(offset: np.ndarray, neutral: np.ndarray, part_weight: np.ndarray, keep: float) -> np.ndarray:
    """``offset`` with only ``keep`` of its move along the face's vertical axis where ``part_weight`` is 1.

    Used on the lips (see :mod:`facegraft.posecheck`): a smiling source photo
    lifts its mouth corners, and the mouth moved up by as much inside the
    target's unchanged jaw reads as the head tilting back.
    """
    if keep >= 1.0:
        return offset
    axis = neutral[_CHIN] - neutral[_FOREHEAD]
    axis = axis / max(float(np.linalg.norm(axis)), 1e-9)
    along = offset @ axis
    cut = (1.0 - keep) * part_weight * along
    return (offset - cut[:, None] * axis[None, :]).astype(np.float32)


def shape_offset(source_shape: np.ndarray, neutral: np.ndarray, weight: np.ndarray,
                 parts: tuple[tuple[int, int, np.ndarray], ...], mouth_rise: float = 1.0) -> np.ndarray:
    """The identity offset from ``neutral`` toward the source, pose-neutral, lips' rise kept by ``mouth_rise``.

    Unweighted: :func:`apply_identity` (or the planner) applies the per-point
    weight and the strength.
    """
    offset = pose_neutral(identity_offset(source_shape, neutral, parts), neutral, weight)
    if mouth_rise < 1.0 and len(parts) > LIPS_PART:
        offset = damp_vertical(offset, neutral, parts[LIPS_PART][2], mouth_rise)
    return offset


def apply_identity(landmarks: np.ndarray, neutral: np.ndarray, offset: np.ndarray, weight: np.ndarray,
                   strength: float) -> np.ndarray:
    """Move a frame's landmarks toward the source's proportions, keeping pose and expression.

    Args:
        landmarks: (478, 3) the target frame's landmarks (pixels).
        neutral: (478, 3) the target's neutral shape the offset was measured against.
        offset: (478, 3) from :func:`identity_offset`.
        weight: (478,) per-point weight (0 on the outline, 1 inside).
        strength: 0 keeps the target's shape, 1 takes the source's inner shape.
    """
    if strength <= 0:
        return landmarks
    pose = fit_pose(neutral, landmarks)
    return (landmarks + strength * weight[:, None] * pose.apply_vectors(offset)).astype(np.float32)


def shape_still(landmarks: np.ndarray, source_shape: np.ndarray, topology: MeshTopology,
                strength: float, mouth_rise: float = 1.0) -> np.ndarray:
    """Identity shape for a single frame (a still image), whose own shape stands in for the neutral one.

    ``mouth_rise``: share of the lips' vertical move kept (:func:`damp_vertical`).
    """
    offset = shape_offset(source_shape, landmarks, topology.identity_weight, topology.parts, mouth_rise)
    return apply_identity(landmarks, landmarks, offset, topology.identity_weight, strength)
