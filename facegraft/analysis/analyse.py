"""One pass over a video: who is in it, where, in every frame.

Per frame: scene-cut test, detection (tracking mode between full detections),
track linking. Per track: a few good views (large, frontal, inside the frame)
are kept as small crops while the video streams by, and embedded only at the
end (dlib costs ~70-120 ms a face, so 3-5 per track, never per frame). Tracks
are then merged into identities by average-linkage clustering of their
embeddings, never merging two tracks seen in the same frame, so the same
person before and after a cut gets one identity. Identity 0 is the most
present person.

A swap that only needs the identities' ids (every rule but ``reference``)
asks for ``embed=False``: then only tracks that could merge with another one
(some other track never shares a frame with them) are embedded, which is
all the clustering reads; a one-face clip, the common case, costs no dlib
call at all and gets the same identities, without embeddings. A swap that
replaces everyone (``select=all``) reads no identity at all and asks for
``merge=False``: every track is its own person and nothing is embedded (on the
1080p crowd that skips ~30 dlib calls, ~3.5 s of 13).

Example:
    >>> analysis = analyse_faces("clip.mp4", models=models)  # doctest: +SKIP
    >>> [(p.id, p.frames, p.first_frame) for p in analysis.identities]  # doctest: +SKIP
    [(0, 297, 0), (1, 64, 211)]
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..media import MediaInfo
from ..types import Face, Identity
from ._io import media_info
from .scan import SPLIT_FRAMES, View, scan, stitch, thumbnail
from .tracker import Track

if TYPE_CHECKING:
    from .models import Models


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
        views: per track id, its few best views (face crops at most ~200 px
            wide, from frames spread over the track): already decoded, so
            later stages (the pose check) can render test frames without seeking.
        max_gap: frames a track survived missed detections.
        embedded: every identity has its embedding (False: analysed with
            ``embed=False``, where a person no other track could merge with has none).
        merged: tracks of one person were merged into one identity (False:
            analysed with ``merge=False``, one identity per track).
    """

    info: MediaInfo
    frames: list[list[Face]]
    identities: list[Identity]
    scene_cuts: list[int]
    track_identity: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0
    max_gap: int = 12
    views: dict[int, list[View]] = field(default_factory=dict)
    embedded: bool = True
    merged: bool = True

    def covers(self, target: str | Path, max_gap: int, *, embeddings: bool = False, merged: bool = True) -> bool:
        """Whether this is the whole analysis of ``target`` with tracks bridged over ``max_gap`` frames
        (when ``embeddings`` is set, with every identity's embedding; when ``merged``, with tracks
        merged into people)."""
        return (Path(self.info.path).resolve() == Path(target).resolve() and self.max_gap == max_gap
                and len(self.frames) == self.info.frame_count and (self.embedded or not embeddings)
                and (self.merged or not merged))

    def identity(self, identity_id: int) -> Identity:
        """The identity with this id."""
        return next(p for p in self.identities if p.id == identity_id)


def cluster_tracks(embeddings: list[np.ndarray | None], frames: list[set[int]], *,
                   threshold: float = 0.5) -> list[int]:
    """Average-linkage clustering of track embeddings with a cannot-link rule.

    Two tracks present in the same frame are different people, whatever
    their embeddings say. Only tracks that share no frame are ever compared,
    so a track that shares a frame with every other one may come without
    its embedding (None).

    Returns:
        A cluster label per track (0..k-1, in order of first appearance in the list).
    """
    n = len(embeddings)
    if n == 0:
        return []
    have = [i for i, v in enumerate(embeddings) if v is not None]
    dist = np.full((n, n), np.inf)
    if have:
        e = np.stack([embeddings[i] for i in have]).astype(np.float64)
        dist[np.ix_(have, have)] = np.linalg.norm(e[:, None] - e[None], axis=2)
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


def analyse_faces(target: str | Path, *, models: Models | None = None,
                  progress: Callable[[int, int], None] | None = None, max_gap: int = 12,
                  detect_every: int = 10, merge_threshold: float = 0.5, min_track: int = 3,
                  start: int = 0, end: int | None = None, split: bool | None = None,
                  embed: bool = True, merge: bool = True, info: MediaInfo | None = None) -> VideoAnalysis:
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
        split: analyse the two halves in two threads (the mesh model releases
            the GIL, so both cores work) and join the tracks at the seam;
            None: when the range has at least :data:`SPLIT_FRAMES` frames and
            the machine more than one core.
        embed: give every identity its embedding (``select=reference``, the
            face gallery, the metrics); False embeds only the tracks the
            clustering compares (those that share no frame with some other
            track), so the identities are the same but may lack embeddings.

    Returns:
        The :class:`VideoAnalysis`.

    Raises:
        MediaError: the target cannot be read.
    """
    t0 = time.perf_counter()
    if info is None or Path(info.path).resolve() != Path(target).resolve():
        info = media_info(target)
    own = models is None
    if models is None:
        from .models import Models

        models = Models()
    try:
        total = info.frame_count if end is None else min(end, info.frame_count)
        frames: list[list[Face]] = [[] for _ in range(total)]
        lock = threading.Lock()
        done = [0]

        def tick() -> None:
            with lock:
                done[0] += 1
                if progress is not None:
                    progress(done[0], total - start)

        kw = {"max_gap": max_gap, "detect_every": detect_every, "tick": tick}
        if split is None:
            split = info.kind == "video" and total - start >= SPLIT_FRAMES and (os.cpu_count() or 1) > 1
        if split and info.kind == "video" and total - start >= 2:
            mid = (start + total) // 2
            with ThreadPoolExecutor(1) as pool:
                later = pool.submit(scan, info, models.spare_detector, frames, mid, total, **kw)
                first = scan(info, models.detector, frames, start, mid, **kw)
                second = later.result()
            tracks, views, scene_cuts = stitch(first, second, frames, mid, max_gap=max_gap)
        else:
            only = scan(info, models.detector, frames, start, total, **kw)
            tracks, views, scene_cuts = only.tracker.tracks, only.views, only.scene_cuts
        # A clip shorter than min_track frames (a 0.04 s clip) would otherwise drop every face.
        shortest = 1 if info.kind == "image" else min(min_track, max(1, total - start))
        identities, track_identity = _identify(models, tracks, views, frames, min_track=shortest,
                                               threshold=merge_threshold, embed=embed, merge=merge)
    finally:
        if own:
            models.close()
    return VideoAnalysis(info=info, frames=frames, identities=identities, scene_cuts=scene_cuts,
                         track_identity=track_identity, seconds=time.perf_counter() - t0, max_gap=max_gap,
                         views={t: v for t, v in views.items() if t in track_identity},
                         embedded=all(p.embedding is not None for p in identities), merged=merge)


def _identify(models: Models, tracks: list[Track], views: dict[int, list[View]],
              frames: list[list[Face]], *, min_track: int, threshold: float, embed: bool = True,
              merge: bool = True) -> tuple[list[Identity], dict[int, int]]:
    """Embed each track's views (all, only those the clustering compares, or none), merge tracks, label the frames.

    Without embeddings no two tracks are ever merged (:func:`cluster_tracks` only compares distances).
    """
    kept = [t for t in tracks if len(t.frames) >= min_track and views.get(t.id)]
    seen = [set(t.frames) for t in kept]
    embeddings: list[np.ndarray | None] = []
    for i, track in enumerate(kept):
        if merge and (embed or any(seen[i].isdisjoint(other) for j, other in enumerate(seen) if j != i)):
            vecs = [models.embedder.embed(v.crop, v.face) for v in views[track.id]]
            embeddings.append(np.mean(vecs, axis=0).astype(np.float32))
        else:
            embeddings.append(None)
    labels = cluster_tracks(embeddings, seen, threshold=threshold)
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
        vecs = [emb_of[i] for i in ids]
        mean = (None if any(v is None for v in vecs)
                else np.average(np.stack(vecs), axis=0, weights=weights).astype(np.float32))  # type: ignore[arg-type]
        identities.append(Identity(id=new_id, frames=count, first_frame=first, embedding=mean,
                                   thumbnail=thumbnail(best), track_ids=sorted(ids)))
        track_identity.update({i: new_id for i in ids})
    for index, faces in enumerate(frames):
        if faces:
            frames[index] = [f.with_(identity_id=track_identity[f.track_id]) for f in faces
                             if f.track_id in track_identity]
    return identities, track_identity
