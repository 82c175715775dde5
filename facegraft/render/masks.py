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
              *, erode_px: float, blur_px: float) -> np.ndarray:
    """The blend weight of the new face: the outline, eroded and feathered (float32 HxW in [0, 1]).

    Args:
        local_pts: (478, 2+) target landmarks in region coordinates.
        topology: mesh topology (outline ring).
        size: (height, width) of the region.
        covered: bool HxW, pixels the warped texture covers.
        erode_px: erosion of the outline, pixels.
        blur_px: feather width, pixels.
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
    return np.clip(mask, 0.0, 1.0, out=mask)


def mask_holes(local_pts: np.ndarray, topology: MeshTopology, size: tuple[int, int], *, blur_px: float,
               keep_eyes: bool) -> tuple[np.ndarray | None, tuple[int, int, int, int]]:
    """Where the target's own face is kept (mouth opening, eyes if asked), at full resolution.

    Multi-band blending lets low frequencies leak into a narrow hole such as
    the mouth, so the holes are cut with a narrow feather and composited back
    sharply after blending. Only the box around the holes is computed.

    Returns:
        (hole weight float32 in [0, 1] for the box, or None when there is no
        hole; the box (x0, y0, x1, y1) in region pixels).
    """
    h, w = size
    rings = [topology.mouth_inner] + ([topology.left_eye, topology.right_eye] if keep_eyes else [])
    pts = local_pts[[i for ring in rings for i in ring], :2]
    sigma = max(0.8, blur_px / 8.0)
    pad = int(3 * sigma) + 2
    x0, y0 = max(0, int(pts[:, 0].min()) - pad), max(0, int(pts[:, 1].min()) - pad)
    x1, y1 = min(w, int(pts[:, 0].max()) + pad + 1), min(h, int(pts[:, 1].max()) + pad + 1)
    box = (x0, y0, x1, y1)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None, box
    hole = np.zeros((y1 - y0, x1 - x0), np.float32)
    shifted = local_pts[:, :2] - np.array([x0, y0])
    for ring in rings:
        _poly(hole, shifted, ring, 1.0)
    if not hole.any():
        return None, box
    hole = cv2.GaussianBlur(hole, (0, 0), sigma)
    return np.minimum(hole, 1.0, out=hole), box
