"""Realism figures of one face on plain arrays: regions, skin tone, shading and feature colour.

Every function takes RGB frames converted once to CIELAB (:func:`to_lab`,
L* in 0-100, a*/b* in CIELAB units) and 478-point meshes in the same
pixels (a crop around the face), and returns numbers, so each figure can be checked on synthetic input
and reused by :mod:`facegraft.evaluate.realism` without decoding video.

Regions are placed by the mesh, never by fixed pixel boxes, so they follow
the head through turns and tilts and sit on the same part of the face in the
original frame, the output frame and the source photo. Colour differences
are CIE ΔE76 (Euclidean distance in L*a*b*): the feature figure needs a
plain distance to a segment in the a*b* plane, which ΔE2000's
colour-dependent weights do not give, and ΔE76 keeps it and the skin
figure in one unit. Seam, ghost and grain figures live in
:mod:`facegraft.evaluate.realism_texture`.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..render.topology import MOUTH_INNER, MOUTH_OUTER, MeshTopology

#: Skin patches, each the convex hull of a few mesh points shrunk toward its
#: centre (so hair, brows and the lips stay out): both cheeks, forehead, chin.
#: Cheeks sit on the malar skin below the eye and outside the nose-lip fold.
PATCHES: dict[str, tuple[int, ...]] = {
    "right_cheek": (117, 118, 101, 36, 205, 187, 123),
    "left_cheek": (346, 347, 330, 266, 425, 411, 352),
    "forehead": (67, 109, 10, 338, 297, 299, 337, 151, 108, 69),
    "chin": (201, 200, 421, 428, 199, 208),
}
PATCH_SHRINK = 0.75
#: Iris rings (468 and 473 are the centres), see mediapipe's refined mesh.
IRISES = ((468, (469, 470, 471, 472)), (473, (474, 475, 476, 477)))


def to_lab(rgb: np.ndarray) -> np.ndarray:
    """RGB uint8 → float32 CIELAB (D65, sRGB companding), L* 0-100."""
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)


def face_size(landmarks: np.ndarray) -> float:
    """The larger side of the mesh's box, pixels."""
    pts = landmarks[:, :2]
    return float(max(np.ptp(pts[:, 0]), np.ptp(pts[:, 1]), 1.0))


def _hull_mask(shape: tuple[int, int], pts: np.ndarray, shrink: float = 1.0, grow: float = 0.0) -> np.ndarray:
    pts = np.asarray(pts, np.float64)[:, :2]
    centre = pts.mean(axis=0)
    pts = centre + (pts - centre) * shrink
    mask = np.zeros(shape, np.uint8)
    hull = cv2.convexHull(np.round(pts * 16).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 1, cv2.LINE_8, shift=4)
    if grow >= 1:
        k = int(2 * round(grow) + 1)
        mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    return mask.astype(bool)


def _ring_mask(shape: tuple[int, int], pts: np.ndarray) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(np.asarray(pts)[:, :2] * 16).astype(np.int32)], 1, cv2.LINE_8, shift=4)
    return mask.astype(bool)


def patch_masks(shape: tuple[int, ...], landmarks: np.ndarray) -> dict[str, np.ndarray]:
    """Boolean masks of the four skin patches of :data:`PATCHES`."""
    hw = shape[:2]
    return {k: _hull_mask(hw, landmarks[list(idx)], PATCH_SHRINK) for k, idx in PATCHES.items()}


def feature_masks(shape: tuple[int, ...], landmarks: np.ndarray, topology: MeshTopology,
                  ) -> dict[str, np.ndarray]:
    """Boolean masks of brows, lips (outer ring minus the mouth opening) and irises.

    An iris is the ring between 35 % and 90 % of its radius (no pupil, no
    limbus blur), cut to the eyelid opening so lids and lashes stay out.
    """
    hw = shape[:2]
    brows = (_hull_mask(hw, landmarks[list(topology.left_brow)])
             | _hull_mask(hw, landmarks[list(topology.right_brow)]))
    lips = _ring_mask(hw, landmarks[list(MOUTH_OUTER)]) & ~_ring_mask(hw, landmarks[list(MOUTH_INNER)])
    irises = np.zeros(hw, bool)
    for (centre, ring), lids in zip(IRISES, (topology.right_eye, topology.left_eye), strict=True):
        c = landmarks[centre, :2]
        r = float(np.mean(np.linalg.norm(landmarks[list(ring), :2] - c, axis=1)))
        if r < 2.0:
            continue
        x0, x1 = max(0, int(c[0] - r - 1)), min(hw[1], int(c[0] + r + 2))
        y0, y1 = max(0, int(c[1] - r - 1)), min(hw[0], int(c[1] + r + 2))
        if x1 <= x0 or y1 <= y0:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1]
        d = np.hypot(xx - c[0], yy - c[1])
        annulus = (d > 0.35 * r) & (d < 0.9 * r)
        irises[y0:y1, x0:x1] |= annulus & _ring_mask(hw, landmarks[list(lids)])[y0:y1, x0:x1]
    return {"brows": brows, "lips": lips, "irises": irises}


def feature_colour(lab: np.ndarray, mask: np.ndarray, kind: str) -> np.ndarray | None:
    """The (a*, b*) colour of a feature, or None when too few pixels show it.

    Brows: the darker half of the brow region (the hairs, not the skin
    between them). Irises: without the brightest fifth (catch-lights) and the
    darkest tenth (pupil edge, lashes). Lips: all lip pixels.
    """
    px = lab[mask]
    if len(px) < 12:
        return None
    light = px[:, 0]
    if kind == "brows":
        px = px[light <= np.median(light)]
    elif kind == "irises":
        lo, hi = np.percentile(light, (10, 80))
        px = px[(light >= lo) & (light <= hi)]
    return px[:, 1:].mean(axis=0) if len(px) else None


def segment_distance(point: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Distance from ``point`` to the segment [a, b] (a point when a == b)."""
    ab = b - a
    denom = float(ab @ ab)
    t = 0.0 if denom < 1e-12 else float(np.clip((point - a) @ ab / denom, 0.0, 1.0))
    return float(np.linalg.norm(point - (a + t * ab)))


# ------------------------------------------------------------------ shading
def vertex_normals(landmarks: np.ndarray, topology: MeshTopology) -> np.ndarray:
    """(478, 3) unit normals of the mesh, oriented toward the camera (negative z)."""
    p = np.asarray(landmarks, np.float64)[:, :3]
    tri = topology.triangles
    n_face = np.cross(p[tri[:, 1]] - p[tri[:, 0]], p[tri[:, 2]] - p[tri[:, 0]])
    normals = np.zeros_like(p)
    for k in range(3):
        np.add.at(normals, tri[:, k], n_face)
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-9)
    if np.nanmean(normals[:468, 2]) > 0:
        normals = -normals
    return normals


def sh_basis(normals: np.ndarray) -> np.ndarray:
    """(N, 9) second-order real spherical-harmonic basis (unnormalised) at unit normals."""
    x, y, z = normals[:, 0], normals[:, 1], normals[:, 2]
    return np.stack([np.ones_like(x), x, y, z, x * y, x * z, y * z, x * x - y * y, 3 * z * z - 1], axis=1)


#: Ridge weights of the nine coefficients: the constant is free, the linear
#: (directional) terms lightly held, the quadratic ones more, since a face
#: spans only part of the sphere of normals and an unheld quadratic fit
#: explains albedo (brows, beard) as light.
SH_RIDGE = np.array([0.0, 0.02, 0.02, 0.02, 0.2, 0.2, 0.2, 0.2, 0.2])


def skin_vertices(shape: tuple[int, ...], landmarks: np.ndarray, topology: MeshTopology,
                  normals: np.ndarray) -> np.ndarray:
    """Indices of mesh points on skin: not on eyes, brows, lips or the outline, facing the camera."""
    hw = shape[:2]
    size = face_size(landmarks)
    features = (_hull_mask(hw, landmarks[list(topology.left_brow) + list(topology.left_eye)], grow=0.03 * size)
                | _hull_mask(hw, landmarks[list(topology.right_brow) + list(topology.right_eye)],
                             grow=0.03 * size)
                | _hull_mask(hw, landmarks[list(MOUTH_OUTER)], grow=0.03 * size))
    xy = np.round(landmarks[:468, :2]).astype(int)
    inside = (xy[:, 0] >= 0) & (xy[:, 1] >= 0) & (xy[:, 0] < hw[1]) & (xy[:, 1] < hw[0])
    keep = inside.copy()
    keep[inside] &= ~features[xy[inside, 1], xy[inside, 0]]
    keep[list(topology.face_oval)] = False
    keep &= normals[:468, 2] < -0.3
    return np.flatnonzero(keep)


def sh_fit(lightness: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """Regularised least-squares SH lighting coefficients (9,) of L* samples at normals."""
    a = sh_basis(normals)
    n = max(len(lightness), 1)
    lhs = a.T @ a + n * np.diag(SH_RIDGE)
    return np.linalg.solve(lhs + 1e-9 * np.eye(9), a.T @ lightness)


def sample_lightness(lab: np.ndarray, landmarks: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """L* at mesh points, smoothed over ~2 % of the face so skin texture does not read as light."""
    sigma = max(1.0, 0.02 * face_size(landmarks))
    light = cv2.GaussianBlur(lab[..., 0], (0, 0), sigma)
    xy = np.round(landmarks[idx, :2]).astype(int)
    return light[xy[:, 1], xy[:, 0]].astype(np.float64)


@dataclass(frozen=True, slots=True)
class Shading:
    """Lighting of one face: SH coefficients, skin points used, and patch lightness."""

    coeffs: np.ndarray
    vertices: np.ndarray
    normals: np.ndarray
    patch_light: dict[str, float]


def shading_of(lab: np.ndarray, landmarks: np.ndarray, topology: MeshTopology, vertices: np.ndarray,
               patches: dict[str, np.ndarray]) -> Shading:
    """Fit the SH lighting on the given skin points; mean L* of each skin patch."""
    normals = vertex_normals(landmarks, topology)
    coeffs = sh_fit(sample_lightness(lab, landmarks, vertices), normals[vertices])
    light = {k: float(lab[m, 0].mean()) if m.any() else float("nan") for k, m in patches.items()}
    return Shading(coeffs, vertices, normals, light)


def shading_error(out: Shading, ref: Shading) -> dict[str, float]:
    """How far the output's lighting is from the original's, in L* units.

    ``sh``: RMS over the original's skin normals of the difference between
    the lighting the two fits predict, after removing its mean (an overall
    brightness change is the skin-tone figure's, not the shading's).
    ``lr``/``tb``: change of (left − right cheek) and (forehead − chin) lightness.
    """
    basis = sh_basis(ref.normals[ref.vertices])
    diff = basis @ (out.coeffs - ref.coeffs)
    sh = float(np.sqrt(np.mean((diff - diff.mean()) ** 2))) if len(diff) else float("nan")
    po, pr = out.patch_light, ref.patch_light
    lr = (po["left_cheek"] - po["right_cheek"]) - (pr["left_cheek"] - pr["right_cheek"])
    tb = (po["forehead"] - po["chin"]) - (pr["forehead"] - pr["chin"])
    return {"sh": sh, "lr": abs(lr), "tb": abs(tb)}
