"""Rendering a video on several cores or machines: segments, executors, lossless join.

The render pass is cut into segments at the input's keyframes; an executor
(``local``, ``process`` or ``ray``) renders each into a video-only file from
the same picklable :class:`~facegraft.render.job.RenderJob`, with a few
warm-up frames so colour smoothing is steady at the seams; the segments'
packets are then joined without re-encoding, with the input's audio.
See docs/scaling.md for measured speed-ups.

Example:
    >>> from facegraft import SwapOptions, swap_video
    >>> swap_video(["me.jpg"], "clip.mp4", "out.mp4",  # doctest: +SKIP
    ...            SwapOptions(executor="process", workers=4))
"""

from __future__ import annotations

from .executors import EXECUTORS, Executor, LocalExecutor, ProcessExecutor, RayExecutor, make_executor
from .join import compatible, join_segments
from .run import plan_tasks, run_parallel
from .segments import Segment, keyframe_indices, plan_segments, segment_count, warmup_frames
from .worker import SegmentOutput, SegmentTask, render_segment

__all__ = [
    "EXECUTORS",
    "Executor",
    "LocalExecutor",
    "ProcessExecutor",
    "RayExecutor",
    "Segment",
    "SegmentOutput",
    "SegmentTask",
    "compatible",
    "join_segments",
    "keyframe_indices",
    "make_executor",
    "plan_segments",
    "plan_tasks",
    "render_segment",
    "run_parallel",
    "segment_count",
    "warmup_frames",
]
