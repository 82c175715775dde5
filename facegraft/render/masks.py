"""Masks of the face region: the outline, minus the mouth (and optionally eyes).

The mask follows the (temporally smoothed) landmarks, so it is as steady as
they are. Erosion keeps the seam inside the face, away from hair and
background; feathering hides it. The mouth opening always keeps the target's
teeth and tongue, since the source photo's mouth interior never matches the
target's speech.
"""

from __future__ import annotations

import cv2
import numpy as np

from .topology import MeshTopology


def _poly(mask: np.ndarray, pts: np.ndarray, ring: tuple[int, ...], value: float) -> None:
    cv2.fillPoly(mask, [np.round(pts[list(ring), :2] * 16).astype(np.int32)], value, cv2.LINE_AA, shift=4)


def face_mask(local_pts: np.ndarray, topology: MeshTopology, size: tuple[int, int], covered: np.ndarray,
              *, erode_px: float, blur_px: float, keep_eyes: bool) -> tuple[np.ndarray, np.ndarray]:
    """The blend weight of the new face and the weight of the kept target holes.

    Multi-band blending lets low frequencies leak into a narrow hole such as
    the mouth, so the holes are returned separately and composited back
    sharply after blending.

    Args:
        local_pts: (478, 2+) target landmarks in region coordinates.
        topology: mesh topology (outline, mouth and eye rings).
        size: (height, width) of the region.
        covered: bool HxW, pixels the warped texture covers.
        erode_px: erosion of the outline, pixels.
        blur_px: feather width, pixels.
        keep_eyes: also keep the target's eyes.

    Returns:
        (alpha, hole), both float32 HxW in [0, 1].
    """
    h, w = size
    # Erosion and feathering are low-frequency: do them on a reduced copy.
    f = max(1, int(min(erode_px, blur_px / 2.0) / 2.0))
    small_covered = covered[::f, ::f]  # nearest sampling: cheap, and the outline is blurred anyway
    sh, sw = small_covered.shape
    small_pts = local_pts[:, :2] / f
    mask = np.zeros((sh, sw), np.float32)
    _poly(mask, small_pts, topology.face_oval, 1.0)
    mask *= small_covered
    if erode_px / f >= 1:
        k = int(2 * round(erode_px / f) + 1)
        mask = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    if blur_px / f >= 1:
        mask = cv2.GaussianBlur(mask, (0, 0), blur_px / f / 2.0)
    mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_LINEAR)
    # Holes (mouth, eyes) are cut at full resolution with a narrow feather.
    hole = np.zeros((h, w), np.float32)
    _poly(hole, local_pts, topology.mouth_inner, 1.0)
    if keep_eyes:
        _poly(hole, local_pts, topology.left_eye, 1.0)
        _poly(hole, local_pts, topology.right_eye, 1.0)
    if hole.any():
        hole = cv2.GaussianBlur(hole, (0, 0), max(0.8, blur_px / 8.0))
        mask = np.minimum(mask, 1.0 - hole)
    return np.clip(mask, 0.0, 1.0), hole
