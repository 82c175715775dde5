"""Source faces prepared once for rendering: texture crops, landmarks, visibility.

Each photo is cropped around its face and kept at a few scales, so a small
target face samples a pre-shrunk texture (no aliasing) and a large one the
full-resolution crop. Each triangle gets a *frontality* score per photo (its
projected area over its 3-D area): with several photos of one person, every
triangle takes its texture from the photo that sees it most squarely, so a
turned target head never shows stretched texture.

A photo of a turned head sees the far half of the face squeezed (and the far
side of the nose not at all); warped onto a frontal target, that half comes
out stretched and blurred, which costs likeness. Such a photo also lends its
*mirror image* as an extra view: flipped left-right, with the mesh points
renumbered through their left/right pairs, so its near half stands in for
the far one (see :func:`mirror_view`). It is a trade: the face becomes
symmetric (a mole or a parting flips, the lighting is mirrored too). Measured
with dlib distances: Biden's 3/4 photo onto the frontal ``lp_drv_d10`` went
from 71 % to 93 % of frames closer to him, but the ``lp_drv_d3`` woman onto
herself from a 9°-turned frame moved further from herself (0.458 -> 0.518).
So the swap decides per source by test renders (:mod:`facegraft.mirrorcheck`,
``mirror_turned="auto"``); here it is a flag.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from ..types import SourceFace
from .lighting import SourceLight, source_light
from .topology import MeshTopology, mesh_topology, orient_triangles, signed_area

#: A photo whose head is turned further than this (degrees of yaw, see
#: :func:`photo_yaw`) lends its mirror image to the far half of the face.
MIRROR_MIN_YAW = 8.0
#: ... provided the mirror image sees that half (mean frontality) this much better than every photo does.
MIRROR_GAIN = 1.1
#: Above the brows, a pixel connected to hair is hair too when it is this far off the cheeks' skin:
#: chroma (squared robust spreads), darker (spreads of L*) or rougher (times the skin's texture).
FRINGE_CHROMA, FRINGE_DARKER, FRINGE_ROUGH = 6.0, 1.2, 1.6


@dataclass(frozen=True)
class TextureLevel:
    """One photo at one scale: the crop and the landmarks in its pixels."""

    image: np.ndarray
    landmarks: np.ndarray
    face_width: float


@dataclass(frozen=True)
class PreparedSource:
    """A source person ready to render.

    Attributes:
        levels: per photo, texture levels from largest to smallest; the mirror
            views of turned photos come after the photos themselves.
        owner: (T,) index of the photo (or mirror view) each triangle takes its texture from.
        shape: (478, 3) the source's landmarks (most frontal photo), for identity shape.
        triangles: (T, 3) mesh triangles, wound front-facing positive.
        embedding: identity vector of the source (mean over photos) or None.
        name: label for messages.
        light: the photos' fitted light and skin albedo (the ``relight`` colour mode).
    """

    levels: tuple[tuple[TextureLevel, ...], ...]
    owner: np.ndarray
    shape: np.ndarray
    triangles: np.ndarray
    embedding: np.ndarray | None
    name: str
    light: SourceLight | None = None
    _cache: dict[tuple[int, float, float], tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False,
                                                                            compare=False)

    def __getstate__(self) -> dict:
        # The resized-texture cache is rebuilt on demand: never ship it to workers.
        state = {f: getattr(self, f) for f in self.__dataclass_fields__}
        state["_cache"] = {}
        return state

    def __setstate__(self, state: dict) -> None:
        for k, v in state.items():
            object.__setattr__(self, k, v)

    def texture_for(self, photo: int, face_width: float) -> tuple[np.ndarray, np.ndarray]:
        """The texture resampled (area filter) to the target face's scale, and its landmarks.

        Sampling a texture up to 2x larger than needed with a bilinear remap
        aliases fine detail, which shimmers as the head moves; resizing the
        nearest larger level to the exact scale first avoids that. Scales are
        quantised (2 %) so a steady face reuses the same resized texture.
        """
        level = self.level_for(photo, face_width)
        scale = min(1.0, face_width / max(level.face_width, 1e-6))
        scale = round(scale * 50) / 50
        if scale >= 0.98:
            return level.image, level.landmarks
        # The level is part of the key: two levels can need the same quantised scale.
        key = (photo, level.face_width, scale)
        cached = self._cache.get(key)
        if cached is None:
            img = cv2.resize(level.image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            sx, sy = img.shape[1] / level.image.shape[1], img.shape[0] / level.image.shape[0]
            cached = (img, level.landmarks * np.array([sx, sy, 1.0], np.float32))
            if len(self._cache) > 32:
                self._cache.clear()
            self._cache[key] = cached
        return cached

    def level_for(self, photo: int, face_width: float) -> TextureLevel:
        """The smallest level still at least as wide as the target face."""
        chosen = self.levels[photo][0]
        for level in self.levels[photo]:
            if level.face_width >= face_width:
                chosen = level
        return chosen


def frontality(landmarks: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Projected area / 3-D area per triangle: 1 facing the camera, <=0 turned away."""
    p = landmarks[triangles].astype(np.float64)
    cross = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    area3 = 0.5 * np.linalg.norm(cross, axis=1) + 1e-6
    return signed_area(landmarks, triangles) / area3


def _hull(mask: np.ndarray, pts: np.ndarray, value: int) -> None:
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(pts[:, :2]).astype(np.int32)), value)


#: Upper row of each eyebrow in the mesh, outer end to inner end (right brow, then left brow).
BROW_TOP = ((70, 63, 105, 66, 107), (300, 293, 334, 296, 336))
#: Upper and lower brow mesh points facing each other across the brow (its height).
BROW_PAIRS = ((63, 53), (105, 52), (66, 65), (293, 283), (334, 282), (296, 295))


def _above_brows(shape: tuple[int, int], landmarks: np.ndarray) -> np.ndarray:
    """The forehead side of the brows' upper edge, out to the crop's sides (bool)."""
    h, w = shape
    line = landmarks[list(BROW_TOP[0]) + list(BROW_TOP[1])[::-1], :2]
    poly = np.vstack([[0.0, line[0, 1]], line, [w - 1.0, line[-1, 1]], [w - 1.0, 0.0], [0.0, 0.0]])
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 1)
    return mask.astype(bool)


def _grown(seed: np.ndarray, allowed: np.ndarray, step: int) -> np.ndarray:
    """``seed`` grown through ``allowed`` pixels it touches (morphological reconstruction)."""
    kernel = np.ones((step, step), np.uint8)
    cur = (seed & allowed).astype(np.uint8)
    allow = allowed.astype(np.uint8)
    for _ in range(200):
        nxt = cv2.dilate(cur, kernel) & allow
        if np.array_equal(nxt, cur):
            break
        cur = nxt
    return cur.astype(bool)


def skin_validity(crop: np.ndarray, landmarks: np.ndarray, topology: MeshTopology) -> np.ndarray:
    """Where a source photo shows the face itself rather than hair, a hand or glasses (uint8, 255 = face).

    A fringe over the forehead or a hand on the cheek would otherwise be
    transplanted onto the target. The person's skin colour is learnt from
    the cheeks and nose (below the eyes, where hair rarely falls): robust
    LAB centre and spread; pixels far from it, chroma weighing more than
    lightness (shadows are still skin), are marked as not-face.

    Above the brows a soft, well-lit fringe passes that test (brown strands
    are barely darker than skin and smooth once blurred), and pasted onto
    the target it reads as dirt on the forehead. There the rule is tighter:
    anything somewhat darker, rougher or off-colour that is *connected* to
    the hair already found counts as hair too, so a fringe is followed down
    from the hairline while a shaded forehead (not touching hair) stays
    face. Face by definition are only the eye openings with their lids and
    lashes, the thin band of each brow along its mesh points, the nose and
    the lips; the area near the eyes counts only below the brows' upper edge.
    """
    lab = cv2.cvtColor(crop, cv2.COLOR_RGB2LAB).astype(np.float32)
    h, w = crop.shape[:2]
    face_w = float(np.ptp(landmarks[:, 0]))
    grey = lab[..., 0]
    # Local texture: hair is a mass of fine strands, skin is smooth.
    texture = cv2.GaussianBlur(np.abs(cv2.Laplacian(grey, cv2.CV_32F)), (0, 0), max(1.0, 0.01 * face_w))
    eyes_y = landmarks[[33, 133, 263, 362], 1].mean()
    oval = landmarks[list(topology.face_oval)]
    sample = np.zeros((h, w), np.uint8)
    _hull(sample, oval, 1)
    sample[: int(max(0, eyes_y + 0.1 * (oval[:, 1].max() - eyes_y)))] = 0
    _hull(sample, landmarks[list(topology.mouth_outer)], 0)
    chosen = sample.astype(bool)
    pixels = lab[chosen]
    if len(pixels) < 50:
        return np.full((h, w), 255, np.uint8)
    centre = np.median(pixels, axis=0)
    spread = 1.4826 * np.median(np.abs(pixels - centre), axis=0) + np.array([4.0, 2.0, 2.0], np.float32)
    skin_texture = float(np.median(texture[chosen])) + 1e-3
    chroma = (((lab[..., 1:] - centre[1:]) / spread[1:]) ** 2).sum(axis=2)
    darker = (centre[0] - grey) / spread[0]
    rough = texture / skin_texture
    # Not face: a colour no skin of this person has, or darker *and* rough (hair; a shadow is smooth).
    bad = (chroma > 12.0) | ((darker > 1.5) & (rough > 1.8)) | (rough > 2.8)
    # The brows' mesh points run along the middle of the hairs, not their upper edge: lift the line by
    # about 0.7 of a brow's height, and count the brow band that much thicker.
    lift = 0.7 * float(np.mean([np.linalg.norm(landmarks[a, :2] - landmarks[b, :2])
                                for a, b in BROW_PAIRS]))
    above = _above_brows((h, w), landmarks - np.array([0.0, lift, 0.0], np.float32))
    loose = above & ((chroma > FRINGE_CHROMA) | (darker > FRINGE_DARKER) | (rough > FRINGE_ROUGH))
    bad |= _grown(bad & above, loose, max(3, int(0.01 * face_w)) | 1)
    valid = np.where(bad, 0, 255).astype(np.uint8)
    below = np.where(above, 0, 255).astype(np.uint8)
    protect = np.zeros((h, w), np.uint8)
    band = np.zeros((h, w), np.uint8)
    for eye, brow in ((topology.left_eye, topology.left_brow), (topology.right_eye, topology.right_brow)):
        # Lids, lashes, crow's feet and shadows under the eye: the mesh points within ~one eye-width,
        # up to the brow's upper edge; the brow itself is the hull of its own mesh points.
        pts = landmarks[list(eye), :2]
        near = np.linalg.norm(landmarks[:468, :2] - pts.mean(0), axis=1) < 0.9 * np.ptp(pts[:, 0])
        _hull(protect, landmarks[:468][near], 255)
        _hull(protect, landmarks[list(eye)], 255)
        _hull(band, landmarks[list(brow)], 255)
    protect &= below
    protect |= cv2.dilate(band, np.ones((2 * int(lift) + 1,) * 2, np.uint8))
    for ring in (topology.nose, topology.mouth_outer):
        _hull(protect, landmarks[list(ring)], 255)
    # The nose, highlights on its tip included: mesh points within a fifth of the face width of the tip.
    near_nose = np.linalg.norm(landmarks[:468, :2] - landmarks[4, :2], axis=1) < 0.2 * face_w
    _hull(protect, landmarks[:468][near_nose], 255)
    valid |= protect
    valid = cv2.morphologyEx(valid, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    sigma = max(1.0, 0.01 * w)
    # A fringe right on top of a brow must not blur the brow itself away: the face-by-definition
    # parts stay whole, softened only at their own edge.
    core = cv2.erode(protect, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * int(sigma / 2) + 1,) * 2))
    return np.maximum(cv2.GaussianBlur(valid, (0, 0), sigma), cv2.GaussianBlur(core, (0, 0), sigma / 3))


def photo_yaw(landmarks: np.ndarray, topology: MeshTopology) -> float:
    """How far the head in a photo is turned, in degrees (positive: its left half faces away).

    The face is nearly symmetric, so the vectors from the right-half points
    to their mirror images on the left half all run along the normal of the
    symmetry plane; the yaw is that normal's tilt out of the image plane
    (mediapipe's z grows away from the camera). Roll does not change it.
    """
    left = topology.side > 0
    p = landmarks[:, :3].astype(np.float64)
    normal = (p[left] - p[topology.mirror[left]]).sum(axis=0)
    return float(np.degrees(np.arcsin(normal[2] / (np.linalg.norm(normal) + 1e-9))))


def mirror_view(levels: tuple[TextureLevel, ...], mirror: np.ndarray) -> tuple[TextureLevel, ...]:
    """The photo's levels flipped left-right, with point ``i`` at the flipped position of ``mirror[i]``.

    The flipped photo shows the same person facing the other way: its point
    ``i`` (say the right outer eye corner) is the reflection of the photo's
    ``mirror[i]`` (the left one). The validity channel flips with the pixels.
    """
    out = []
    for level in levels:
        lm = level.landmarks[mirror].copy()
        lm[:, 0] = (level.image.shape[1] - 1) - lm[:, 0]
        out.append(TextureLevel(np.ascontiguousarray(level.image[:, ::-1]), lm, level.face_width))
    return tuple(out)


def _photo_levels(image: np.ndarray, face_bbox: tuple[float, float, float, float], lm: np.ndarray,
                  topo: MeshTopology) -> tuple[TextureLevel, ...]:
    """The face crop (RGB + validity) of one photo at a few scales."""
    x0, y0, x1, y1 = face_bbox
    margin = 0.25 * max(x1 - x0, y1 - y0)
    cx0, cy0 = int(max(0, x0 - margin)), int(max(0, y0 - margin))
    cx1, cy1 = int(min(image.shape[1], x1 + margin)), int(min(image.shape[0], y1 + margin))
    crop = np.ascontiguousarray(image[cy0:cy1, cx0:cx1])
    local = lm.copy()
    local[:, 0] -= cx0
    local[:, 1] -= cy0
    # The fourth channel says where the photo shows the face itself.
    crop = np.dstack([crop, skin_validity(crop, local, topo)])
    levels = [TextureLevel(crop, local, float(x1 - x0))]
    while levels[-1].face_width > 48:
        prev = levels[-1]
        img = cv2.pyrDown(prev.image)
        s = np.array([img.shape[1] / prev.image.shape[1], img.shape[0] / prev.image.shape[0], 1.0], np.float32)
        levels.append(TextureLevel(img, prev.landmarks * s, prev.face_width * float(s[0])))
    return tuple(levels)


def prepare_textures(source: SourceFace, topology: MeshTopology | None = None, *,
                   mirror_turned: bool = False) -> PreparedSource:
    """Crop, scale and score each photo of a :class:`SourceFace` once.

    Args:
        source: the analysed photos of one person.
        topology: the mesh topology (default: mediapipe's).
        mirror_turned: a photo turned further than :data:`MIRROR_MIN_YAW`
            lends its mirror image to the half of the face it sees worse,
            unless another photo sees that half about as well.
    """
    topo = topology or mesh_topology()
    tris = orient_triangles(topo.triangles, source.faces[0].landmarks)
    tri_side = np.sign(topo.side[tris].sum(axis=1))
    levels: list[tuple[TextureLevel, ...]] = []
    scores = []
    for image, face in zip(source.images, source.faces, strict=True):
        lm = face.landmarks.astype(np.float32)
        levels.append(_photo_levels(image, face.bbox, lm, topo))
        scores.append(frontality(lm, tris))
    best_photo = int(np.argmax([s.mean() for s in scores]))
    real = list(scores)
    for k, face in enumerate(source.faces if mirror_turned else ()):
        yaw = photo_yaw(face.landmarks, topo)
        if abs(yaw) <= MIRROR_MIN_YAW:
            continue
        far = tri_side == (1 if yaw > 0 else -1)
        view = mirror_view(levels[k], topo.mirror)
        view_score = frontality(view[0].landmarks, tris)
        # A real photo that sees this half nearly as well keeps it (its asymmetries are real).
        if view_score[far].mean() <= MIRROR_GAIN * max(s[far].mean() for s in real):
            continue
        # On the whole far half (never a patch of it, never the near half) the
        # mirror view stands in for the photo: the seam then runs down the
        # midline, where the photo and its mirror show the same pixels.
        scores[k] = np.where(far, -np.inf, scores[k])
        levels.append(view)
        scores.append(np.where(far, view_score, -np.inf))
    owner = np.argmax(np.stack(scores), axis=0).astype(np.int32)
    light = source_light([(lv[0].image, lv[0].landmarks, lv[0].face_width) for lv in levels], owner, tris, topo)
    return PreparedSource(tuple(levels), owner, source.faces[best_photo].landmarks.astype(np.float32), tris,
                          source.embedding, source.name, light)
