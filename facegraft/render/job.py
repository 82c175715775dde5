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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from ..options import SwapOptions
from ..temporal import PlannedFace
from .renderer import FaceRenderer, TrackState
from .source import PreparedSource


class FrameSink(Protocol):
    """Where rendered frames go (a VideoWriter, or a test's list)."""

    def write(self, image: np.ndarray, *, pts: int | None = None, time_base: object = None) -> None: ...


@dataclass
class RenderJob:
    """All a worker needs to render any part of a video."""

    target: Path
    sources: list[PreparedSource]
    plan: dict[int, list[PlannedFace]]
    options: SwapOptions

    def slice(self, start: int, end: int) -> RenderJob:
        """The same job with only the plan of frames ``[start, end)`` (less to ship to a worker)."""
        return RenderJob(self.target, self.sources, {k: v for k, v in self.plan.items() if start <= k < end},
                         self.options)


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
    with VideoReader(job.target, start=first, end=end) as reader:
        for frame in reader:
            t = time.perf_counter()
            image = frame.image if frame.image.flags.writeable else frame.image.copy()
            swapped = False
            for planned in job.plan.get(frame.index, ()):
                state = states.setdefault(planned.track_id, TrackState())
                swapped |= renderer.render(image, planned.landmarks, job.sources[planned.source_index], state,
                                           base=planned.base)
            t2 = time.perf_counter()
            result.render_s += t2 - t
            if frame.index < start:
                continue
            sink.write(image, pts=frame.pts, time_base=frame.time_base)
            result.encode_s += time.perf_counter() - t2
            result.frames += 1
            if swapped:
                result.frames_swapped += 1
            if tick is not None:
                tick(result.frames)
    return result
