"""The render pass as a picklable job, so any executor can run any frame range.

Everything a worker needs is in :class:`RenderJob` (the target's path, the
prepared sources, the per-frame plan and the options); :func:`render_range`
renders frames ``[start, end)`` into any writer. The local pipeline, the
process pool and Ray all call this same function, which is why their outputs
agree frame for frame.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..options import SwapOptions
from ..planstore import PlanView
from ..temporal import PlannedFace
from .occlusion import Occlusion
from .renderer import FaceRenderer, Layer, TrackState
from .source import PreparedSource

if TYPE_CHECKING:
    from ..media.probe import MediaInfo
    from ..media.reader import VideoFrame


#: One frame's faces ready to finish: the plan, the prepared layer, the occlusion keep-weight.
Prepared = list[tuple[PlannedFace, Layer | None, np.ndarray | None]]


class FrameSink(Protocol):
    """Where rendered frames go (a VideoWriter, or a test's list)."""

    def write(self, image: np.ndarray, *, pts: int | None = None, time_base: object = None) -> None: ...


@dataclass
class RenderJob:
    """All a worker needs to render any part of a video.

    ``plan`` is a :class:`~facegraft.planstore.PlanStore` (the pipeline's: on
    disk, read frame by frame) or any dict ``{frame: [PlannedFace]}``; a store
    pickles as such a dict, so a worker gets its slice of the plan in memory.
    ``info`` is the target's probe, so the render pass need not probe it again.
    """

    target: Path
    sources: list[PreparedSource]
    plan: dict[int, list[PlannedFace]] | PlanView
    options: SwapOptions
    info: MediaInfo | None = None

    def slice(self, start: int, end: int) -> RenderJob:
        """The same job with only the plan of frames ``[start, end)`` (less to ship to a worker).

        A store's slice is a window on its file: nothing is read until it is rendered or pickled.
        """
        plan = self.plan
        part = plan.window(start, end) if isinstance(plan, PlanView) else {k: v for k, v in plan.items()
                                                                           if start <= k < end}
        return RenderJob(self.target, self.sources, part, self.options, self.info)


@dataclass
class RangeResult:
    """What rendering one frame range did."""

    frames: int = 0
    frames_swapped: int = 0
    render_s: float = 0.0
    encode_s: float = 0.0
    swapped_frames: list[int] = field(default_factory=list)


def render_range(job: RenderJob, sink: FrameSink, start: int = 0, end: int | None = None, *, warmup: int = 0,
                 tick: Callable[[int], None] | None = None) -> RangeResult:
    """Render frames ``[start, end)`` of ``job`` into ``sink``.

    Args:
        job: the render job.
        sink: receives each rendered frame with its original pts.
        start: first frame written.
        end: one past the last frame written (None: to the end).
        warmup: frames before ``start`` rendered but not written, so the
            per-track colour smoothing is already settled at a segment's seam.
        tick: called with the number of frames written so far.
    """
    from ..media import VideoReader

    renderer = FaceRenderer(job.options)
    states: dict[int, TrackState] = {}
    result = RangeResult()
    first = max(0, start - warmup)
    # What covers each face (hands, microphones) is judged in a thread of its own beside the
    # geometry, one frame at a time in order (it keeps per-track state); numpy and OpenCV release
    # the GIL, so a frame's preparation costs the longer of the two rather than their sum.
    occlusion = None if job.options.occlusion == "off" else Occlusion(renderer.topology, mode=job.options.occlusion)
    occ_pool = ThreadPoolExecutor(1) if occlusion is not None else None

    def covers(image: np.ndarray, planned: list[PlannedFace]) -> list[np.ndarray | None]:
        assert occlusion is not None
        out: list[np.ndarray | None] = []
        for p in planned:
            region = renderer.region(p.landmarks, image.shape)
            own = p.landmarks if p.base is None else p.base
            out.append(None if region is None else
                       occlusion.keep(image, p.track_id, own, region, job.sources[p.source_index].shape))
        return out

    def prepare(image: np.ndarray, index: int) -> Prepared:
        planned = list(job.plan.get(index, ()))
        keeps = None if occ_pool is None or not planned else occ_pool.submit(covers, image, planned)
        layers = [renderer.prepare(image, p.landmarks, job.sources[p.source_index], base=p.base) for p in planned]
        found = [None] * len(planned) if keeps is None else keeps.result()
        return list(zip(planned, layers, found, strict=True))

    def finish(frame: VideoFrame, image: np.ndarray,
               layers: Prepared) -> None:
        t = time.perf_counter()
        swapped = False
        for planned, layer, keep in layers:
            state = states.setdefault(planned.track_id, TrackState())
            swapped |= layer is not None and renderer.finish(image, layer, state, occlusion=keep)
        t2 = time.perf_counter()
        result.render_s += t2 - t
        if frame.index < start:
            return
        sink.write(image, pts=frame.pts, time_base=frame.time_base)
        result.encode_s += time.perf_counter() - t2
        result.frames += 1
        if swapped:
            result.frames_swapped += 1
        if tick is not None:
            tick(result.frames)

    # Two stages: the geometry of frame n+1 (stateless: raster, texture, mask)
    # is prepared in a thread while frame n gets its colour (per-track state,
    # so strictly in order), is blended and handed to the encoder. OpenCV and
    # numpy release the GIL, so the two overlap on two cores.
    with VideoReader(job.target, start=first, end=end, info=job.info) as reader, ThreadPoolExecutor(1) as pool:
        pending: tuple[VideoFrame, np.ndarray, Future[Prepared]] | None = None
        for frame in reader:
            image = frame.image if frame.image.flags.writeable else frame.image.copy()
            t = time.perf_counter()
            job_next = pool.submit(prepare, image, frame.index)
            result.render_s += time.perf_counter() - t
            if pending is not None:
                _finish_pending(pending, finish, result)
            pending = (frame, image, job_next)
        if pending is not None:
            _finish_pending(pending, finish, result)
    if occlusion is not None and occ_pool is not None:
        occ_pool.shutdown()
        occlusion.close()
    return result


def _finish_pending(pending: tuple[VideoFrame, np.ndarray, Future[Prepared]],
                    finish: Callable[..., None], result: RangeResult) -> None:
    frame, image, future = pending
    t = time.perf_counter()
    layers = future.result()  # waiting for the preparing thread counts as render time
    result.render_s += time.perf_counter() - t
    finish(frame, image, layers)
