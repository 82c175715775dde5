"""Temporal coherence: smooth, gap-filled target geometry per track.

The analysis pass has seen the whole video before anything is rendered, so
smoothing is *offline and zero-phase*: no lag on a fast head turn, unlike a
causal filter. Each track's landmarks are split into

* rigid head pose (scale, rotation, translation, fitted on points that barely
  move with expression), smoothed lightly, and
* pose-normalised shape (expression), smoothed a little more,

then recomposed. Missed detections inside a track (up to ``max_gap`` frames)
are interpolated in that same space, so the original face never flashes back
while the person is still in the shot; a longer absence ends the swap until
the face returns. The identity offset (source shape minus the target's neutral
shape) is added in the normalised space, so it follows pose and keeps the
expression.

Memory does not grow with a track's length: a track is planned in chunks of
:data:`CHUNK` frames, each with a margin of a filter window on both sides
(the Savitzky-Golay filter and the gap interpolation are local, so the
chunked result is the whole-track result), the track's neutral shape is
accumulated chunk by chunk, and the planned faces go straight into a
:class:`~facegraft.planstore.PlanStore` (a temporary file).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .planstore import PlannedFace, PlanStore
from .render.shape import fit_pose, matrices_from_rotvecs, rotvecs_from_matrices, shape_offset
from .types import Face

__all__ = ["CHUNK", "CausalSmoother", "OneEuroFilter", "PlanStore", "PlannedFace", "TrackSettings", "iter_track",
           "neutral_shape", "plan_faces", "plan_track", "track_offset"]

#: Frames of a track planned at once: the float64 temporaries (poses, shapes,
#: interpolation, smoothing) are bounded by this, not by the track's length.
CHUNK = 128

#: Landmarks of one track: an (n, 478, 3) array, or a list of (478, 3) arrays (the analysis' own, not copied).
Landmarks = np.ndarray | Sequence[np.ndarray]


@dataclass(frozen=True, slots=True)
class TrackSettings:
    """How one track is smoothed and shaped."""

    smoothing: float = 0.5
    max_gap: int = 12
    shape_strength: float = 0.8


def _window(strength: float, reach: int, length: int) -> int:
    """Odd Savitzky-Golay window for a smoothing strength, at most the segment length."""
    w = 1 + 2 * round(strength * reach)
    w = min(w, length if length % 2 else length - 1)
    return w if w >= 5 else 0


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Zero-phase polynomial smoothing along axis 0 (keeps motion, drops jitter)."""
    if window < 5:
        return values
    return savgol(values, window, 2)


def savgol(values: np.ndarray, window: int, order: int) -> np.ndarray:
    """Savitzky-Golay smoothing along axis 0, with ``scipy.signal.savgol_filter(mode="interp")``'s edges.

    Each output is the value at its centre of the degree-``order`` polynomial
    fitted by least squares to the ``window`` samples around it; the first and
    last ``window // 2`` outputs come from the polynomial fitted to the first
    and last window. Written out here because importing ``scipy.signal``
    costs ~1 s per process (it pulls in ``scipy.stats``), more than the
    smoothing of a whole video. ``window`` must be odd and at most ``len(values)``.
    """
    n, half = len(values), window // 2
    flat = np.asarray(values, np.float64).reshape(n, -1)
    offsets = np.arange(-half, half + 1, dtype=np.float64)
    fit = np.linalg.pinv(np.vander(offsets, order + 1, increasing=True))  # (order + 1, window)
    out = np.zeros_like(flat)
    inner = out[half:n - half]
    for k, c in enumerate(fit[0]):  # a correlation, one shifted slice at a time (no window-sized copy)
        inner += c * flat[k:n - window + 1 + k]
    edge = np.vander(offsets, order + 1, increasing=True)
    out[:half] = edge[:half] @ (fit @ flat[:window])
    out[n - half:] = edge[half + 1:] @ (fit @ flat[n - window:])
    return out.reshape(values.shape)


def _segments(indices: np.ndarray, max_gap: int) -> list[np.ndarray]:
    """Split sorted frame indices where a gap is longer than ``max_gap`` frames."""
    breaks = np.nonzero(np.diff(indices) > max_gap + 1)[0] + 1
    return np.split(indices, breaks)



def _rows(landmarks: Landmarks, lo: int, hi: int) -> np.ndarray:
    """Rows ``[lo, hi)`` of a track's landmarks as one float64 (k, 478, 3) array."""
    return np.asarray(landmarks[lo:hi], np.float64)


def neutral_shape(landmarks: Landmarks) -> np.ndarray:
    """Mean pose-normalised shape of a track (one Procrustes iteration), float64.

    Summed chunk by chunk in frame order, so no (n, 478, 3) copy of the track is made.
    """
    n = len(landmarks)
    ref = np.asarray(landmarks[n // 2], np.float64)
    total = np.zeros(ref.shape)
    for lo in range(0, n, CHUNK):
        for lm in _rows(landmarks, lo, min(n, lo + CHUNK)):
            total += fit_pose(ref, lm).inverse().apply(lm)
    return total / n


def _normalise(mean: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame, the pose-normalised shape (k, 478 * 3) and the pose (log scale, rotation vector, translation)."""
    poses = [fit_pose(mean, lm) for lm in landmarks]
    normal = np.stack([p.inverse().apply(lm) for p, lm in zip(poses, landmarks, strict=True)])
    rotvec = rotvecs_from_matrices(np.stack([p.rotation for p in poses]))
    params = np.concatenate([np.log([p.scale for p in poses])[:, None], rotvec,
                             np.stack([p.translation for p in poses])], axis=1)
    return normal.reshape(len(landmarks), -1), params


def _interp_rows(frames: np.ndarray, known: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Rows of ``values`` (one per sorted frame in ``known``) linearly interpolated at ``frames``.

    All columns in one step (not one ``np.interp`` per column), with
    ``np.interp``'s arithmetic; a known frame gets its row exactly.
    ``frames`` must lie within ``known``'s range.
    """
    j = np.searchsorted(known, frames, "right") - 1
    out = values[j]
    gap = known[j] != frames
    if gap.any():
        g = j[gap]
        slope = (values[g + 1] - values[g]) / (known[g + 1] - known[g])[:, None]
        out[gap] = slope * (frames[gap] - known[g])[:, None] + values[g]
    return out


def _recompose(params: np.ndarray, normal: np.ndarray, offset: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(base, shaped): each frame's smoothed pose applied to its shape, and to its shape plus the identity offset."""
    scale = np.exp(params[:, 0])[:, None, None]
    rot_t = matrices_from_rotvecs(params[:, 1:4]).transpose(0, 2, 1)
    shift = params[:, None, 4:7]
    base = ((scale * normal) @ rot_t + shift).astype(np.float32)
    if offset is None:
        return base, base
    return base, ((scale * (normal + offset)) @ rot_t + shift).astype(np.float32)


def _plan_segment(seg: np.ndarray, landmarks: Landmarks, row0: int, mean: np.ndarray, offset: np.ndarray | None,
                  pose_window: int, shape_window: int) -> Iterator[tuple[np.ndarray, ...]]:
    """Plan frames ``seg[0]..seg[-1]`` (detections ``seg``, rows from ``row0``) in chunks of :data:`CHUNK`.

    Each chunk is interpolated and smoothed with a margin of a whole window
    on both sides: a smoothed frame depends on half a window either side,
    and even a one-frame chunk then has a window's worth of samples. At the
    segment's ends the margin stops where the whole-segment filter's does,
    so the chunks join into exactly the whole-segment result.
    """
    margin = max(pose_window, shape_window)
    first, stop = int(seg[0]), int(seg[-1]) + 1
    for a in range(first, stop, CHUNK):
        b = min(a + CHUNK, stop)
        lo_f, hi_f = max(first, a - margin), min(stop, b + margin)
        lo = int(np.searchsorted(seg, lo_f, "right")) - 1  # the last detection at or before lo_f
        hi = int(np.searchsorted(seg, hi_f - 1, "left")) + 1  # past the first one at or after hi_f - 1
        normal, params = _normalise(mean, _rows(landmarks, row0 + lo, row0 + hi))
        frames, known = np.arange(lo_f, hi_f), seg[lo:hi]
        keep = slice(a - lo_f, b - lo_f)
        p = _smooth(_interp_rows(frames, known, params), pose_window)[keep]
        n = _smooth(_interp_rows(frames, known, normal), shape_window)[keep]
        del normal
        base, shaped = _recompose(p, n.reshape(b - a, -1, 3), offset)
        yield frames[keep], shaped, base, ~np.isin(frames[keep], known)


def track_offset(mean: np.ndarray, source_shape: np.ndarray, weight: np.ndarray,
                 parts: tuple[tuple[int, int, np.ndarray], ...], strength: float, mouth_rise: float = 1.0
                 ) -> np.ndarray:
    """The identity offset added to a track's every frame (in its neutral frame), already weighted.

    Args:
        mean: the track's neutral shape (:func:`neutral_shape`).
        source_shape: (478, 3) source landmarks.
        weight: (478,) per-point identity weight.
        parts: expressive parts, see :func:`~facegraft.render.shape.identity_offset`.
        strength: the identity shape strength.
        mouth_rise: share of the lips' vertical move kept (see :mod:`facegraft.posecheck`).
    """
    return strength * weight[:, None] * shape_offset(source_shape, mean.astype(np.float32), weight, parts, mouth_rise)


def iter_track(indices: np.ndarray, landmarks: Landmarks, settings: TrackSettings,
               source_shape: np.ndarray | None, weight: np.ndarray,
               parts: tuple[tuple[int, int, np.ndarray], ...] = (), *, mouth_rise: float = 1.0
               ) -> Iterator[tuple[np.ndarray, ...]]:
    """:func:`plan_track` chunk by chunk: ``(frames, landmarks, base, interpolated)`` arrays, in frame order.

    Each chunk holds at most :data:`CHUNK` frames; memory does not depend on
    the track's length. ``mouth_rise``: see :func:`track_offset`.
    """
    indices = np.asarray(indices)
    mean = neutral_shape(landmarks)
    offset = None
    if source_shape is not None and settings.shape_strength > 0:
        offset = track_offset(mean, source_shape, weight, parts, settings.shape_strength, mouth_rise)
    row0 = 0
    for seg in _segments(indices, settings.max_gap):
        length = int(seg[-1] - seg[0]) + 1
        yield from _plan_segment(seg, landmarks, row0, mean, offset, _window(settings.smoothing, 6, length),
                                 _window(settings.smoothing, 3, length))
        row0 += len(seg)


def plan_track(indices: np.ndarray, landmarks: Landmarks, settings: TrackSettings,
               source_shape: np.ndarray | None, weight: np.ndarray,
               parts: tuple[tuple[int, int, np.ndarray], ...] = ()
               ) -> list[tuple[int, np.ndarray, np.ndarray, bool]]:
    """Smoothed, gap-filled, identity-shaped landmarks for one track.

    Args:
        indices: sorted frame indices where the track was detected.
        landmarks: (n, 478, 3) detected landmarks at those frames (or a list of (478, 3) arrays).
        settings: smoothing, gap and shape settings.
        source_shape: (478, 3) source landmarks for the identity shape, or None.
        weight: (478,) per-point identity weight.
        parts: expressive parts, see :func:`~facegraft.render.shape.identity_offset`.

    Returns:
        (frame_index, landmarks, base, interpolated) for every frame to render, where
        ``base`` is the smoothed landmarks before the identity shape (where
        the target's own mouth interior is taken from). All in memory: a long
        track goes through :func:`iter_track` instead.
    """
    return [(int(f), lm, b, bool(i))
            for frames, lms, bases, interp in iter_track(indices, landmarks, settings, source_shape, weight, parts)
            for f, lm, b, i in zip(frames, lms, bases, interp, strict=True)]


def plan_faces(frames: list[list[Face]], chosen: dict[int, int], settings: TrackSettings,
               source_shapes: list[np.ndarray | None], weight: np.ndarray,
               parts: tuple[tuple[int, int, np.ndarray], ...] = (), *,
               store: PlanStore | None = None, folder: str | Path | None = None,
               mouth_rise: dict[int, float] | None = None) -> PlanStore:
    """Plan every face to render in a video, frame by frame, into a :class:`PlanStore`.

    Tracks are planned one after another, chunk by chunk, straight into the
    store's file: besides the analysis it reads, memory stays that of one chunk.

    Args:
        frames: per frame index, the analysed faces (with track and identity ids).
        chosen: identity id -> source index for the identities to replace.
        settings: temporal and shape settings.
        source_shapes: per source index, the source's landmarks (or None).
        weight: (478,) identity weights from the mesh topology.
        parts: expressive parts from the mesh topology.
        store: where to put the plan; default a new one in ``folder``.
        folder: where a new store's temporary file goes (None: the system's temporary folder).
        mouth_rise: per identity id, the share of the lips' vertical move kept (default 1;
            :mod:`facegraft.posecheck` decides it).

    Returns:
        The store, read like ``{frame_index: [PlannedFace, ...]}`` (faces of a frame in track order).
    """
    tracks: dict[int, list[Face]] = {}
    for faces in frames:
        for face in faces:
            if face.track_id is not None and face.identity_id in chosen and not face.interpolated:
                tracks.setdefault(face.track_id, []).append(face)
    store = PlanStore(folder) if store is None else store
    for track_id, faces in tracks.items():
        faces.sort(key=lambda f: f.frame_index)
        identity = int(faces[0].identity_id)  # type: ignore[arg-type]
        source = chosen[identity]
        indices = np.array([f.frame_index for f in faces])
        rise = 1.0 if mouth_rise is None else mouth_rise.get(identity, 1.0)
        for out, shaped, base, interp in iter_track(indices, [f.landmarks for f in faces], settings,
                                                    source_shapes[source], weight, parts, mouth_rise=rise):
            store.add(out, track_id=track_id, identity_id=identity, source_index=source, landmarks=shaped,
                      base=base, interpolated=interp)
    return store


# --------------------------------------------------------------------------- causal (live) smoothing
class OneEuroFilter:
    """Causal low-pass whose cut-off rises with speed (Casiez et al., "1€ filter", CHI 2012).

    A live stream cannot look ahead, so the zero-phase filters above do not
    apply; a fixed low-pass either jitters at rest or lags on a head turn.
    The One-Euro filter smooths hard when the signal is still (cut-off
    ``min_cutoff`` Hz) and follows fast moves (cut-off grows by ``beta`` per
    unit of speed). Element-wise over an array of any shape; the output at
    time t depends only on inputs up to t.

    Args:
        min_cutoff: cut-off frequency (Hz) at rest.
        beta: cut-off increase per unit/s of speed.
        d_cutoff: cut-off (Hz) of the speed estimate.
    """

    def __init__(self, *, min_cutoff: float = 1.0, beta: float = 0.0, d_cutoff: float = 1.0) -> None:
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.reset()

    def reset(self) -> None:
        """Forget the past (the next input passes through unchanged)."""
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t = 0.0

    @staticmethod
    def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
        tau = 1.0 / (2.0 * np.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def __call__(self, value: np.ndarray, t: float) -> np.ndarray:
        """The filtered value at time ``t`` (seconds, increasing)."""
        x = np.asarray(value, np.float64)
        if self._x is None or self._dx is None:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t
            return x.copy()
        dt = max(t - self._t, 1e-4)
        dx = (x - self._x) / dt
        self._dx = self._dx + self._alpha(self.d_cutoff, dt) * (dx - self._dx)
        a = self._alpha(self.min_cutoff + self.beta * np.abs(self._dx), dt)
        self._x = self._x + a * (x - self._x)
        self._t = t
        return self._x.copy()


#: Frames whose pose-normalised shape makes a live track's neutral shape (then it is frozen, so the
#: identity offset measured against it stops moving).
NEUTRAL_FRAMES = 60


class CausalSmoother:
    """Causal counterpart of :func:`plan_track` for one live track: pose and shape smoothed apart.

    As offline, each frame's landmarks are split into rigid head pose and
    pose-normalised shape (in the frame of the track's first face), so a head
    turn is not lagged by the expression filter and jitter of the mesh is
    removed where the head is still. Both go through a :class:`OneEuroFilter`
    in face-size units. The mean normalised shape of the first
    :data:`NEUTRAL_FRAMES` frames stands in for the track's neutral shape.

    Args:
        smoothing: the options' smoothing strength (0: landmarks pass through).
    """

    def __init__(self, smoothing: float = 0.5) -> None:
        self.smoothing = smoothing
        s = max(smoothing, 1e-3)
        # Tuned on lp_drv_d10's mesh at smoothing 0.5: jitter 0.93x the offline filter's, mouth opening
        # correlation with the raw mesh 0.976 (offline 0.978); a shape beta of 8 lagged the mouth (0.950).
        self._pose = OneEuroFilter(min_cutoff=1.5 / s, beta=5.0, d_cutoff=1.0)
        self._shape = OneEuroFilter(min_cutoff=1.5 / s, beta=40.0, d_cutoff=1.0)
        self._reference: np.ndarray | None = None
        self._size = 1.0
        self._sum: np.ndarray | None = None
        self.count = 0

    @property
    def neutral(self) -> np.ndarray | None:
        """The track's neutral shape so far (float64, in its first face's frame), None before any frame."""
        return None if self._sum is None else self._sum / max(1, min(self.count, NEUTRAL_FRAMES))

    def update(self, landmarks: np.ndarray, t: float, offset: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """(base, shaped) float32 landmarks for a frame seen at ``t`` seconds.

        ``offset``: the weighted identity offset in the neutral frame (:func:`track_offset` of
        :attr:`neutral`), or None; ``shaped`` equals ``base`` without it.
        """
        lm = np.asarray(landmarks, np.float64)
        if self._reference is None:
            self._reference = lm.copy()
            self._size = max(float(np.ptp(lm[:, 0])), 1.0)
        pose = fit_pose(self._reference, lm)
        normal = pose.inverse().apply(lm)
        if self.count < NEUTRAL_FRAMES:
            self._sum = normal.copy() if self._sum is None else self._sum + normal
        self.count += 1
        params = np.concatenate([[np.log(pose.scale)], rotvecs_from_matrices(pose.rotation[None])[0],
                                 pose.translation / self._size])
        if self.smoothing > 0:
            params = self._pose(params, t)
            normal = self._shape(normal / self._size, t) * self._size
        params = params.copy()
        params[4:7] *= self._size
        base, shaped = _recompose(params[None], normal[None], offset)
        return base[0], shaped[0]
