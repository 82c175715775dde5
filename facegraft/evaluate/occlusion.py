"""The ``occlusion`` section of ``facegraft eval``: does what covers the face stay in front?

Given the ground-truth mask of an occluder (a grayscale video, 255 on the
occluder, as ``tests/occluders.py`` writes for its composites), three
figures are read from the swap output against the pass-through encode of
the target (so encoder noise is not counted as change):

* ``occluder_kept``: share of occluder pixels over a replaced face (inside
  the convex hull of its mesh) whose colour is unchanged (every channel
  within :data:`KEPT_LEVELS`). Target >= 0.97.
* ``visible_replaced``: share of frames whose face the occluder covers (at
  least :data:`MIN_COVER` of the hull) in which the visible face is still
  replaced (at least :data:`REPLACED_SHARE` of its pixels changed): no
  flash back to the original behind a hand. Target >= 0.95.
* ``edge_flicker``: mean frame-to-frame change of the replaced share in a
  band around the occluder's edge (:data:`BAND` of the face width each
  side) over consecutive covered frames; a steady edge reads near 0, a
  mask that comes and goes near 0.5.

A control must read clean: the pass-through itself gives ``occluder_kept``
1.0 and ``visible_replaced`` 0.0, and a swap with ``--occlusion off`` a low
``occluder_kept`` (tests/test_occlusion.py).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..types import Face

#: A pixel is unchanged when every channel differs by at most this (8-bit levels; crf 18 noise is ~2-6).
KEPT_LEVELS = 16
#: A pixel counts as replaced when some channel differs by more than this.
CHANGED_LEVELS = 16
#: A frame counts as covered when the occluder covers at least this share of the face's hull.
MIN_COVER = 0.03
#: The visible face counts as replaced when at least this share of its pixels changed.
REPLACED_SHARE = 0.3
#: Margin (share of the face width) kept between the visible face and the occluder, and the edge band's half width.
BAND = 0.04


def _frames(path: str | Path, gray: bool = False) -> Any:
    import av

    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            yield f.to_ndarray(format="gray" if gray else "rgb24")


def _hull(faces: list[Face], shape: tuple[int, int]) -> tuple[np.ndarray, float]:
    hull = np.zeros(shape, np.uint8)
    width = 0.0
    for f in faces:
        pts = np.round(f.landmarks[:, :2]).astype(np.int32)
        cv2.fillConvexPoly(hull, cv2.convexHull(pts), 1)
        width = max(width, f.width)
    return hull > 0, width


def occlusion_section(reference: str | Path, output: str | Path, mask: str | Path,
                      faces: list[list[Face]]) -> dict[str, Any]:
    """The ``occlusion`` figures (module docstring) of ``output`` against ``reference``.

    Args:
        reference: the target as it would be without a swap (the pass-through encode).
        output: the swap output.
        mask: grayscale video of the occluder (>= 128 on it), frame for frame with the target.
        faces: the replaced faces per frame (the evaluator's selection).
    """
    kept = total = 0
    covered = replaced = 0
    shares: list[float | None] = []
    for i, (ref, out, occ) in enumerate(zip(_frames(reference), _frames(output), _frames(mask, True),
                                            strict=False)):
        face_list = faces[i] if i < len(faces) else []
        if not face_list:
            shares.append(None)
            continue
        hull, width = _hull(face_list, ref.shape[:2])
        diff = np.abs(ref.astype(np.int16) - out.astype(np.int16)).max(axis=2)
        gt = (occ >= 128) & hull
        n = int(np.count_nonzero(gt))
        if n == 0 or n < MIN_COVER * np.count_nonzero(hull):
            shares.append(None)
            total += n
            kept += int(np.count_nonzero(diff[gt] <= KEPT_LEVELS))
            continue
        total += n
        kept += int(np.count_nonzero(diff[gt] <= KEPT_LEVELS))
        k = max(3, int(2 * BAND * width) | 1)
        grown = cv2.dilate((occ >= 128).view(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))) > 0
        visible = hull & ~grown
        covered += 1
        if np.count_nonzero(visible) and np.mean(diff[visible] > CHANGED_LEVELS) >= REPLACED_SHARE:
            replaced += 1
        shrunk = cv2.erode((occ >= 128).view(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))) > 0
        band = grown & ~shrunk & hull
        shares.append(float(np.mean(diff[band] > CHANGED_LEVELS)) if np.count_nonzero(band) else None)
    steps = [abs(b - a) for a, b in itertools.pairwise(shares) if a is not None and b is not None]
    return {
        "occluder_pixels": total,
        "occluder_kept": kept / total if total else None,
        "covered_frames": covered,
        "visible_replaced": replaced / covered if covered else None,
        "edge_flicker": float(np.mean(steps)) if steps else None,
        "targets": {"occluder_kept": 0.97, "visible_replaced": 0.95},
    }
