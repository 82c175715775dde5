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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import savgol_filter
from scipy.spatial.transform import Rotation

from .render.shape import Similarity, fit_pose, identity_offset, pose_neutral
from .types import Face


@dataclass(frozen=True, slots=True)
class PlannedFace:
    """A face to render in one frame: final landmarks and which source to use."""

    frame_index: int
    track_id: int
    identity_id: int
    source_index: int
    landmarks: np.ndarray
    interpolated: bool
    base: np.ndarray | None = None


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
    return savgol_filter(values, window, 2, axis=0, mode="interp")


def _segments(indices: np.ndarray, max_gap: int) -> list[np.ndarray]:
    """Split sorted frame indices where a gap is longer than ``max_gap`` frames."""
    breaks = np.nonzero(np.diff(indices) > max_gap + 1)[0] + 1
    return np.split(indices, breaks)


def neutral_shape(landmarks: np.ndarray) -> tuple[np.ndarray, list[Similarity]]:
    """Mean pose-normalised shape of a track (one Procrustes iteration) and each frame's pose."""
    ref = landmarks[len(landmarks) // 2]
    poses = [fit_pose(ref, lm) for lm in landmarks]
    normal = np.stack([p.inverse().apply(lm) for p, lm in zip(poses, landmarks, strict=True)])
    mean = normal.mean(0)
    poses = [fit_pose(mean, lm) for lm in landmarks]
    return mean.astype(np.float32), poses


def plan_track(indices: np.ndarray, landmarks: np.ndarray, settings: TrackSettings,
               source_shape: np.ndarray | None, weight: np.ndarray,
               parts: tuple[tuple[int, int, np.ndarray], ...] = ()
               ) -> list[tuple[int, np.ndarray, np.ndarray, bool]]:
    """Smoothed, gap-filled, identity-shaped landmarks for one track.

    Args:
        indices: sorted frame indices where the track was detected.
        landmarks: (n, 478, 3) detected landmarks at those frames.
        settings: smoothing, gap and shape settings.
        source_shape: (478, 3) source landmarks for the identity shape, or None.
        weight: (478,) per-point identity weight.
        parts: expressive parts, see :func:`~facegraft.render.shape.identity_offset`.

    Returns:
        (frame_index, landmarks, base, interpolated) for every frame to render, where
        ``base`` is the smoothed landmarks before the identity shape (where
        the target's own mouth interior is taken from).
    """
    neutral, poses = neutral_shape(landmarks)
    offset = None
    if source_shape is not None and settings.shape_strength > 0:
        raw = pose_neutral(identity_offset(source_shape, neutral, parts), neutral, weight)
        offset = settings.shape_strength * weight[:, None] * raw
    normal = np.stack([p.inverse().apply(lm) for p, lm in zip(poses, landmarks, strict=True)])
    rotvec = Rotation.from_matrix(np.stack([p.rotation for p in poses])).as_rotvec()
    params = np.concatenate([np.log([p.scale for p in poses])[:, None], rotvec,
                             np.stack([p.translation for p in poses])], axis=1)
    out: list[tuple[int, np.ndarray, np.ndarray, bool]] = []
    position = {int(f): i for i, f in enumerate(indices)}
    for seg in _segments(indices, settings.max_gap):
        frames = np.arange(seg[0], seg[-1] + 1)
        rows = np.array([position[int(f)] for f in seg])
        # Interpolate missed frames in pose/shape space, then smooth.
        p = np.stack([np.interp(frames, seg, params[rows, k]) for k in range(params.shape[1])], axis=1)
        n = normal[rows].reshape(len(rows), -1)
        n = np.stack([np.interp(frames, seg, n[:, k]) for k in range(n.shape[1])], axis=1)
        p = _smooth(p, _window(settings.smoothing, 6, len(frames)))
        n = _smooth(n, _window(settings.smoothing, 3, len(frames)))
        n = n.reshape(len(frames), -1, 3)
        detected = set(seg.tolist())
        for k, f in enumerate(frames):
            pose = Similarity(float(np.exp(p[k, 0])), Rotation.from_rotvec(p[k, 1:4]).as_matrix(), p[k, 4:7])
            base = pose.apply(n[k]).astype(np.float32)
            shaped = base if offset is None else pose.apply(n[k] + offset).astype(np.float32)
            out.append((int(f), shaped, base, int(f) not in detected))
    return out


def plan_faces(frames: list[list[Face]], chosen: dict[int, int], settings: TrackSettings,
               source_shapes: list[np.ndarray | None], weight: np.ndarray,
               parts: tuple[tuple[int, int, np.ndarray], ...] = ()) -> dict[int, list[PlannedFace]]:
    """Plan every face to render in a video, frame by frame.

    Args:
        frames: per frame index, the analysed faces (with track and identity ids).
        chosen: identity id -> source index for the identities to replace.
        settings: temporal and shape settings.
        source_shapes: per source index, the source's landmarks (or None).
        weight: (478,) identity weights from the mesh topology.
        parts: expressive parts from the mesh topology.
    """
    tracks: dict[int, list[Face]] = {}
    for faces in frames:
        for face in faces:
            if face.track_id is not None and face.identity_id in chosen and not face.interpolated:
                tracks.setdefault(face.track_id, []).append(face)
    plan: dict[int, list[PlannedFace]] = {}
    for track_id, faces in tracks.items():
        faces.sort(key=lambda f: f.frame_index)
        identity = int(faces[0].identity_id)  # type: ignore[arg-type]
        source = chosen[identity]
        indices = np.array([f.frame_index for f in faces])
        lms = np.stack([f.landmarks for f in faces]).astype(np.float64)
        for frame_index, lm, base, interp in plan_track(indices, lms, settings, source_shapes[source], weight,
                                                        parts):
            plan.setdefault(frame_index, []).append(
                PlannedFace(frame_index, track_id, identity, source, lm, interp, base))
    return plan
