"""Source photo validity: a fringe over the forehead is not face, the brows under it are."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import shared_file

from facegraft.render.source import BROW_PAIRS, _above_brows, skin_validity
from facegraft.render.topology import mesh_topology


def _regions(shape: tuple[int, int], lm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The forehead inside the face outline, well above the brows; and the brows' own mesh band."""
    topo = mesh_topology()

    def hull(points) -> np.ndarray:
        mask = np.zeros(shape, np.uint8)
        cv2.fillConvexPoly(mask, cv2.convexHull(np.round(lm[list(points), :2]).astype(np.int32)), 1)
        return mask.astype(bool)

    brow_h = np.mean([np.linalg.norm(lm[a, :2] - lm[b, :2]) for a, b in BROW_PAIRS])
    forehead = hull(topo.face_oval) & _above_brows(shape, lm - np.array([0.0, 1.5 * brow_h, 0.0]))
    return forehead, hull(topo.left_brow) | hull(topo.right_brow)


@pytest.mark.parametrize(("photo", "fringe"), [("lp_src_s1.jpg", True), ("fr_obama.jpg", False),
                                               ("fr_biden.jpg", False)])
def test_fringe_is_not_face_but_brows_and_cheeks_are(models, photo, fringe):
    """Diana's soft brown fringe (which the plain colour test let through on half the forehead) is
    marked not-face; a bare forehead stays face; brows, lids and cheeks stay face in every photo."""
    from facegraft.media import read_image

    image = read_image(shared_file(f"images/{photo}"))
    lm = models.detector.detect(image)[0].landmarks
    valid = skin_validity(image, lm, mesh_topology()) > 128
    forehead, brows = _regions(image.shape[:2], lm)
    assert forehead.sum() > 2000
    share = valid[forehead].mean()
    assert (share < 0.1) if fringe else (share > 0.9)
    assert valid[brows].mean() > 0.95
    xy = np.round(lm[[50, 280, 4, 159, 386, 145, 374], :2]).astype(int)  # cheeks, nose tip, lids
    assert valid[xy[:, 1], xy[:, 0]].all()
