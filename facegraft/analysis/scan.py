"""Scanning a frame range: detect, track, keep a few views per track; joining two ranges.

:func:`scan` is the per-frame loop of the analysis. A long video is scanned
as two halves in two threads (each with its own mediapipe graphs, which
release the GIL while the model runs) and :func:`stitch` joins the tracks
that cross the seam, so the result reads as one pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from ..media import MediaInfo
from ..types import Face
from ._io import iter_frames
from .detector import FaceDetector, crop_at, square_crop
from .tracker import FaceTracker, SceneCutDetector, Track

#: Views per track that get an embedding.
VIEWS_PER_TRACK = 3
#: Faces in stored views are scaled down to at most this width (dlib's chip is 150 px).
_VIEW_FACE_WIDTH = 200


@dataclass(slots=True)
class View:
    """A stored crop of one face, embedded at the end of the analysis."""

    quality: float
    frame_index: int
    crop: np.ndarray
    face: Face  # in crop coordinates


def view_quality(face: Face, shape: tuple[int, ...]) -> float:
    """How good a face is for identity: size x frontalness, zero when cut by the frame edge.

    Frontalness compares the nose tip's position between the outer eye
    corners (0.5 when facing the camera).
    """
    lm = face.landmarks
    left, right, nose = lm[33, 0], lm[263, 0], lm[1, 0]
    span = right - left
    if abs(span) < 1e-6:
        return 0.0
    frontal = max(0.0, 1.0 - 2.0 * abs((nose - left) / span - 0.5))
    h, w = shape[:2]
    x0, y0, x1, y1 = face.bbox
    inside = x0 >= 0 and y0 >= 0 and x1 <= w and y1 <= h
    return float(np.sqrt(face.area)) * (0.2 + frontal) ** 2 * (1.0 if inside else 0.3) * face.score


def _make_view(image: np.ndarray, face: Face, quality: float) -> View:
    """A small crop around the face (dlib needs context for its aligned chip).

    Shrunk by an integer factor so the face is at most ~``_VIEW_FACE_WIDTH``
    px (area resampling is fast at integer ratios; this runs while streaming).
    """
    k = max(1, math.ceil(face.width / _VIEW_FACE_WIDTH))
    side = 2.0 * max(face.width, face.height)
    cx, cy = face.centre
    crop, x0, y0, _ = crop_at(image, cx, cy, max(8, math.ceil(side / k)) * k)
    lm = face.landmarks.copy()
    lm[:, 0] -= x0
    lm[:, 1] -= y0
    if k > 1:
        crop = cv2.resize(crop, (crop.shape[1] // k, crop.shape[0] // k), interpolation=cv2.INTER_AREA)
        lm /= np.float32(k)
    bx = face.bbox
    box = ((bx[0] - x0) / k, (bx[1] - y0) / k, (bx[2] - x0) / k, (bx[3] - y0) / k)
    return View(quality, face.frame_index, crop, face.with_(landmarks=lm, bbox=box))


def _keep_view(views: list[View], view: View, *, spacing: int) -> None:
    """Keep the best ``VIEWS_PER_TRACK`` views, at least ``spacing`` frames apart."""
    near = [v for v in views if abs(v.frame_index - view.frame_index) < spacing]
    if near:
        worst = min(near, key=lambda v: v.quality)
        if view.quality > max(v.quality for v in near):
            views.remove(worst)
        else:
            return
    if len(views) >= VIEWS_PER_TRACK:
        worst = min(views, key=lambda v: v.quality)
        if worst.quality >= view.quality:
            return
        views.remove(worst)
    views.append(view)


def thumbnail(view: View, size: int = 128) -> np.ndarray:
    crop, _, _, _ = square_crop(view.crop, view.face.bbox, 1.3)
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)


#: Videos at least this long are analysed as two halves in two threads (with a spare detector).
SPLIT_FRAMES = 60


@dataclass
class Scan:
    """What one pass over a frame range found (see :func:`_scan`)."""

    tracker: FaceTracker
    views: dict[int, list[View]]
    scene_cuts: list[int]


def scan(info: MediaInfo, detector: FaceDetector, frames: list[list[Face]], start: int, end: int, *,
          max_gap: int, detect_every: int, tick: Callable[[], None]) -> Scan:
    """Detect, track and keep views of frames ``[start, end)``, writing ``frames[i]``.

    A range that does not start the video decodes one frame before it, only
    to prime the scene-cut test, so a cut right at ``start`` is still seen.
    """
    stream = detector.stream(every=detect_every)
    tracker = FaceTracker(max_gap=max_gap)
    cuts = SceneCutDetector()
    found = Scan(tracker, {}, [])
    for index, image in iter_frames(info, start=max(0, start - 1), end=end):
        if index >= end:
            break
        if index < start:
            cuts.prime(image)
            continue
        if cuts.update(image):
            found.scene_cuts.append(index)
            stream.reset()
            tracker.cut()
        faces = tracker.update(stream.detect(image, frame_index=index), index)
        frames[index] = faces
        for face in faces:
            q = view_quality(face, image.shape)
            track_views = found.views.setdefault(face.track_id, [])  # type: ignore[arg-type]
            if q > 0 and (len(track_views) < VIEWS_PER_TRACK or q > min(v.quality for v in track_views)):
                _keep_view(track_views, _make_view(image, face, q), spacing=max(1, detect_every // 2))
        tick()
    return found




def stitch(first: Scan, second: Scan, frames: list[list[Face]], mid: int, *, max_gap: int
           ) -> tuple[list[Track], dict[int, list[View]], list[int]]:
    """Join the scans of ``[.., mid)`` and ``[mid, ..)`` into one set of tracks.

    The second scan's track ids are moved past the first's. Unless a scene
    cut falls at ``mid``, a track of the first half still alive at the seam
    continues as the second-half track that starts where it ends (matched
    with the tracker's own rule: similar size, small landmark displacement),
    and the two become one track, so smoothing and identity run across the seam.

    Returns:
        (tracks, views per track id, scene cuts), with ``frames`` relabelled in place.
    """
    offset = len(first.tracker.tracks)
    rename = {t.id: t.id + offset for t in second.tracker.tracks}
    if mid not in second.scene_cuts:
        rule = FaceTracker(max_gap=max_gap)
        ending = [t for t in first.tracker.tracks if t.last_frame >= mid - 1 - max_gap]
        starting = sorted((t for t in second.tracker.tracks if t.first_frame <= mid + max_gap),
                          key=lambda t: t.first_frame)
        for track in starting:
            head = next(f for f in frames[track.first_frame] if f.track_id == track.id)
            costs = [rule.link_cost(t, head, track.first_frame) for t in ending]
            if not costs or not np.isfinite(min(costs)):
                continue
            best = ending.pop(int(np.argmin(costs)))
            rename[track.id] = best.id
            best.frames += track.frames
            best.last = track.last
    views = dict(first.views)
    for old, new in rename.items():
        for view in second.views.get(old, []):
            _keep_view(views.setdefault(new, []), view, spacing=1)
    for index in range(mid, len(frames)):
        frames[index] = [f.with_(track_id=rename[f.track_id]) for f in frames[index]]  # type: ignore[index]
    tracks = list(first.tracker.tracks)
    for track in second.tracker.tracks:
        if rename[track.id] == track.id + offset:
            track.id += offset
            tracks.append(track)
    return tracks, views, first.scene_cuts + second.scene_cuts
