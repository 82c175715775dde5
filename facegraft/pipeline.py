"""swap_video / swap_image: the one entry point every front end calls.

The CLI, the web page, the benchmarks and the tests all go through
:func:`swap_video`. A video is processed in two streaming passes:

1. **analyse** — detect, mesh and track every face, embed each track from a
   few good frames, merge tracks into identities (whole video known before
   anything is rendered, so "who to replace" is decided once and temporal
   smoothing can be zero-phase);
2. **render** — decode again, paint the planned faces, encode with every
   input timestamp, copy the audio.

The plan (two meshes per face-frame) is written to an anonymous temporary
file as it is made (:class:`~facegraft.planstore.PlanStore`) and read back
frame by frame, so it does not grow RAM with the video's length; what still
does is the analysis' landmarks, ~6.7 KB a face-frame, held from the
analysis pass until the plan is made (docs/reliability.md).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import Cancelled, FacegraftError, MediaError
from .options import SwapOptions
from .types import SourceFace

if TYPE_CHECKING:
    from .analysis.analyse import VideoAnalysis
    from .media.limits import FrameLimits

SourceLike = str | Path | np.ndarray



@dataclass(frozen=True, slots=True)
class Progress:
    """Progress of a job, reported to the ``progress`` callback."""

    stage: str
    done: int
    total: int
    fps: float
    eta_s: float | None


@dataclass
class SwapReport:
    """What a swap did.

    Attributes:
        output: the written file.
        frames: frames written (equals the input's frame count).
        frames_swapped: frames in which at least one face was replaced.
        identities: identity ids that were replaced.
        warnings: things the user should know (e.g. which person was chosen).
        timings: seconds per stage (prepare, analyse, render, encode, total).
        mouth_rise: per replaced identity the head-pose check looked at, the share of the
            lips' vertical move kept (1: all; see :mod:`facegraft.posecheck`).
        mirrored: indices of the sources whose mirror view the automatic check chose
            (:mod:`facegraft.mirrorcheck`).
    """

    output: Path
    frames: int = 0
    frames_swapped: int = 0
    identities: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    mouth_rise: dict[int, float] = field(default_factory=dict)
    mirrored: list[int] = field(default_factory=list)


class _Meter:
    """Turns frame counts into :class:`Progress` with fps and time left."""

    def __init__(self, stage: str, total: int, callback: Callable[[Progress], None] | None,
                 cancel: threading.Event | None) -> None:
        self.stage, self.total, self.callback, self.cancel = stage, total, callback, cancel
        self.start = time.perf_counter()

    def __call__(self, done: int, total: int | None = None) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled("cancelled by the user; no output was written")
        total = total or self.total
        if self.callback is None:
            return
        elapsed = max(time.perf_counter() - self.start, 1e-6)
        fps = done / elapsed
        eta = (total - done) / fps if fps > 0 and total else None
        self.callback(Progress(self.stage, done, total, fps, eta))


def load_sources(sources: Sequence[SourceLike], options: SwapOptions, models: object,
                 notes: list[str] | None = None) -> list[SourceFace]:
    """Analyse the source photos once: one person from all photos, or one person per photo (map).

    Without their embeddings: no selection rule reads them (only how many sources there are).
    """
    from .analysis.source import prepare_source

    if not sources:
        raise FacegraftError("no source photo given")
    if options.select == "map":
        if len(sources) != len(options.identities):
            raise FacegraftError(f"select=map needs one identity id per source photo "
                                 f"({len(sources)} sources, {len(options.identities)} ids)")
        return [prepare_source([s], models, notes=notes, embed=False) for s in sources]  # type: ignore[arg-type]
    return [prepare_source(list(sources), models, notes=notes, embed=False)]  # type: ignore[arg-type]


def _reference_embeddings(options: SwapOptions, models: object) -> list[np.ndarray]:
    from .analysis.source import prepare_source

    refs = []
    for path in options.references:
        face = prepare_source([path], models)
        if face.embedding is not None:
            refs.append(face.embedding)
    return refs


def check_photo_sizes(sources: Sequence[SourceLike], options: SwapOptions) -> None:
    """Refuse a source or reference photo over the frame limits from its header (before any model loads).

    A photo is decoded once, so only a bomb matters: its limits are never tighter than a square of the
    default side (8192 px, 67 megapixels), so a server that caps targets at 2160 px still takes a phone's
    4000 px portrait, and a 50-megapixel photo is a source by default; both can be raised.
    """
    from .media.images import check_image_size
    from .media.limits import DEFAULT_MAX_SIDE, FrameLimits

    side = max(options.max_side, DEFAULT_MAX_SIDE) if options.max_side else 0
    megapixels = max(options.max_megapixels, DEFAULT_MAX_SIDE ** 2 / 1e6) if options.max_megapixels else 0.0
    limits = FrameLimits(max_side=side, max_megapixels=megapixels)
    for source in (*sources, *options.references):
        if isinstance(source, str | Path):
            check_image_size(source, limits)


def frame_limits(options: SwapOptions) -> FrameLimits:
    """The options' frame-size limits, checked from each input's header before decoding."""
    from .media.limits import FrameLimits

    return FrameLimits(max_side=options.max_side, max_megapixels=options.max_megapixels)


def _check_limits(info: object, options: SwapOptions) -> None:
    duration = getattr(info, "duration", 0.0) or 0.0
    if options.max_duration and duration > options.max_duration:
        raise MediaError(f"duration {duration:.2f} s exceeds the limit of {options.max_duration:g} s",
                         info.path)  # type: ignore[attr-defined]


def _check_output_type(output: Path, kind: str) -> None:
    """Refuse an output name of the wrong kind before any work (an animated GIF target is a video)."""
    from .media.images import _WRITE_FORMATS
    from .media.writer import _CONTAINERS

    suffixes = _CONTAINERS if kind == "video" else _WRITE_FORMATS
    if output.suffix.lower() not in suffixes:
        raise MediaError(f"the target is {'a video' if kind == 'video' else 'an image'}, so the output must be "
                         f"one too: use {', '.join(suffixes)}", output)


def swap_video(sources: Sequence[SourceLike], target: str | Path, output: str | Path,
               options: SwapOptions | None = None, *, models: object | None = None,
               progress: Callable[[Progress], None] | None = None,
               cancel: threading.Event | None = None, analysis: VideoAnalysis | None = None) -> SwapReport:
    """Replace faces in a video (or image) with the face from the source photos.

    Args:
        sources: photos of the source person (or one per person with select=map).
        target: the video or image whose faces are replaced.
        output: where to write the result (written to a temp file, then renamed).
        options: all settings; defaults are good for most inputs.
        models: a loaded :class:`~facegraft.analysis.models.Models` to reuse.
        progress: called with :class:`Progress` as frames are processed.
        cancel: set it to stop the job; :class:`Cancelled` is raised, nothing is written.
        analysis: an :func:`~facegraft.analysis.analyse.analyse_faces` result for this
            target (the web page's face gallery) to reuse instead of analysing again;
            ignored unless it covers the whole target with the same ``max_gap``.

    Returns:
        A :class:`SwapReport`.

    Example:
        >>> report = swap_video(["me.jpg"], "clip.mp4", "out.mp4")  # doctest: +SKIP
    """
    from .analysis.models import Models
    from .media import probe

    options = options or SwapOptions()
    timings: dict[str, float] = {}
    t_start = time.perf_counter()
    info = probe(target, limits=frame_limits(options))
    _check_limits(info, options)
    output = Path(output)
    _check_output_type(output, info.kind)
    check_photo_sizes(sources, options)
    if output.exists() and not options.overwrite:
        raise MediaError("output exists; pass --overwrite to replace it", output)
    own = models is None
    models = models or Models()
    try:
        t = time.perf_counter()
        notes: list[str] = []
        source_faces = load_sources(sources, options, models, notes)
        timings["prepare"] = time.perf_counter() - t
        if info.kind == "image":
            from .media import write_image

            result, report = _swap_still(source_faces, target, options, models)
            write_image(output, result, overwrite=options.overwrite)
            report.output = output
            report.timings.update(timings, total=time.perf_counter() - t_start)
        else:
            report = _swap_frames(source_faces, target, output, info, options, models, progress, cancel, timings,
                                  t_start, analysis)
    finally:
        if own:
            models.close()  # type: ignore[attr-defined]
    report.warnings[:0] = notes
    return report


def _swap_frames(source_faces: list[SourceFace], target: str | Path, output: Path, info: object,
                 options: SwapOptions, models: object, progress: Callable[[Progress], None] | None,
                 cancel: threading.Event | None, timings: dict[str, float], t_start: float,
                 analysis: VideoAnalysis | None = None) -> SwapReport:
    from .analysis.analyse import analyse_faces
    from .analysis.selection import select_identities
    from .media import VideoWriter
    from .mirrorcheck import prepare_sources, source_views
    from .render.job import RenderJob, render_range
    from .render.renderer import FaceRenderer
    from .temporal import TrackSettings, plan_faces

    total = int(info.frame_count)  # type: ignore[attr-defined]
    renderer = FaceRenderer(options)
    # The sources' textures, pyramids and validity maps need nothing from the target: made in a
    # thread while the target is analysed (~0.1 s a photo off the critical path).
    pool = ThreadPoolExecutor(1)
    views = pool.submit(source_views, source_faces, renderer.topology, options.mirror_turned)
    pool.shutdown(wait=False)
    t = time.perf_counter()
    meter = _Meter("analyse", total, progress, cancel)
    # Only select=reference reads the people's embeddings; the other rules need only their ids, and
    # select=all not even those (every track is replaced, so its tracks need not be merged into people).
    embed, merge = options.select == "reference", options.select != "all"
    if analysis is None or not analysis.covers(target, options.max_gap, embeddings=embed, merged=merge):
        analysis = analyse_faces(target, models=models, progress=meter, max_gap=options.max_gap, embed=embed,
                                 merge=merge, info=info)  # type: ignore[arg-type]
    timings["analyse"] = time.perf_counter() - t
    selection = select_identities(analysis, options, [s.embedding for s in source_faces],
                                  reference_embeddings=_reference_embeddings(options, models))
    settings = TrackSettings(options.smoothing, options.max_gap, options.shape_strength)
    t = time.perf_counter()
    prepared, mirror_checks = prepare_sources(models, renderer, settings, source_faces, options.mirror_turned,
                                              analysis, selection.mapping, views.result())
    if mirror_checks:
        timings["mirror_check"] = time.perf_counter() - t
    rise = None
    if options.pose_check and options.shape_strength > 0:
        from .posecheck import PoseCheck, check_people

        t = time.perf_counter()
        checked = check_people(PoseCheck(models, renderer, settings), analysis, selection.mapping, prepared)
        rise = {i: r.mouth_rise for i, r in checked.items()}
        timings["pose_check"] = time.perf_counter() - t
    # The plan goes to an anonymous temporary file beside the output (a real disk; /tmp may be RAM);
    # a missing or read-only folder is the writer's to report, so the plan then uses the system's.
    folder = output.parent if output.parent.is_dir() and os.access(output.parent, os.W_OK) else None
    try:
        plan = plan_faces(analysis.frames, selection.mapping, settings, [p.shape for p in prepared],
                          renderer.topology.identity_weight, renderer.topology.parts, folder=folder,
                          mouth_rise=rise)
    except OSError as exc:  # a full disk: the output would not fit either
        raise MediaError(f"cannot write the render plan beside the output ({exc.strerror or exc})", output) from exc
    report = SwapReport(output=output, identities=sorted(selection.mapping), warnings=list(selection.warnings),
                        mouth_rise=dict(rise or {}),
                        mirrored=sorted(k for k, r in mirror_checks.items() if r.mirrored))
    del analysis  # every face of every frame: not needed once the plan is made, so free it before rendering
    job = RenderJob(Path(target), prepared, plan, options, info)  # type: ignore[arg-type]
    meter = _Meter("render", total, progress, cancel)
    if options.executor == "local" and options.workers == 1:
        with VideoWriter(output, like=info, codec=options.codec, crf=options.crf, preset=options.preset,
                         fps=options.fps, audio_from=target, overwrite=options.overwrite) as writer:
            result = render_range(job, writer, tick=meter)
    else:
        from .parallel import run_parallel

        result = run_parallel(job, output, info, tick=meter)
    report.frames, report.frames_swapped = result.frames, result.frames_swapped
    render_s, encode_s = result.render_s, result.encode_s
    timings.update(render=render_s, encode=encode_s, total=time.perf_counter() - t_start)
    report.timings = timings
    if not plan and not report.warnings:
        report.warnings.append("no face to replace was found in the target; the output equals the input")
    return report


def _swap_still(source_faces: list[SourceFace], target: str | Path | np.ndarray, options: SwapOptions,
                models: object) -> tuple[np.ndarray, SwapReport]:
    import tempfile

    from .analysis.analyse import analyse_faces
    from .analysis.selection import select_identities
    from .media import read_image, write_image
    from .mirrorcheck import prepare_sources
    from .render.occlusion import Occlusion
    from .render.renderer import FaceRenderer
    from .render.shape import shape_still
    from .temporal import TrackSettings

    with tempfile.TemporaryDirectory(prefix="facegraft-") as tmp:
        if isinstance(target, np.ndarray):
            # The analysis stage works on files; an in-memory frame (web preview) goes through a lossless PNG.
            path = Path(tmp) / "frame.png"
            write_image(path, target)
            image = np.array(target, copy=True)
        else:
            path = Path(target)
            image = np.array(read_image(path), copy=True)
        analysis = analyse_faces(path, models=models, embed=options.select == "reference")  # type: ignore[arg-type]
    selection = select_identities(analysis, options, [s.embedding for s in source_faces],
                                  reference_embeddings=_reference_embeddings(options, models))
    renderer = FaceRenderer(options.replace(smoothing=0.0))
    still = TrackSettings(0.0, 0, options.shape_strength)
    prepared, _ = prepare_sources(models, renderer, still, source_faces, options.mirror_turned, analysis,
                                  selection.mapping)
    check = None
    if options.pose_check and options.shape_strength > 0:
        from .posecheck import PoseCheck

        check = PoseCheck(models, renderer, still)
    swapped = 0
    # A still has no track to learn the face's look from: only the hand model speaks here.
    occlusion = None if options.occlusion == "off" else Occlusion(renderer.topology, mode="hands")
    for n, face in enumerate(analysis.frames[0] if analysis.frames else []):
        if face.identity_id not in selection.mapping:
            continue
        src = prepared[selection.mapping[face.identity_id]]
        rise = 1.0 if check is None else check.check_still(image, face, src).mouth_rise
        lm = shape_still(face.landmarks, src.shape, renderer.topology, options.shape_strength, rise)
        layer = renderer.prepare(image, lm, src, base=face.landmarks)
        keep = None if occlusion is None or layer is None else occlusion.keep(
            image, n, face.landmarks, layer.region, src.shape)
        swapped += int(layer is not None and renderer.finish(image, layer, occlusion=keep))
    if occlusion is not None:
        occlusion.close()
    warnings = list(selection.warnings)
    if not swapped:
        warnings.append("no face to replace was found in the target; the output equals the input")
    report = SwapReport(output=Path(), frames=1, frames_swapped=int(swapped > 0),
                        identities=sorted(selection.mapping), warnings=warnings)
    return image, report


def swap_image(sources: Sequence[SourceLike], target: str | Path | np.ndarray, output: str | Path | None = None,
               options: SwapOptions | None = None, *, models: object | None = None) -> np.ndarray:
    """Replace faces in one image; returns the RGB result and writes ``output`` if given.

    Example:
        >>> result = swap_image(["me.jpg"], "group.jpg", "out.png")  # doctest: +SKIP
    """
    from .analysis.models import Models

    options = options or SwapOptions()
    check_photo_sizes(sources, options)
    own = models is None
    models = models or Models()
    try:
        source_faces = load_sources(sources, options, models)
        result, _ = _swap_still(source_faces, target, options, models)
    finally:
        if own:
            models.close()  # type: ignore[attr-defined]
    if output is not None:
        from .media import write_image

        write_image(output, result, overwrite=options.overwrite)
    return result
