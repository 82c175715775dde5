"""Records passed between stages.

One small record per observed face (:class:`Face`) flows from analysis to
tracking to rendering; stages never reach into each other. Image arrays are
**RGB, uint8, HxWx3** everywhere in the library unless a name says ``bgr``.
Landmarks are in **pixel coordinates of the full frame** (x, y) with z in the
same pixel scale (mediapipe's relative depth multiplied by the frame width),
so geometry never depends on the crop the detector looked at.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

#: Number of points in mediapipe's refined face mesh (468 + 10 iris points).
MESH_POINTS = 478


@dataclass(frozen=True, slots=True)
class Face:
    """One face seen in one frame.

    Attributes:
        bbox: (x0, y0, x1, y1) in pixels, from the mesh extent.
        score: detector confidence in [0, 1].
        landmarks: float32 array (478, 3), pixels; see module docstring.
        embedding: 128-d dlib identity vector, or None when not computed
            (embeddings cost ~70 ms a face, so they are computed per track).
        track_id: id of the track this face belongs to, once tracked.
        identity_id: id of the person (tracks merged across cuts), once known.
        frame_index: index of the frame it was seen in.
        interpolated: True when the face was not detected in this frame but
            filled in from its track (gap bridging).
    """

    bbox: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray
    embedding: np.ndarray | None = None
    track_id: int | None = None
    identity_id: int | None = None
    frame_index: int = 0
    interpolated: bool = False

    @property
    def width(self) -> float:
        return self.bbox[2] - self.bbox[0]

    @property
    def height(self) -> float:
        return self.bbox[3] - self.bbox[1]

    @property
    def area(self) -> float:
        return max(0.0, self.width) * max(0.0, self.height)

    @property
    def centre(self) -> tuple[float, float]:
        return ((self.bbox[0] + self.bbox[2]) / 2, (self.bbox[1] + self.bbox[3]) / 2)

    def with_(self, **changes: object) -> Face:
        """A copy with some fields changed (records are immutable)."""
        return replace(self, **changes)  # type: ignore[arg-type]


def bbox_of(landmarks: np.ndarray) -> tuple[float, float, float, float]:
    """The axis-aligned box around a set of (N, 2+) landmarks."""
    x0, y0 = landmarks[:, 0].min(), landmarks[:, 1].min()
    x1, y1 = landmarks[:, 0].max(), landmarks[:, 1].max()
    return (float(x0), float(y0), float(x1), float(y1))


@dataclass(frozen=True, slots=True)
class SourceFace:
    """A source person's face, prepared once from one or more photos.

    Attributes:
        images: the RGB photos the texture comes from.
        faces: the analysed face in each photo (same order as images).
        embedding: mean dlib embedding over the photos (identity of the source).
        name: a label for messages (usually the file name).
    """

    images: tuple[np.ndarray, ...]
    faces: tuple[Face, ...]
    embedding: np.ndarray | None
    name: str = "source"


@dataclass(slots=True)
class Identity:
    """One person found in a video: tracks of the same face merged.

    Attributes:
        id: stable id, 0 for the most present person.
        frames: number of frames the person is present in.
        first_frame: index of the first frame they appear in.
        embedding: mean embedding over their good frames (None if none).
        thumbnail: RGB crop of their best frame.
        track_ids: the tracks merged into this identity.
    """

    id: int
    frames: int
    first_frame: int
    embedding: np.ndarray | None
    thumbnail: np.ndarray | None = None
    track_ids: list[int] = field(default_factory=list)
