"""One pass over a video: who is in it, where, in every frame.

Per frame: scene-cut test, detection (tracking mode between full detections),
track linking. Per track: a few good views (large, frontal, inside the frame)
are kept as small crops while the video streams by, and embedded only at the
end (dlib costs ~70-100 ms a face, so 3-5 per track, never per frame). Tracks
are then merged into identities by average-linkage clustering of their
embeddings, never merging two tracks seen in the same frame, so the same
person before and after a cut gets one identity. Identity 0 is the most
present person.

Example:
    >>> analysis = analyse_faces("clip.mp4", models=models)  # doctest: +SKIP
    >>> [(p.id, p.frames, p.first_frame) for p in analysis.identities]  # doctest: +SKIP
    [(0, 297, 0), (1, 64, 211)]
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ..media import MediaInfo
from ..types import Face, Identity
from ._io import iter_frames, media_info
from .detector import crop_at, square_crop
from .tracker import FaceTracker, SceneCutDetector

if TYPE_CHECKING:
    from .models import Models

#: Views per track that get an embedding.
VIEWS_PER_TRACK = 3
#: Faces in stored views are scaled down to at most this width (dlib's chip is 150 px).
_VIEW_FACE_WIDTH = 200


@dataclass(slots=True)
class VideoAnalysis:
    """Everything known about the faces of one video (or image).

    Attributes:
        info: the media file's description.
        frames: per frame index, the faces detected there, with ``track_id``
            and ``identity_id`` set (frames with no face hold an empty list).
        identities: the people, id 0 the most present.
        scene_cuts: frame indices that start a new shot (frame 0 not included).
        track_identity: identity id of each track id.
        seconds: wall time of the analysis.
    """

    info: MediaInfo
    frames: list[list[Face]]
    identities: list[Identity]
    scene_cuts: list[int]
    track_identity: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0

    def identity(self, identity_id: int) -> Identity:
        """The identity with this id."""
        return next(p for p in self.identities if p.id == identity_id)


@dataclass(slots=True)
class _View:
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


def _make_view(image: np.ndarray, face: Face, quality: float) -> _View:
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
    return _View(quality, face.frame_index, crop, face.with_(landmarks=lm, bbox=box))


def _keep_view(views: list[_View], view: _View, *, spacing: int) -> None:
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


def cluster_tracks(embeddings: list[np.ndarray], frames: list[set[int]], *,
                   threshold: float = 0.5) -> list[int]:
    """Average-linkage clustering of track embeddings with a cannot-link rule.

    Two tracks present in the same frame are different people, whatever
    their embeddings say.

    Returns:
        A cluster label per track (0..k-1, in order of first appearance in the list).
    """
    n = len(embeddings)
    if n == 0:
        return []
    e = np.stack(embeddings).astype(np.float64)
    dist = np.linalg.norm(e[:, None] - e[None], axis=2)
    clusters: list[list[int]] = [[i] for i in range(n)]
    seen: list[set[int]] = [set(f) for f in frames]
    while True:
        best, pair = threshold, None
        for a in range(len(clusters)):
            for b in range(a + 1, len(clusters)):
                if seen[a] & seen[b]:
                    continue
                d = float(dist[np.ix_(clusters[a], clusters[b])].mean())
                if d < best:
                    best, pair = d, (a, b)
        if pair is None:
            break
        a, b = pair
        clusters[a] += clusters.pop(b)
        seen[a] |= seen.pop(b)
    labels = [0] * n
    for k, members in enumerate(sorted(clusters, key=min)):
        for i in members:
            labels[i] = k
    return labels


def _thumbnail(view: _View, size: int = 128) -> np.ndarray:
    crop, _, _, _ = square_crop(view.crop, view.face.bbox, 1.3)
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)


def analyse_faces(target: str | Path, *, models: Models | None = None,
                  progress: Callable[[int, int], None] | None = None, max_gap: int = 12,
                  detect_every: int = 10, merge_threshold: float = 0.5, min_track: int = 3,
                  start: int = 0, end: int | None = None) -> VideoAnalysis:
    """Detect, track and identify every face of a video or image in one pass.

    Args:
        target: video or image file.
        models: loaded :class:`~facegraft.analysis.models.Models` (built, and
            closed, here when None).
        progress: called as ``progress(frames_done, frames_total)``.
        max_gap: frames a track survives missed detections.
        detect_every: frames between full detections (tracking in between).
        merge_threshold: mean embedding distance under which tracks are the
            same person.
        min_track: tracks with fewer detections are dropped as false
            detections (ignored for images).
        start: first frame to analyse (frames before it stay empty).
        end: one past the last frame to analyse.

    Returns:
        The :class:`VideoAnalysis`.

    Raises:
        MediaError: the target cannot be read.
    """
    t0 = time.perf_counter()
    info = media_info(target)
    own = models is None
    if models is None:
        from .models import Models

        models = Models()
    try:
        total = info.frame_count if end is None else min(end, info.frame_count)
        frames: list[list[Face]] = [[] for _ in range(total)]
        stream = models.detector.stream(every=detect_every)
        tracker = FaceTracker(max_gap=max_gap)
        cuts = SceneCutDetector()
        scene_cuts: list[int] = []
        views: dict[int, list[_View]] = {}
        for done, (index, image) in enumerate(iter_frames(info, start=start, end=end), start=1):
            if index >= total:
                break
            if cuts.update(image):
                scene_cuts.append(index)
                stream.reset()
                tracker.cut()
            faces = tracker.update(stream.detect(image, frame_index=index), index)
            frames[index] = faces
            for face in faces:
                q = view_quality(face, image.shape)
                track_views = views.setdefault(face.track_id, [])  # type: ignore[arg-type]
                if q > 0 and (len(track_views) < VIEWS_PER_TRACK or q > min(v.quality for v in track_views)):
                    _keep_view(track_views, _make_view(image, face, q), spacing=max(1, detect_every // 2))
            if progress is not None:
                progress(done, total - start)
        # A clip shorter than min_track frames (a 0.04 s clip) would otherwise drop every face.
        shortest = 1 if info.kind == "image" else min(min_track, max(1, total - start))
        identities, track_identity = _identify(models, tracker, views, frames, min_track=shortest,
                                               threshold=merge_threshold)
    finally:
        if own:
            models.close()
    return VideoAnalysis(info=info, frames=frames, identities=identities, scene_cuts=scene_cuts,
                         track_identity=track_identity, seconds=time.perf_counter() - t0)


def _identify(models: Models, tracker: FaceTracker, views: dict[int, list[_View]],
              frames: list[list[Face]], *, min_track: int, threshold: float,
              ) -> tuple[list[Identity], dict[int, int]]:
    """Embed each track's views, merge tracks into identities, label the frames."""
    kept = [t for t in tracker.tracks if len(t.frames) >= min_track and views.get(t.id)]
    embeddings = []
    for track in kept:
        vecs = [models.embedder.embed(v.crop, v.face) for v in views[track.id]]
        embeddings.append(np.mean(vecs, axis=0).astype(np.float32))
    labels = cluster_tracks(embeddings, [set(t.frames) for t in kept], threshold=threshold)
    groups: dict[int, list[int]] = {}
    for track, label in zip(kept, labels, strict=True):
        groups.setdefault(label, []).append(track.id)
    by_id = {t.id: t for t in kept}
    emb_of = {t.id: e for t, e in zip(kept, embeddings, strict=True)}
    people = []
    for ids in groups.values():
        present = set().union(*(by_id[i].frames for i in ids))
        people.append((len(present), min(present), ids))
    people.sort(key=lambda p: (-p[0], p[1]))
    identities, track_identity = [], {}
    for new_id, (count, first, ids) in enumerate(people):
        best = max((v for i in ids for v in views[i]), key=lambda v: v.quality)
        weights = np.array([len(by_id[i].frames) for i in ids], np.float32)
        mean = np.average(np.stack([emb_of[i] for i in ids]), axis=0, weights=weights).astype(np.float32)
        identities.append(Identity(id=new_id, frames=count, first_frame=first, embedding=mean,
                                   thumbnail=_thumbnail(best), track_ids=sorted(ids)))
        track_identity.update({i: new_id for i in ids})
    for index, faces in enumerate(frames):
        if faces:
            frames[index] = [f.with_(identity_id=track_identity[f.track_id]) for f in faces
                             if f.track_id in track_identity]
    return identities, track_identity
