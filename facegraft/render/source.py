"""Source faces prepared once for rendering: texture crops, landmarks, visibility.

Each photo is cropped around its face and kept at a few scales, so a small
target face samples a pre-shrunk texture (no aliasing) and a large one the
full-resolution crop. Each triangle gets a *frontality* score per photo (its
projected area over its 3-D area): with several photos of one person, every
triangle takes its texture from the photo that sees it most squarely, so a
turned target head never shows stretched texture.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from ..types import SourceFace
from .topology import MeshTopology, mesh_topology, orient_triangles, signed_area


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
        levels: per photo, texture levels from largest to smallest.
        owner: (T,) index of the photo each triangle takes its texture from.
        shape: (478, 3) the source's landmarks (most frontal photo), for identity shape.
        triangles: (T, 3) mesh triangles, wound front-facing positive.
        embedding: identity vector of the source (mean over photos) or None.
        name: label for messages.
    """

    levels: tuple[tuple[TextureLevel, ...], ...]
    owner: np.ndarray
    shape: np.ndarray
    triangles: np.ndarray
    embedding: np.ndarray | None
    name: str
    _cache: dict[tuple[int, float], tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False,
                                                                            compare=False)

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
        key = (photo, scale)
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


def prepare_source(source: SourceFace, topology: MeshTopology | None = None) -> PreparedSource:
    """Crop, scale and score each photo of a :class:`SourceFace` once."""
    topo = topology or mesh_topology()
    tris = orient_triangles(topo.triangles, source.faces[0].landmarks)
    levels = []
    scores = []
    for image, face in zip(source.images, source.faces, strict=True):
        lm = face.landmarks.astype(np.float32)
        x0, y0, x1, y1 = face.bbox
        margin = 0.25 * max(x1 - x0, y1 - y0)
        cx0, cy0 = int(max(0, x0 - margin)), int(max(0, y0 - margin))
        cx1, cy1 = int(min(image.shape[1], x1 + margin)), int(min(image.shape[0], y1 + margin))
        crop = np.ascontiguousarray(image[cy0:cy1, cx0:cx1])
        local = lm.copy()
        local[:, 0] -= cx0
        local[:, 1] -= cy0
        photo_levels = [TextureLevel(crop, local, float(x1 - x0))]
        while photo_levels[-1].face_width > 48:
            prev = photo_levels[-1]
            img = cv2.pyrDown(prev.image)
            s = np.array([img.shape[1] / prev.image.shape[1], img.shape[0] / prev.image.shape[0], 1.0], np.float32)
            photo_levels.append(TextureLevel(img, prev.landmarks * s, prev.face_width * float(s[0])))
        levels.append(tuple(photo_levels))
        scores.append(frontality(lm, tris))
    score = np.stack(scores)
    owner = np.argmax(score, axis=0).astype(np.int32)
    best_photo = int(np.argmax([s.mean() for s in scores]))
    return PreparedSource(tuple(levels), owner, source.faces[best_photo].landmarks.astype(np.float32), tris,
                          source.embedding, source.name)
