"""Linking faces across frames into tracks, and finding scene cuts.

A track is one face followed through consecutive frames of one shot. Faces
of a new frame are assigned to live tracks by the Hungarian method
(:func:`scipy.optimize.linear_sum_assignment`) on a cost mixing box overlap
and mean landmark displacement, with a gate that forbids implausible jumps.
A track that misses detections keeps its id for up to ``max_gap`` frames so a
blink of the detector does not split a person in two (the temporal stage
fills those frames in); a scene cut ends every track, because the same box
position in the next shot is a different face.

Scene cuts are found on a tiny copy of each frame: the colour histogram
distance (HSV) and the mean pixel difference both have to jump.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from ..types import Face
from .detector import iou

#: Landmarks used for the displacement cost (every 8th point is plenty).
_SUBSET = slice(0, 468, 8)


class SceneCutDetector:
    """Flags frames that start a new shot.

    Args:
        threshold: histogram distance (0..1, half the L1 distance of
            normalised HSV histograms) above which a frame starts a shot.
        min_shot: frames a shot lasts at least (a flash is not two cuts).
    """

    def __init__(self, *, threshold: float = 0.25, min_shot: int = 8) -> None:
        self.threshold = threshold
        self.min_shot = min_shot
        self._previous: tuple[np.ndarray, np.ndarray] | None = None
        self._since = 0

    @staticmethod
    def signature(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A normalised hue-saturation-value histogram and a 32x18 grey thumbnail."""
        small = cv2.resize(image, (64, 36), interpolation=cv2.INTER_AREA)
        hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
        hist = cv2.calcHist([hsv], [0, 1, 2], None, [12, 4, 4], [0, 180, 0, 256, 0, 256]).ravel()
        hist /= max(1.0, float(hist.sum()))
        grey = cv2.resize(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), (32, 18), interpolation=cv2.INTER_AREA)
        return hist, grey.astype(np.float32)

    def distance(self, image: np.ndarray) -> tuple[float, float]:
        """(histogram distance, mean grey difference / 255) to the previous frame; updates state."""
        sig = self.signature(image)
        prev, self._previous = self._previous, sig
        if prev is None:
            return 0.0, 0.0
        hist_d = 0.5 * float(np.abs(sig[0] - prev[0]).sum())
        pix_d = float(np.abs(sig[1] - prev[1]).mean()) / 255.0
        return hist_d, pix_d

    def update(self, image: np.ndarray) -> bool:
        """Whether this frame starts a new shot (never the first frame)."""
        hist_d, pix_d = self.distance(image)
        self._since += 1
        cut = self._since >= self.min_shot and hist_d > self.threshold and pix_d > 0.06
        if cut:
            self._since = 0
        return cut


@dataclass(slots=True)
class Track:
    """One face followed through a shot.

    Attributes:
        id: unique within the analysis.
        shot: index of the shot (0 before the first cut).
        last: the last detected face.
        first_frame: frame of the first detection.
        frames: frame indices where the face was detected.
    """

    id: int
    shot: int
    last: Face
    first_frame: int
    frames: list[int] = field(default_factory=list)

    @property
    def last_frame(self) -> int:
        return self.frames[-1]


def _displacement(a: Face, b: Face) -> float:
    """Mean landmark displacement between two faces, in units of their mean size."""
    size = 0.5 * (max(a.width, a.height) + max(b.width, b.height))
    d = np.linalg.norm(a.landmarks[_SUBSET, :2] - b.landmarks[_SUBSET, :2], axis=1).mean()
    return float(d) / max(size, 1e-6)


class FaceTracker:
    """Assigns ``track_id`` to faces frame by frame.

    Args:
        max_gap: frames a track survives without a detection before it ends.
        max_move: largest landmark displacement (in face sizes) per frame of
            gap that still links a face to a track.
    """

    def __init__(self, *, max_gap: int = 12, max_move: float = 0.5) -> None:
        self.max_gap = max_gap
        self.max_move = max_move
        self.tracks: list[Track] = []  # every track ever made, in creation order
        self._live: list[Track] = []
        self._shot = 0

    def cut(self) -> None:
        """A scene cut: end every live track."""
        self._live = []
        self._shot += 1

    def update(self, faces: list[Face], frame_index: int) -> list[Face]:
        """Link this frame's faces to tracks.

        Args:
            faces: detections of frame ``frame_index`` (frames come in order).
            frame_index: the frame's index.

        Returns:
            The same faces with ``track_id`` (and ``frame_index``) set.
        """
        self._live = [t for t in self._live if frame_index - t.last_frame <= self.max_gap + 1]
        cost = np.full((len(self._live), len(faces)), np.inf)
        for i, track in enumerate(self._live):
            gap = frame_index - track.last_frame
            for j, face in enumerate(faces):
                ratio = face.width / max(track.last.width, 1e-6)
                move = _displacement(track.last, face)
                if 0.6 < ratio < 1.67 and move < self.max_move * (1 + 0.3 * (gap - 1)):
                    cost[i, j] = move + (1.0 - iou(track.last.bbox, face.bbox))
        assigned: dict[int, Track] = {}
        if cost.size and np.isfinite(cost).any():
            rows, cols = linear_sum_assignment(np.where(np.isfinite(cost), cost, 1e6))
            for r, c in zip(rows, cols, strict=True):
                if np.isfinite(cost[r, c]):
                    assigned[c] = self._live[r]
        out = []
        for j, face in enumerate(faces):
            track = assigned.get(j)
            if track is None:
                track = Track(id=len(self.tracks), shot=self._shot, last=face, first_frame=frame_index)
                self.tracks.append(track)
                self._live.append(track)
            face = face.with_(track_id=track.id, frame_index=frame_index)
            track.last = face
            track.frames.append(frame_index)
            out.append(face)
        return out
