"""The causal live path: one frame in, the swapped frame out, nothing looked ahead.

:class:`LiveSwapper` drives the offline stages frame by frame: the
project's :class:`~facegraft.analysis.detector.FaceDetector` in tracking mode (the
mesh refitted on the region predicted from the last frame; the full detector
when nothing is tracked or a face is lost, and every few frames in the
background for faces that enter), the offline :class:`~facegraft.analysis.tracker.FaceTracker`
for track ids, a :class:`~facegraft.temporal.CausalSmoother` per track (One-Euro
filters on pose and pose-normalised shape instead of the offline zero-phase
filter, which needs the future), the identity shape measured against the
track's neutral shape so far, and the same :class:`~facegraft.render.renderer.FaceRenderer`
with its per-track :class:`~facegraft.render.renderer.TrackState` (colour
statistics as a moving average, causal already).

Who is replaced: with reference photos, the track whose dlib embedding is
nearest to them (within ``match_threshold``); otherwise the biggest face,
kept while its track lives so the swap does not hop between people. dlib
costs ~70 ms a face, so a track is embedded in a background thread when it
appears and then every :data:`EMBED_EVERY` frames until it matches, never
per frame; a frame never waits for it.

Example:
    >>> with LiveSwapper(["me.jpg"]) as live:  # doctest: +SKIP
    ...     out = live.process(frame_rgb)
    ...     out.image, out.info.latency_ms, out.info.swapped
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..analysis.detector import Detection, iou
from ..analysis.scan import View, view_quality
from ..errors import FacegraftError
from ..options import SwapOptions
from ..render.renderer import FaceRenderer, TrackState
from ..render.source import PreparedSource
from ..temporal import NEUTRAL_FRAMES, CausalSmoother, track_offset
from ..types import Face
from .records import FrameInfo, LiveFrame

ImageLike = str | Path | np.ndarray

#: Frames between full detections, which run in the background (the mesh tracks the faces in between).
DETECT_EVERY = 15
#: Frames between two embeddings of a track that has not matched the reference yet.
EMBED_EVERY = 30
#: Frames of a track (counted from its first) at which its identity offset is re-measured...
OFFSET_AT = (10, 30, NEUTRAL_FRAMES)
#: ...and the share of a new offset taken per frame after that (no visible jump).
OFFSET_RATE = 0.15
#: A face this many times the chosen face's area takes over the swap (without reference photos).
TAKE_OVER = 1.5
#: Frames of a new track (counted from its first) kept as views for the head-pose check...
CHECK_VIEWS = (3, 12, 24)
#: ...which runs, in the background, once the track is this many frames old.
CHECK_AT = 30


@dataclass(slots=True)
class Pending:
    """A frame between :meth:`LiveSwapper.analyse` and :meth:`LiveSwapper.finish`."""

    image: np.ndarray
    index: int
    timestamp: float
    received: float
    started: float
    dropped: int
    face_found: bool
    colour: TrackState | None
    held: bool = False
    landmarks: np.ndarray | None = None
    base: np.ndarray | None = None
    keep: np.ndarray | None = None


@dataclass
class _Track:
    """What the live path keeps about one tracked face."""

    smoother: CausalSmoother
    colour: TrackState = field(default_factory=TrackState)
    offset: np.ndarray | None = None
    target_offset: np.ndarray | None = None
    last_seen: int = 0
    shaped: np.ndarray | None = None
    base: np.ndarray | None = None
    distance: float | None = None
    embed_at: int = 0
    pending: Future[np.ndarray] | None = None
    views: list[View] = field(default_factory=list)
    check: Future[float] | None = None
    mouth_rise: float = 1.0
    checked: bool = False


class LiveSwapper:
    """Swaps faces in a stream of frames, causally, with the offline renderer.

    Not thread-safe: one caller (or one :class:`~facegraft.live.runner.LiveRunner`) feeds it.

    Args:
        sources: photos of the source person (fused into one face, as offline).
        options: the swap options; ``smoothing``, ``shape_strength``, ``max_gap``,
            the render options (occlusion included), ``pose_check`` and
            ``match_threshold`` apply; ``mirror_turned`` is on only when set to
            ``on`` (``auto`` needs test renders of the whole target).
        models: loaded :class:`~facegraft.analysis.models.Models` (built and closed here when None);
            its mediapipe graphs are used from this swapper's threads, so one swapper per ``Models``
            at a time.
        reference: photo(s) of the person to replace; default ``options.references``,
            and without any the biggest face.
    """

    def __init__(self, sources: Sequence[ImageLike], options: SwapOptions | None = None, *,
                 models: object | None = None, reference: ImageLike | Sequence[ImageLike] | None = None) -> None:
        from ..analysis.models import Models

        self.options = options or SwapOptions()
        if not sources:
            raise FacegraftError("no source photo given")
        self._own = models is None
        self._closed = False
        self._pool: ThreadPoolExecutor | None = None
        self._occlusion = None
        self.models = models or Models()
        try:
            self._setup(sources, reference)
        except BaseException:
            self.close()
            raise

    def _setup(self, sources: Sequence[ImageLike], reference: ImageLike | Sequence[ImageLike] | None) -> None:
        """Sources, references, detector stream, tracker, occlusion, pose check: once per swapper."""
        from ..analysis.source import prepare_source
        from ..analysis.tracker import FaceTracker
        from ..render.source import prepare_textures

        self.renderer = FaceRenderer(self.options)
        face = prepare_source(list(sources), self.models, embed=False)  # type: ignore[arg-type]
        self.source: PreparedSource = prepare_textures(face, self.renderer.topology,
                                                       mirror_turned=self.options.mirror_turned == "on")
        refs = reference if reference is not None else list(self.options.references)
        if isinstance(refs, str | Path | np.ndarray):
            refs = [refs]
        self.references = [prepare_source([r], self.models).embedding for r in refs]  # type: ignore[arg-type]
        self._previous: list[Face] = []
        self._boxes: Future[list[Detection]] | None = None
        if self.options.occlusion != "off":
            from ..render.occlusion import Occlusion

            self._occlusion = Occlusion(self.renderer.topology, mode=self.options.occlusion)  # as render_range
        self._tracker = FaceTracker(max_gap=self.options.max_gap)
        self._tracks: dict[int, _Track] = {}
        self._chosen: int | None = None
        self._check = None
        if self.options.pose_check and self.options.shape_strength > 0:
            from types import SimpleNamespace

            from ..posecheck import PoseCheck
            from ..temporal import TrackSettings

            # Its own renderer and mesh graphs (the models' spare detector): it runs in the background thread.
            settings = TrackSettings(self.options.smoothing, self.options.max_gap, self.options.shape_strength)
            self._check = PoseCheck(SimpleNamespace(detector=self.models.spare_detector),  # type: ignore[attr-defined]
                                    FaceRenderer(self.options, self.renderer.topology), settings)
        # Full detections, dlib embeddings and head-pose checks: slow, never waited for by a frame.
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="facegraft-live-bg")
        self._index = 0

    # ------------------------------------------------------------------ public
    def process(self, frame_rgb: np.ndarray, *, timestamp: float | None = None, received: float | None = None,
                dropped: int = 0) -> LiveFrame:
        """Swap the chosen face in one frame (:meth:`analyse` then :meth:`finish`).

        Args:
            frame_rgb: RGB uint8 HxWx3 frame (not modified).
            timestamp: the frame's time in the stream (seconds) for the filters; default the clock.
            received: ``time.perf_counter()`` when the frame arrived (latency is measured from it);
                default now.
            dropped: frames dropped before this one so far (filled in by the runner).

        Returns:
            A :class:`LiveFrame`: the swapped image and its :class:`FrameInfo`.
        """
        return self.finish(self.analyse(frame_rgb, timestamp=timestamp, received=received, dropped=dropped))

    def analyse(self, frame_rgb: np.ndarray, *, timestamp: float | None = None, received: float | None = None,
                dropped: int = 0) -> Pending:
        """The first stage: detect, track, smooth, choose the face, find what covers it.

        Frames must come in order. Its result goes to :meth:`finish` (in the same order), which
        may run in another thread while the next frame is analysed. The split puts the mesh model
        and the occlusion model on one side and the renderer on the other, about half the work each.
        """
        started = time.perf_counter()
        received = started if received is None else received
        timestamp = received if timestamp is None else timestamp
        image = np.array(frame_rgb, copy=True)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise FacegraftError(f"expected an RGB uint8 HxWx3 frame, got {image.dtype} {image.shape}")
        index = self._index
        self._index += 1
        faces = self._tracker.update(self._detect(image, index), index)
        for face in faces:
            self._observe(face, image, index, timestamp)
        self._forget(index)
        chosen = self._choose(faces)
        track = None if chosen is None else self._tracks.get(chosen)
        keep = None
        if track is not None and track.shaped is not None and track.base is not None and self._occlusion is not None:
            region = self.renderer.region(track.shaped, image.shape)  # the region prepare() will paint
            if region is not None:
                # Per-track state, frames in order: this stage sees them so, as the offline preparing thread.
                keep = self._occlusion.keep(image, int(chosen), track.base, region,  # type: ignore[arg-type]
                                            self.source.shape)
        # The face to replace is in view: any face without references (the biggest is chosen), the
        # reference's match with them (a stranger in view is not a fall-back).
        face_found = (track is not None and index - track.last_seen <= self.options.max_gap) or (
            bool(faces) and not self.references)
        return Pending(image, index, float(timestamp), received, started, dropped, face_found,
                       None if track is None else track.colour, held=track is not None and track.last_seen != index,
                       landmarks=None if track is None else track.shaped, base=None if track is None else track.base,
                       keep=keep)

    def finish(self, pending: Pending) -> LiveFrame:
        """The second stage: the renderer (geometry, colour smoothed per track, blend); frames in order."""
        image, swapped = pending.image, False
        if pending.landmarks is not None and pending.colour is not None:
            layer = self.renderer.prepare(image, pending.landmarks, self.source, base=pending.base)
            swapped = layer is not None and self.renderer.finish(image, layer, pending.colour, occlusion=pending.keep)
        done = time.perf_counter()
        info = FrameInfo(index=pending.index, timestamp=pending.timestamp, received=pending.received,
                         started=pending.started, done=done, latency_ms=1000.0 * (done - pending.received),
                         face_found=pending.face_found, swapped=swapped, dropped=pending.dropped, held=pending.held)
        return LiveFrame(image=image, info=info, landmarks=pending.landmarks if swapped else None)

    def reset(self) -> None:
        """Forget every track (a new stream or a scene cut)."""
        self._previous = []
        self._tracker.cut()
        self._tracks.clear()
        self._chosen = None

    def close(self) -> None:
        """Stop the embedding thread and release the models if they were built here (safe twice)."""
        if self._closed:
            return
        self._closed = True
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._occlusion is not None:
            self._occlusion.close()
        if self._own:
            self.models.close()  # type: ignore[attr-defined]

    def __enter__(self) -> LiveSwapper:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ stages
    def _detect(self, image: np.ndarray, index: int) -> list[Face]:
        """This frame's faces: the mesh refitted where the last frame's faces were, as offline between
        full detections; the full detector when nothing is tracked or a face was lost.

        The periodic full detection (for faces that enter) runs in the background on the models'
        second detector; a new face it finds gets its mesh here, in a later frame. So no frame pays
        for it, where offline every ``DETECT_EVERY``-th frame does.
        """
        detector = self.models.detector  # type: ignore[attr-defined]
        faces = detector.detect(image, self._previous or None, refresh=False, frame_index=index)
        if self._boxes is not None and self._boxes.done():
            boxes, self._boxes = self._boxes.result(), None
            for det in boxes:
                if any(iou(det.box, f.bbox) > 0.2 for f in faces):
                    continue
                face = detector.fit_detection(image, det, frame_index=index)
                if face is not None and all(iou(face.bbox, f.bbox) < 0.5 for f in faces):
                    faces.append(face)
        if self._boxes is None and index % DETECT_EVERY == 0 and self._pool is not None:
            spare = self.models.spare_detector  # type: ignore[attr-defined]
            self._boxes = self._pool.submit(spare.find_boxes, image.copy(), tiles=False)
        self._previous = faces
        return faces

    def _observe(self, face: Face, image: np.ndarray, index: int, timestamp: float) -> None:
        """Smooth a detected face into its track, update its identity offset, schedule its embedding."""
        tid = int(face.track_id)  # type: ignore[arg-type]
        track = self._tracks.get(tid)
        if track is None:
            # Until the head-pose check has answered, the lips' rise is held back (never a nod at first).
            track = self._tracks[tid] = _Track(CausalSmoother(self.options.smoothing),
                                               mouth_rise=0.0 if self._check is not None else 1.0)
        track.last_seen = index
        count = track.smoother.count
        if self._check is not None and not track.checked:
            self._pose_check(track, face, image, count)
        if self.options.shape_strength > 0 and (count == 0 or count in OFFSET_AT):
            # The neutral shape is the mean of the frames so far (the first frame's own shape, in its own
            # frame, before any); re-measured a few times as it settles.
            track.target_offset = self._offset(track, face.landmarks if count == 0 else None)
            if track.offset is None:
                track.offset = track.target_offset
        if track.offset is not None and track.target_offset is not None:
            track.offset = track.offset + OFFSET_RATE * (track.target_offset - track.offset)
        track.base, track.shaped = track.smoother.update(face.landmarks, timestamp, track.offset)
        if self.references:
            self._embed(track, face, image, index)

    def _offset(self, track: _Track, neutral: np.ndarray | None = None) -> np.ndarray:
        """The track's identity offset against its neutral shape so far (lips' rise as the check decided)."""
        topo = self.renderer.topology
        neutral = track.smoother.neutral if neutral is None else np.asarray(neutral, np.float64)
        return track_offset(neutral, self.source.shape, topo.identity_weight,  # type: ignore[arg-type]
                            topo.parts, self.options.shape_strength, track.mouth_rise)

    def _pose_check(self, track: _Track, face: Face, image: np.ndarray, count: int) -> None:
        """The offline head-pose check on a few early frames of the track, in the background.

        Until it answers, the lips' vertical move toward the source's is held back; its answer is eased in.
        """
        if track.check is not None:
            if track.check.done():
                # A check that failed leaves the lips as they are (its default), never the stream stopped.
                failed = track.check.exception() is not None
                track.mouth_rise = 1.0 if failed else track.check.result()
                track.check, track.checked = None, True
                track.target_offset = self._offset(track)  # eased in by OFFSET_RATE
            return
        if count in CHECK_VIEWS:
            track.views.append(View(view_quality(face, image.shape), count, image.copy(), face))
        elif count >= CHECK_AT and track.views:
            views, check = track.views, self._check
            track.views = []
            track.check = self._pool.submit(  # type: ignore[union-attr]
                lambda: check(views, [v.face for v in views], self.source).mouth_rise)  # type: ignore[misc]

    def _embed(self, track: _Track, face: Face, image: np.ndarray, index: int) -> None:
        """Collect a finished embedding; start one when due (in the background, on a copy of the frame)."""
        if track.pending is not None and track.pending.done():
            vec = track.pending.result()
            track.distance = min(float(np.linalg.norm(vec - r)) for r in self.references if r is not None)
            track.pending = None
        matched = track.distance is not None and track.distance < self.options.match_threshold
        if track.pending is None and not matched and index >= track.embed_at and face.width >= 40:
            track.embed_at = index + EMBED_EVERY
            track.pending = self._pool.submit(self.models.embedder.embed, image.copy(), face)  # type: ignore[union-attr,attr-defined]

    def _forget(self, index: int) -> None:
        """Drop tracks unseen for longer than the gap bridging allows."""
        for tid in [t for t, tr in self._tracks.items() if index - tr.last_seen > self.options.max_gap]:
            del self._tracks[tid]
            if self._chosen == tid:
                self._chosen = None

    def _choose(self, faces: list[Face]) -> int | None:
        """The track to replace: the reference's best match, or the biggest face (sticky)."""
        if self.references:
            matched = [(tr.distance, tid) for tid, tr in self._tracks.items()
                       if tr.distance is not None and tr.distance < self.options.match_threshold]
            self._chosen = min(matched)[1] if matched else None
            return self._chosen
        if not faces:
            return self._chosen  # held from the track's last landmarks while within max_gap
        biggest = max(faces, key=lambda f: f.area)
        current = next((f for f in faces if f.track_id == self._chosen), None)
        if current is None or biggest.area > TAKE_OVER * current.area:
            self._chosen = int(biggest.track_id)  # type: ignore[arg-type]
        return self._chosen
