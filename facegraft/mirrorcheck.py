"""Closed-loop choice of a turned photo's mirror view (``mirror_turned="auto"``).

A source photo of a turned head sees the far half of the face squeezed; its
mirror image can texture that half instead (:func:`~facegraft.render.source.mirror_view`).
Whether that helps depends on the person, not on angles: measured with dlib
distances, Biden's 3/4 photo (yaw 10.7°) onto ``lp_drv_d10`` came out closer
to him with the mirror view in 93 % of frames instead of 71 %, while the
``lp_drv_d3`` woman onto herself from a frame turned 9.3° moved further from
herself — at every target yaw, not only where the head turned (a face is not
symmetric: a parting, a mole, the light all flip). So, like the head-pose
check, this asks the models: it renders the most present replaced person's
analysis views both ways, embeds each render with dlib and keeps the texture
whose renders are nearer the source photos' own embedding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .posecheck import SAMPLES, render_and_refit, sample_track
from .render.renderer import FaceRenderer
from .render.source import PreparedSource
from .temporal import TrackSettings, track_offset
from .types import Face, SourceFace

if TYPE_CHECKING:
    from .analysis.analyse import VideoAnalysis
    from .analysis.scan import View


@dataclass(frozen=True, slots=True)
class MirrorCheckResult:
    """What the check measured for one source.

    Attributes:
        mirrored: the mirror view is used.
        plain: mean dlib distance to the source of the test renders without the mirror view (None: not checked).
        mirror: the same with it.
    """

    mirrored: bool
    plain: float | None = None
    mirror: float | None = None


def has_mirror_view(source: SourceFace, prepared: PreparedSource) -> bool:
    """Whether preparing with ``mirror_turned`` added a mirror view (some photo was turned enough)."""
    return len(prepared.levels) > len(source.images)


def choose_mirror(models: Any, renderer: FaceRenderer, settings: TrackSettings, source: SourceFace,
                  plain: PreparedSource, mirrored: PreparedSource, person: tuple[list[Face], list[View]] | None,
                  *, samples: int = SAMPLES) -> MirrorCheckResult:
    """Render ``person`` (faces of a track, its views) both ways and keep the texture nearer the source.

    Without a person large enough to judge (see :func:`~facegraft.posecheck.sample_track`)
    the mirror view is not used: the plain photo is what the user gave.
    """
    sample = None if person is None else sample_track(person[1], person[0], samples)
    if sample is None:
        return MirrorCheckResult(False)
    images, faces, mean = sample
    reference = source.embedding
    if reference is None:
        reference = np.mean([models.embedder.embed(img, face) for img, face in zip(source.images, source.faces,
                                                                                   strict=True)], axis=0)
    topo = renderer.topology
    offset = track_offset(mean, plain.shape, topo.identity_weight, topo.parts, settings.shape_strength)
    dist = []
    for prepared in (plain, mirrored):
        renders = render_and_refit(renderer, models.detector, images, faces, mean, offset, prepared)
        d = [float(np.linalg.norm(models.embedder.embed(out, after) - reference)) for out, _, after in renders]
        dist.append(float(np.mean(d)) if d else None)
    if dist[0] is None or dist[1] is None:
        return MirrorCheckResult(False, dist[0], dist[1])
    return MirrorCheckResult(dist[1] < dist[0], dist[0], dist[1])


def source_views(sources: list[SourceFace], topology: Any, mode: str) -> list[tuple[PreparedSource, PreparedSource]]:
    """Per source, its preparation as ``mode`` asks (with mirror views unless off) and the plain one.

    Needs nothing from the target, so the pipeline runs it while the target is analysed.
    The two are the same object unless ``auto`` has a mirror view to choose against.
    """
    from .render.source import prepare_textures

    views = []
    for source in sources:
        chosen = prepare_textures(source, topology, mirror_turned=mode != "off")
        choose = mode == "auto" and has_mirror_view(source, chosen)
        plain = prepare_textures(source, topology, mirror_turned=False) if choose else chosen
        views.append((chosen, plain))
    return views


def prepare_sources(models: Any, renderer: FaceRenderer, settings: TrackSettings, sources: list[SourceFace],
                    mode: str, analysis: VideoAnalysis, mapping: dict[int, int],
                    views: list[tuple[PreparedSource, PreparedSource]] | None = None,
                    ) -> tuple[list[PreparedSource], dict[int, MirrorCheckResult]]:
    """Each source prepared for rendering, with or without mirror views as ``mode`` (auto/on/off) says.

    ``views`` are :func:`source_views` made beforehand (made here when None).
    Returns the prepared sources and, per source index the check ran for, its result.
    """
    from .posecheck import people

    views = views if views is not None else source_views(sources, renderer.topology, mode)
    prepared, results = [], {}
    everyone = people(analysis, mapping) if mode == "auto" else []
    for k, (source, (chosen, plain)) in enumerate(zip(sources, views, strict=True)):
        if mode == "auto" and chosen is not plain:
            # Only a turned photo gets a mirror view; otherwise the two preparations are the same.
            person = next(((faces, seen) for i, faces, seen in everyone if mapping[i] == k), None)
            results[k] = choose_mirror(models, renderer, settings, source, plain, chosen, person)
            chosen = chosen if results[k].mirrored else plain
        prepared.append(chosen)
    return prepared, results
