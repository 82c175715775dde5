"""run_parallel: the render pass split into segments, rendered by an executor, joined losslessly."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import MediaError
from ..media import TMP_MARK, MediaInfo
from ..render.job import RangeResult, RenderJob
from .executors import Executor, make_executor
from .join import join_segments
from .segments import keyframe_indices, plan_segments, warmup_frames
from .worker import SegmentTask


def plan_tasks(job: RenderJob, info: MediaInfo, folder: Path, *, workers: int | None = None) -> list[SegmentTask]:
    """The segment tasks for ``job``: segments cut at keyframes, each with its warm-up and file in ``folder``."""
    options = job.options
    segments = plan_segments(int(info.frame_count), workers or options.workers, keyframe_indices(job.target))
    warmup = warmup_frames(options.smoothing)
    # Segments are MP4 whatever the output: its demuxer gives every packet a dts, which the join needs.
    return [SegmentTask(job.slice(max(0, s.start - warmup), s.end), s, warmup, folder / f"segment-{s.index:04d}.mp4",
                        info) for s in segments]


def run_parallel(job: RenderJob, output: str | Path, info: MediaInfo, *, tick: Callable[[int], None] | None = None,
                 executor: Executor | None = None) -> RangeResult:
    """Render ``job`` into ``output`` in segments on ``job.options.executor`` and join them.

    Segments are written video-only into a temporary folder beside
    ``output``, then their packets are joined (no re-encode) with the input's
    audio and the synthetic-media tags into ``output``, atomically. Frame
    count and every pts are the input's.

    Args:
        job: the render job (target, prepared sources, plan, options).
        output: the file to write; an existing one is replaced only with ``options.overwrite``.
        info: the target's MediaInfo.
        tick: called with the number of frames done so far (all segments); whatever
            it raises (:class:`~facegraft.errors.Cancelled`) stops the workers,
            removes every temporary file and propagates.
        executor: an executor to use (already entered); default: one made from the options.

    Returns:
        A :class:`RangeResult` with the frames written and swapped; ``render_s``
        and ``encode_s`` are wall-clock seconds (the workers' render/encode time
        apportioned over the parallel phase; the join counts as encode).

    Example:
        >>> result = run_parallel(job, "out.mp4", probe("in.mp4"), tick=print)  # doctest: +SKIP
    """
    options = job.options
    output = Path(output)
    if output.exists() and not options.overwrite:
        raise MediaError("output exists; pass --overwrite to replace it", output)
    if not output.parent.is_dir():
        raise MediaError("output folder does not exist", output)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f".{output.stem}{TMP_MARK}-segments-", dir=output.parent) as tmp:
        tasks = plan_tasks(job, info, Path(tmp))
        done = [0] * len(tasks)

        def progress(index: int, frames: int) -> None:
            if index >= 0:
                done[index] = max(done[index], frames)
            if tick is not None:
                tick(sum(done))

        if executor is None:
            with make_executor(options) as own:
                outputs = own.run(tasks, progress)
        else:
            outputs = executor.run(tasks, progress)
        t1 = time.perf_counter()
        join_segments([o.path for o in outputs], output, audio_from=job.target, overwrite=options.overwrite,
                      like=info, codec=options.codec, crf=options.crf, preset=options.preset)
    t2 = time.perf_counter()
    return _combine([o.result for o in outputs], t1 - t0, t2 - t1)


def _combine(results: list[RangeResult], parallel_s: float, join_s: float) -> RangeResult:
    render = sum(r.render_s for r in results)
    encode = sum(r.encode_s for r in results)
    share = render / (render + encode) if render + encode > 0 else 1.0
    combined = RangeResult(frames=sum(r.frames for r in results),
                           frames_swapped=sum(r.frames_swapped for r in results),
                           render_s=parallel_s * share, encode_s=parallel_s * (1 - share) + join_s)
    for r in results:
        combined.swapped_frames.extend(r.swapped_frames)
    return combined
