"""What one worker does with one segment: render it into a video-only file.

The same function runs in the calling process (local executor), in a pool
process, or in a Ray task; everything it needs travels in a picklable
:class:`SegmentTask` (the render job sliced to the segment and its warm-up,
and the encoder settings), so the outputs of all executors agree.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..media import MediaInfo, VideoWriter
from ..render.job import RangeResult, RenderJob, render_range
from .segments import Segment


@dataclass(frozen=True)
class SegmentTask:
    """One segment to render.

    Attributes:
        job: the render job, sliced to ``[segment.start - warmup, segment.end)``.
        segment: the frames written.
        warmup: frames rendered before ``segment.start`` and not written.
        path: the segment file to write (video only).
        like: the input's MediaInfo (time base, frame rate).
    """

    job: RenderJob
    segment: Segment
    warmup: int
    path: Path
    like: MediaInfo


@dataclass
class SegmentOutput:
    """A rendered segment: its file, what rendering it did, when it ran.

    Attributes:
        started: wall-clock time (``time.time()``) the worker began it.
        seconds: how long the worker took, file closed included.
    """

    segment: Segment
    path: Path
    result: RangeResult
    started: float = 0.0
    seconds: float = 0.0


class _FixedRate:
    """Numbers frames ``start, start + 1, ...`` at a forced frame rate.

    VideoWriter with ``fps`` counts frames from 0; a segment must go on from
    its first frame's global index, so the pts are given here instead.
    """

    def __init__(self, writer: VideoWriter, start: int, rate: Fraction) -> None:
        self.writer, self.next, self.time_base = writer, start, 1 / rate

    def write(self, image: np.ndarray, *, pts: int | None = None, time_base: object = None) -> None:
        self.writer.write(image, pts=self.next, time_base=self.time_base)
        self.next += 1


def render_segment(task: SegmentTask, tick: Callable[[int], None] | None = None,
                   path: Path | None = None) -> SegmentOutput:
    """Render ``task`` into ``path`` (default ``task.path``); ``tick(n)`` gets frames written so far.

    Whatever ``tick`` raises (cancellation) stops the render and removes the
    partial file.
    """
    started, t0 = time.time(), time.perf_counter()
    options = task.job.options
    like, fps = task.like, None
    rate: Fraction | None = None
    if options.fps:
        rate = Fraction(options.fps).limit_denominator(1001)
        like = dataclasses.replace(like, fps=float(options.fps))
    out = Path(path or task.path)
    with VideoWriter(out, like=like, codec=options.codec, crf=options.crf, preset=options.preset, fps=fps,
                     audio_from=None, overwrite=True) as writer:
        sink = writer if rate is None else _FixedRate(writer, task.segment.start, rate)
        result = render_range(task.job, sink, task.segment.start, task.segment.end, warmup=task.warmup,
                              tick=tick)
    return SegmentOutput(task.segment, out, result, started, time.perf_counter() - t0)
