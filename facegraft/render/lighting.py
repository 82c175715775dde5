"""Lighting of a face: second-order spherical harmonics fitted on the mesh's normals.

The ``relight`` colour mode (:mod:`~facegraft.render.relight`) separates the
*shading* of a face from its *albedo* with a model of light, instead of
copying the target's low-passed lightness as ``lab`` does (which copies
whatever is broad on the target's face, light or not: contouring make-up, a
beard's shadow, and leaves the photo's own lighting baked in wherever the two
low-passes agree):

* **Lighting** is second-order spherical harmonics (SH, 9 coefficients) of the
  surface normal, the standard low-dimensional model of diffuse light
  (Ramamoorthi & Hanrahan 2001: it holds ~98 % of a convex Lambertian object's
  irradiance under any distant light). The normals come from the face mesh's
  3-D points (mediapipe's z is in pixel units), per vertex.
* It is fitted to the **linear** luminance at the mesh's skin vertices only (no
  eyes, brows, lips or outline; points the head turns away and, in a photo, hair
  or hands are left out), by ridge regression with a trimmed second pass. The
  regulariser pulls toward flat light, harder on the second-order terms: the
  visible half of a face covers few normal directions, so unregularised the
  fit trades band 0 against band 2 and a beard or make-up reads as a light.
* **Albedo** is what is left: the mean skin colour with the fitted shading
  divided out, and the spread of its chromaticity (blush, tan).

The photo's light is fitted once (:func:`source_light`), the target's on every
frame; the renderer smooths the target's over time per track, so the light
cannot flicker.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .topology import MeshTopology, _hops

#: Ridge weights (times the number of samples) on the bands 0, 1, 2 of the relative shading's SH
#: coefficients. 10x weaker, the fit took more of the shot's broad albedo (make-up, a beard) for light
#: and cost likeness on retalk_face_1 (docs/quality.md, *Relighting*).
RIDGE = (0.0, 0.02, 0.1)
#: Residuals beyond this many robust standard deviations are dropped before the second fit.
TRIM = 2.5
#: Fewest usable skin vertices for a fit (a face mostly occluded or turned away gets flat light).
MIN_VERTICES = 40
#: Vertices facing further away than this (normal's z toward the camera) are not sampled.
MIN_FACING = 0.25
#: Display gamma of the pixel values (sRGB is close to a 2.2 power law).
GAMMA = 2.2

#: sRGB-coded 8-bit value -> linear light (the 2.2 power law).
LINEAR = ((np.arange(256, dtype=np.float32) / 255.0) ** GAMMA).astype(np.float32)
#: Rec. 709 luminance weights of linear RGB.
LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)
_BAND = np.array([0, 1, 1, 1, 2, 2, 2, 2, 2])


def sh_basis(normals: np.ndarray) -> np.ndarray:
    """The 9 real second-order SH basis functions of unit ``normals`` (..., 3) -> (..., 9), float32."""
    x, y, z = normals[..., 0], normals[..., 1], normals[..., 2]
    return np.stack([
        np.full_like(x, 0.282095), 0.488603 * y, 0.488603 * z, 0.488603 * x,
        1.092548 * x * y, 1.092548 * y * z, 0.315392 * (3.0 * z * z - 1.0), 1.092548 * x * z,
        0.546274 * (x * x - y * y)], axis=-1).astype(np.float32)


def vertex_normals(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Unit normals (478, 3) of the mesh at its vertices, in a camera frame: x right, y up, z toward the camera.

    ``points`` are image pixels with mediapipe's depth (z grows away from the
    camera, in pixel units). Each vertex takes the area-weighted mean of its
    triangles' normals; the whole field is flipped if needed so the face points
    at the camera, whatever the triangles' winding.
    """
    p = points[:, :3].astype(np.float64) * np.array([1.0, -1.0, -1.0])
    tri = p[triangles]
    face_n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    n = np.zeros_like(p)
    for k in range(3):
        np.add.at(n, triangles[:, k], face_n)
    length = np.linalg.norm(n, axis=1, keepdims=True)
    n = np.where(length > 1e-12, n / np.maximum(length, 1e-12), 0.0)
    if n[:468, 2].mean() < 0:
        n = -n
    # Points in no triangle (the iris rings) look at the camera.
    n[length[:, 0] <= 1e-12] = (0.0, 0.0, 1.0)
    return n.astype(np.float32)


def skin_vertices(topology: MeshTopology) -> np.ndarray:
    """(478,) bool: the mesh points on plain skin: not the lips, brows, eyes or their lids, nor the outline.

    The outline (hairline, jaw edge) blurs into hair and background; the
    nostrils' dark pixels and stray strands fall to the fit's trimming.
    """
    adj: dict[int, set[int]] = {}
    for a, b, c in topology.triangles:
        for u, v in ((a, b), (b, c), (a, c)):
            adj.setdefault(int(u), set()).add(int(v))
            adj.setdefault(int(v), set()).add(int(u))
    eyes = list(topology.left_eye) + list(topology.right_eye) + list(range(468, 478))
    lips = list(topology.mouth_outer) + list(topology.mouth_inner)
    skin = _hops(adj, eyes) >= 2
    skin &= _hops(adj, list(topology.left_brow) + list(topology.right_brow) + lips) >= 1
    # The lips between the outer and inner rings.
    skin &= _hops(adj, list(topology.mouth_inner)) >= 3
    skin &= _hops(adj, list(topology.face_oval)) >= 1
    skin[468:] = False
    return skin


@dataclass(frozen=True, slots=True)
class Lighting:
    """Fitted light of one face.

    Attributes:
        coeffs: (9,) SH coefficients of the *relative* linear luminance (mean shading over the skin ~1).
        albedo: (3,) mean linear RGB of the skin with the shading divided out.
        spread: (2,) spread (standard deviation) of the skin's log chromaticity (log R/G, log B/G) over the face.
    """

    coeffs: np.ndarray
    albedo: np.ndarray
    spread: np.ndarray = field(default_factory=lambda: np.full(2, 0.1, np.float32))

    def blend(self, other: Lighting, alpha: float) -> Lighting:
        """Exponential moving average step: ``alpha`` weight on ``other``."""
        return Lighting(self.coeffs + alpha * (other.coeffs - self.coeffs),
                        self.albedo + alpha * (other.albedo - self.albedo),
                        self.spread + alpha * (other.spread - self.spread))

    def shading(self, normals: np.ndarray) -> np.ndarray:
        """Relative shading at ``normals`` (..., 3), never below 0.05."""
        return np.maximum(sh_basis(normals) @ self.coeffs.astype(np.float32), 0.05)


#: Light with no direction: what a face too hidden to fit gets.
FLAT = np.array([1.0 / 0.282095, 0, 0, 0, 0, 0, 0, 0, 0], np.float32)


def fit_sh(normals: np.ndarray, values: np.ndarray, ridge: tuple[float, float, float] = RIDGE) -> np.ndarray:
    """Ridge least-squares SH coefficients (9,) with ``basis(normals) @ c ~ values``; trimmed refit.

    Band 0 is free; bands 1 and 2 are pulled toward 0 (flat light) with
    ``ridge[band] * len(values)``, on values normalised to a mean of 1.
    """
    a = sh_basis(normals).astype(np.float64)
    v = values.astype(np.float64)
    reg = np.diag(np.array(ridge, np.float64)[_BAND]) * len(v)
    keep = np.ones(len(v), bool)
    coeffs = FLAT.astype(np.float64)
    for _ in range(2):
        ak, vk = a[keep], v[keep]
        coeffs = _solve(ak.T @ ak + reg * (keep.sum() / len(v)), ak.T @ vk)
        res = v - a @ coeffs
        scale = 1.4826 * np.median(np.abs(res[keep])) + 1e-6
        keep = np.abs(res) <= TRIM * scale
        if keep.sum() < MIN_VERTICES // 2:
            break
    return coeffs.astype(np.float32)


def _solve(m: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """``m @ x = rhs`` for a small symmetric positive definite ``m`` (Gaussian elimination, no pivoting).

    LAPACK's solver costs ~1 ms a call here under a busy BLAS thread pool; a
    9 x 9 system needs microseconds.
    """
    a = np.concatenate([m, rhs[:, None]], axis=1).astype(np.float64)
    n = len(a)
    for k in range(n):
        a[k] /= a[k, k] if abs(a[k, k]) > 1e-12 else 1e-12
        a[k + 1:] -= a[k + 1:, k:k + 1] * a[k]
    x = np.zeros(n)
    for k in range(n - 1, -1, -1):
        x[k] = a[k, n] - a[k, k + 1:n] @ x[k + 1:]
    return x


def sample_vertices(image: np.ndarray, points: np.ndarray, face_w: float) -> np.ndarray:
    """Colours (N, C) of ``image`` around ``points`` (N, 2+) in its pixels, averaged over ~2 % of the face.

    The picture is area-shrunk so the face is ~48 px wide, then sampled
    bilinearly: texture (pores, stubble) averages out, broad light stays.
    """
    f = max(1, int(face_w / 48))
    small = image
    if f > 1:
        h, w = image.shape[:2]
        small = cv2.resize(image[: h - h % f or h, : w - w % f or w], ((w - w % f or w) // f, (h - h % f or h) // f),
                           interpolation=cv2.INTER_AREA)
    pts = ((points[:, :2] + 0.5) / f - 0.5).astype(np.float32)
    out = cv2.remap(small, pts[None, :, 0].copy(), pts[None, :, 1].copy(), cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(len(points), -1)


def fit_lighting(image: np.ndarray, points: np.ndarray, normals: np.ndarray, skin: np.ndarray,
                 face_w: float) -> Lighting:
    """The light and skin albedo of the face at ``points`` in ``image`` (RGB uint8, or RGBA: A = face validity).

    Args:
        image: the picture (RGB or RGBA uint8); A (where given) marks where it shows the face itself.
        points: (478, 2+) the mesh in ``image``'s pixels.
        normals: (478, 3) :func:`vertex_normals` of the same face (any consistent scale).
        skin: (478,) bool, the vertices that may be sampled (:func:`skin_vertices`).
        face_w: the face's width in ``image``'s pixels.
    """
    samples = sample_vertices(image, points, face_w).astype(np.float32)
    rgb = LINEAR[np.clip(samples[:, :3] + 0.5, 0, 255).astype(np.uint8)]
    use = skin & (normals[:, 2] > MIN_FACING)
    h, w = image.shape[:2]
    use &= (points[:, 0] >= 0) & (points[:, 0] < w) & (points[:, 1] >= 0) & (points[:, 1] < h)
    if samples.shape[1] > 3:
        use &= samples[:, 3] > 240
    luma = rgb @ LUMA
    use &= luma > 1e-4
    if use.sum() < MIN_VERTICES:
        sel = skin & (luma > 1e-4)
        albedo = rgb[sel].mean(0) if sel.any() else np.full(3, 0.2, np.float32)
        return Lighting(FLAT.copy(), albedo.astype(np.float32))
    mean = float(luma[use].mean())
    coeffs = fit_sh(normals[use], luma[use] / mean)
    shade = Lighting(coeffs, np.zeros(3, np.float32)).shading(normals[use])
    ratio = rgb[use] / shade[:, None]
    # A robust mean: the trimmed fit's outliers (a stray strand, a highlight) would tint it.
    lo, hi = np.percentile(ratio, [10, 90], axis=0)
    inner = np.all((ratio >= lo) & (ratio <= hi), axis=1)
    albedo = ratio[inner].mean(0) if inner.sum() >= 8 else ratio.mean(0)
    u, v = log_chroma(rgb[use])
    spread = np.array([_robust_std(u), _robust_std(v)], np.float32)
    return Lighting(coeffs, albedo.astype(np.float32), spread)


def _robust_std(x: np.ndarray) -> float:
    return float(1.4826 * np.median(np.abs(x - np.median(x)))) + 1e-3


def log_chroma(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log R/G and log B/G of linear ``rgb`` (..., 3): chromaticity that a per-channel gain only shifts."""
    log = np.log(np.maximum(rgb, 0.0) + np.float32(2e-3))
    return log[..., 0] - log[..., 1], log[..., 2] - log[..., 1]


@dataclass(frozen=True, slots=True)
class SourceLight:
    """The photo side of relighting, computed once per source.

    Attributes:
        shading: (478,) relative shading of the source at each vertex, from the photo the vertex takes its texture
            from (mirror views have their own fit).
        albedo: (3,) mean linear skin albedo over the photos.
        spread: (2,) spread of the skin's log chromaticity (see :class:`Lighting`).
    """

    shading: np.ndarray
    albedo: np.ndarray
    spread: np.ndarray


def source_light(photos: list[tuple[np.ndarray, np.ndarray, float]], owner: np.ndarray, triangles: np.ndarray,
                 topology: MeshTopology) -> SourceLight:
    """The :class:`SourceLight` of photos given as (RGBA crop, landmarks, face width), triangle ``owner`` per photo."""
    skin = skin_vertices(topology)
    votes = np.zeros((len(photos), 478), np.int32)
    shades = np.ones((len(photos), 478), np.float32)
    albedos, spreads = [], []
    for k, (image, points, face_w) in enumerate(photos):
        normals = vertex_normals(points, triangles)
        light = fit_lighting(image, points, normals, skin, face_w)
        shades[k] = light.shading(normals)
        albedos.append(light.albedo)
        spreads.append(light.spread)
        mine = triangles[owner == k]
        np.add.at(votes[k], mine.ravel(), 1)
    best = np.argmax(votes, axis=0)
    shading = shades[best, np.arange(478)]
    weight = votes.sum(axis=1).astype(np.float32) + 1e-3
    albedo = (np.stack(albedos) * weight[:, None]).sum(0) / weight.sum()
    spread = (np.stack(spreads) * weight[:, None]).sum(0) / weight.sum()
    return SourceLight(shading.astype(np.float32), albedo.astype(np.float32), spread.astype(np.float32))
