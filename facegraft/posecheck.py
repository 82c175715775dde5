"""Closed-loop head-pose check of the identity shape.

The identity shape moves the target's inner face toward the source's
proportions inside the target's own outline. Most of that reads as the new
person, but one part can read as a nod: a smiling source photo has its mouth
corners high, and the mouth moved up by as much inside the target's
unchanged jaw makes a face tracker (and a viewer) see the head tilted back.
Measured on Obama's smiling photo onto ``lp_drv_d3``: 4.6° of pitch error with
the full shape, 1.5° with the lips' vertical move taken out. No rule on the
landmarks alone tells such cases apart: the same cut made Biden onto
``lp_drv_d10`` much less like Biden (closer to the source in 63 % of frames ->
12 % with every vertical move cut), and there the pose already read right.

So this stage asks the mesh itself. For each replaced person it renders the
analysis' views of their longest track (face crops of its best frames, kept
from the analysis pass: nothing is decoded again) with the identity shape,
fits the mesh on the result and on the original crop (the same way, from the
same region) and compares the head pitch. If it is off by more than the limit, it renders
again without the lips' vertical move, and keeps the largest share of that
move whose (linearly interpolated) pitch error is within the limit. The
share then applies to every frame of that person (``plan_faces(mouth_rise=)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .evaluate.metrics import pose_difference
from .render.renderer import FaceRenderer
from .render.shape import fit_pose
from .render.source import PreparedSource
from .temporal import TrackSettings, neutral_shape, track_offset
from .types import Face

if TYPE_CHECKING:
    from .analysis.analyse import VideoAnalysis
    from .analysis.scan import View

#: Largest head-pitch error (degrees) a test render may read as before the lips' rise is held back.
LIMIT_DEG = 1.0
#: Frames of a track that are rendered and read back.
SAMPLES = 3
#: At most this many people (the most present) are checked per video.
MAX_PEOPLE = 4
#: People whose faces are narrower than this (pixels) are not checked: their pose reads too noisily.
MIN_FACE_PX = 80


@dataclass(frozen=True, slots=True)
class PoseCheckResult:
    """What the check found for one person.

    Attributes:
        mouth_rise: share of the lips' vertical move to keep (1: all).
        pitch_full: mean head-pitch error (degrees) read on the test renders with the full shape.
        pitch_held: the same with the lips' vertical move held back (None: not needed).
        frames: the frame indices rendered.
    """

    mouth_rise: float
    pitch_full: float | None
    pitch_held: float | None = None
    frames: tuple[int, ...] = ()


class PoseCheck:
    """Renders test frames of a person and reads their head pose back.

    Args:
        models: the loaded face models (the detector fits the meshes).
        renderer: the renderer the swap uses (same options).
        settings: the swap's track settings (shape strength).
        limit: largest pitch error (degrees) accepted.
        samples: frames rendered per person.
    """

    def __init__(self, models: Any, renderer: FaceRenderer, settings: TrackSettings, *,
                 limit: float = LIMIT_DEG, samples: int = SAMPLES) -> None:
        self.models = models
        self.renderer = renderer
        self.settings = settings
        self.limit = limit
        self.samples = samples

    def __call__(self, views: list[View], faces: list[Face], source: PreparedSource) -> PoseCheckResult:
        """Check one person on a track's analysis views, given that track's (frame-ordered) faces.

        The views are the analysis' own face crops (large, frontal frames
        spread over the track), so nothing is decoded again.
        """
        faces = [f for f in faces if not f.interpolated]
        sample = sample_track(views, faces, self.samples)
        if sample is None or len(faces) < 2 or self.settings.shape_strength <= 0 or source.shape is None:
            return PoseCheckResult(1.0, None)
        return self._decide(*sample, source)

    def check_still(self, image: np.ndarray, face: Face, source: PreparedSource) -> PoseCheckResult:
        """The same check on one image, whose own shape stands in for the neutral one (as in ``shape_still``)."""
        if self.settings.shape_strength <= 0 or source.shape is None or np.ptp(face.landmarks[:, 0]) < MIN_FACE_PX:
            return PoseCheckResult(1.0, None)
        return self._decide({face.frame_index: image}, [face], face.landmarks.astype(np.float64), source)

    def _decide(self, images: dict[int, np.ndarray], faces: list[Face], mean: np.ndarray,
                source: PreparedSource) -> PoseCheckResult:
        """Pitch error with the full shape, and if over the limit with the lips held, and the share to keep."""
        topo = self.renderer.topology
        shape = self.settings.shape_strength
        full = track_offset(mean, source.shape, topo.identity_weight, topo.parts, shape)
        frames = tuple(f.frame_index for f in faces)
        err_full = self._pitch_error(images, faces, mean, full, source)
        if err_full is None or abs(err_full) <= self.limit:
            return PoseCheckResult(1.0, err_full, None, frames)
        held = track_offset(mean, source.shape, topo.identity_weight, topo.parts, shape, mouth_rise=0.0)
        err_held = self._pitch_error(images, faces, mean, held, source)
        if err_held is None:
            return PoseCheckResult(1.0, err_full, None, frames)
        return PoseCheckResult(_largest_share(err_held, err_full, self.limit), err_full, err_held, frames)

    def _pitch_error(self, images: dict[int, np.ndarray], faces: list[Face], mean: np.ndarray,
                     offset: np.ndarray, source: PreparedSource) -> float | None:
        """Mean pitch (degrees) of the test renders' refitted meshes relative to the originals' refitted meshes."""
        renders = render_and_refit(self.renderer, self.models.detector, images, faces, mean, offset, source)
        errors = [pose_difference(before.landmarks, after.landmarks)[1] for _, before, after in renders]
        return float(np.mean(errors)) if errors else None


def sample_track(views: list[View], faces: list[Face], samples: int
                ) -> tuple[dict[int, np.ndarray], list[Face], np.ndarray] | None:
    """What a check renders for one track: ``(crops by frame, faces in them, the track's neutral shape)``.

    The ``samples`` best views; None when the track has no views or its faces
    are under :data:`MIN_FACE_PX` wide (too small to read reliably).
    """
    faces = [f for f in faces if not f.interpolated]
    if not views or not faces or float(np.median([np.ptp(f.landmarks[:, 0]) for f in faces])) < MIN_FACE_PX:
        return None
    chosen = sorted(views, key=lambda v: -v.quality)[:samples]
    mean = neutral_shape([f.landmarks for f in faces])
    return {v.frame_index: v.crop for v in chosen}, [v.face for v in chosen], mean


def render_and_refit(renderer: FaceRenderer, detector: Any, images: dict[int, np.ndarray], faces: list[Face],
                 mean: np.ndarray, offset: np.ndarray, source: PreparedSource
                 ) -> list[tuple[np.ndarray, Face, Face]]:
    """Render ``source`` onto each face (shaped by ``offset`` at the face's pose) and refit the mesh.

    Returns ``(rendered image, mesh on the original, mesh on the render)`` per
    face that rendered and was found again; both meshes come from the same
    region, as the evaluation fits them, so the same pixels give the same mesh.
    """
    out_list = []
    for face in faces:
        image = images.get(face.frame_index)
        if image is None:
            continue
        pose = fit_pose(mean, face.landmarks)
        shaped = (face.landmarks + pose.apply_vectors(offset)).astype(np.float32)
        out = image.copy()
        if not renderer.render(out, shaped, source, base=face.landmarks):
            continue
        before = detector.detect(image, [face], refresh=False)
        after = detector.detect(out, [face], refresh=False)
        if before and after:
            out_list.append((out, before[0], after[0]))
    return out_list


def people(analysis: VideoAnalysis, mapping: dict[int, int]) -> list[tuple[int, list[Face], list[View]]]:
    """Replaced identities, most present first: ``(identity id, faces of its longest track with views, views)``."""
    tracks: dict[int, list[Face]] = {}
    for faces in analysis.frames:
        for face in faces:
            if face.track_id is not None and face.identity_id in mapping:
                tracks.setdefault(face.track_id, []).append(face)
    longest: dict[int, int] = {}
    for track_id, faces in tracks.items():
        identity = int(faces[0].identity_id)  # type: ignore[arg-type]
        best = longest.get(identity)
        if analysis.views.get(track_id) and (best is None or len(faces) > len(tracks[best])):
            longest[identity] = track_id
    order = sorted(longest, key=lambda i: -sum(len(t) for t in tracks.values() if t[0].identity_id == i))
    return [(i, tracks[longest[i]], analysis.views[longest[i]]) for i in order]


def check_people(check: PoseCheck, analysis: VideoAnalysis, mapping: dict[int, int],
                 sources: list[PreparedSource], *, max_people: int = MAX_PEOPLE) -> dict[int, PoseCheckResult]:
    """:class:`PoseCheck` for the ``max_people`` most present replaced identities (identity id -> result).

    Each is checked on its longest track that has views; the others keep the
    full shape (in a crowd most faces are small and each check costs ~0.1 s).
    """
    return {i: check(views, faces, sources[mapping[i]])
            for i, faces, views in people(analysis, mapping)[:max_people]}


def _largest_share(err_held: float, err_full: float, limit: float) -> float:
    """Largest share in [0, 1] of the move whose interpolated error ``err_held + s (err_full - err_held)`` is in limit.

    When even none of it is within the limit, the share with the smallest error.
    """
    shares = np.linspace(0.0, 1.0, 21)
    errors = np.abs(err_held + shares * (err_full - err_held))
    ok = shares[errors <= limit]
    return float(ok.max()) if ok.size else float(shares[np.argmin(errors)])
