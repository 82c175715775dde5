"""Linking faces across frames into tracks, and finding scene cuts.

A track is one face followed through consecutive frames of one shot. Faces
of a new frame are assigned to live tracks by the Hungarian method
(:func:`min_cost_pairs`) on a cost mixing box overlap
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

from ..types import Face
from .detector import iou

#: Landmarks used for the displacement cost (every 8th point is plenty).
_SUBSET = slice(0, 468, 8)


def min_cost_pairs(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns paired one to one with the least total cost (the Hungarian method).

    Same answer as ``scipy.optimize.linear_sum_assignment`` (rectangular
    matrices included): shortest augmenting paths with row and column
    potentials, one row at a time. Written out because importing
    ``scipy.optimize`` costs ~0.6 s per process and a frame's matrix is a
    handful of tracks by a handful of faces.

    Returns:
        (rows, cols), sorted by row.
    """
    a = np.asarray(cost, np.float64)
    flip = a.shape[0] > a.shape[1]
    if flip:
        a = a.T
    n, m = a.shape
    u, v = np.zeros(n + 1), np.zeros(m + 1)
    owner = np.zeros(m + 1, np.int64)  # owner[j]: row (1-based) matched to column j; column 0 is the root
    way = np.zeros(m + 1, np.int64)
    for i in range(1, n + 1):
        owner[0], j0 = i, 0
        best = np.full(m + 1, np.inf)
        used = np.zeros(m + 1, bool)
        while True:
            used[j0] = True
            free = ~used[1:]
            reduced = a[owner[j0] - 1] - u[owner[j0]] - v[1:]
            better = free & (reduced < best[1:])
            best[1:][better] = reduced[better]
            way[1:][better] = j0
            j1 = int(np.argmin(np.where(free, best[1:], np.inf))) + 1
            delta = best[j1]
            u[owner[used]] += delta
            v[used] -= delta
            best[~used] -= delta
            j0 = j1
            if owner[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            owner[j0] = owner[j1]
            j0 = j1
    cols = np.nonzero(owner[1:])[0]
    rows = owner[1:][cols] - 1
    if flip:
        rows, cols = cols, rows
    order = np.argsort(rows)
    return rows[order], cols[order]


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
        # Every k-th pixel first: area resampling by a fractional ratio of a
        # whole frame costs ~2 ms at 720p; the thumbnail is as good either way.
        k = max(1, min(image.shape[0] // 72, image.shape[1] // 128))
        small = cv2.resize(image[::k, ::k], (64, 36), interpolation=cv2.INTER_AREA)
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

    def prime(self, image: np.ndarray) -> None:
        """Take ``image`` as the previous frame of a shot already under way (a range that starts mid-video)."""
        self.distance(image)
        self._since = self.min_shot

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

    def link_cost(self, track: Track, face: Face, frame_index: int) -> float:
        """Cost of continuing ``track`` with ``face`` seen at ``frame_index`` (inf: not the same face)."""
        gap = frame_index - track.last_frame
        if gap < 1 or gap > self.max_gap + 1:
            return float("inf")
        ratio = face.width / max(track.last.width, 1e-6)
        move = _displacement(track.last, face)
        if 0.6 < ratio < 1.67 and move < self.max_move * (1 + 0.3 * (gap - 1)):
            return move + (1.0 - iou(track.last.bbox, face.bbox))
        return float("inf")

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
            for j, face in enumerate(faces):
                cost[i, j] = self.link_cost(track, face, frame_index)
        assigned: dict[int, Track] = {}
        if cost.size and np.isfinite(cost).any():
            rows, cols = min_cost_pairs(np.where(np.isfinite(cost), cost, 1e6))
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
