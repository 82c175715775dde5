"""Segmented rendering on several workers: same frames, timestamps and audio as one process, no seam."""

from __future__ import annotations

import dataclasses
import itertools
import multiprocessing
import pickle
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import shared_file
from mediagen import trim_clip

from facegraft import SwapOptions
from facegraft.errors import Cancelled
from facegraft.parallel import (
    EXECUTORS,
    compatible,
    join_segments,
    keyframe_indices,
    plan_segments,
    plan_tasks,
    run_parallel,
    segment_count,
    warmup_frames,
)

FRAMES = 72
SOURCE = "images/lp_src_s1.jpg"


# --- planning (no media) ---------------------------------------------------------------------------------------
def test_segments_cover_the_video_and_snap_to_near_keyframes():
    segments = plan_segments(300, 2, [0, 140, 250])
    assert [(s.start, s.end) for s in segments] == [(0, 140), (140, 300)]
    far = plan_segments(300, 2, [0, 250])  # no keyframe near the middle: cut anywhere
    assert [(s.start, s.end) for s in far] == [(0, 150), (150, 300)]
    for frames, workers in [(1, 4), (29, 2), (72, 2), (354, 2), (18000, 2), (18000, 64), (100_000, 8)]:
        segments = plan_segments(frames, workers, list(range(0, frames, 48)))
        assert segments[0].start == 0 and segments[-1].end == frames
        assert all(a.end == b.start for a, b in itertools.pairwise(segments))
        assert all(len(s) > 0 for s in segments) and len(segments) <= max(workers * 4, 1)


def test_long_videos_get_more_segments_than_workers_short_ones_none_too_short():
    assert segment_count(72, 2) == 2
    assert segment_count(40, 4) == 1  # segments under 30 frames are not worth a worker
    assert segment_count(18000, 2) == 8  # 4 per worker for balance
    assert segment_count(18000, 64) == 72
    assert warmup_frames(0.5) == 8 and warmup_frames(1.0) > warmup_frames(0.5)


def test_unknown_executor_is_refused():
    from facegraft.errors import OptionsError
    from facegraft.parallel import make_executor

    assert {"local", "process", "ray"} <= set(EXECUTORS)
    options = SwapOptions()
    object.__setattr__(options, "executor", "cluster9000")
    with pytest.raises(OptionsError, match="cluster9000"):
        make_executor(options)


# --- real media ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return trim_clip(shared_file("videos/lp_drv_d3.mp4"), tmp_path_factory.mktemp("clip") / "clip.mp4", FRAMES)


@pytest.fixture(scope="module")
def reference(clip, models, tmp_path_factory):
    """The in-process run (workers=1)."""
    from facegraft import swap_video

    out = tmp_path_factory.mktemp("ref") / "ref.mp4"
    report = swap_video([shared_file(SOURCE)], clip, out, SwapOptions(), models=models)
    return out, report


@pytest.fixture(scope="module")
def pooled(clip, models, tmp_path_factory):
    """swap_video on a process pool of 2; also keeps the RenderJob the pipeline handed over."""
    import facegraft.parallel as parallel
    from facegraft import swap_video

    jobs = []

    def spy(job, output, info, **kwargs):
        jobs.append(job)
        return run_parallel(job, output, info, **kwargs)

    out = tmp_path_factory.mktemp("pool") / "pooled.mp4"
    seen = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(parallel, "run_parallel", spy)
        report = swap_video([shared_file(SOURCE)], clip, out, SwapOptions(executor="process", workers=2),
                            models=models, progress=seen.append)
    return out, report, jobs[0], seen


def _pts(path: Path) -> list[int]:
    with av.open(str(path)) as c:
        return sorted(p.pts for p in c.demux(video=0) if p.size and p.pts is not None)


def _frames(path: Path) -> list[np.ndarray]:
    """Every frame, decoded (a broken join fails here)."""
    from facegraft.media import VideoReader

    with VideoReader(path) as reader:
        return [f.image.astype(np.float32) for f in reader]


def _assert_matches(out: Path, ref: Path, clip: Path, seams: list[int]) -> None:
    from facegraft.media import probe

    assert _pts(out) == _pts(ref) == _pts(clip)
    a, b = _frames(out), _frames(ref)
    assert len(a) == len(b) == FRAMES
    mad = np.mean([np.abs(x - y).mean() for x, y in zip(a, b, strict=True)])
    mse = np.mean([((x - y) ** 2).mean() for x, y in zip(a, b, strict=True)])
    assert mad < 1.0 and 10 * np.log10(255**2 / mse) > 40
    # Flicker at a join is no worse than anywhere else in the clip.
    steps = np.array([np.abs(a[i + 1] - a[i]).mean() for i in range(len(a) - 1)])
    assert all(steps[s - 1] <= 1.5 * np.median(steps) for s in seams), (steps, seams)
    info, src = probe(out), probe(clip)
    assert info.has_audio and info.audio_codec == src.audio_codec
    assert abs(info.duration - src.duration) < 1e-6
    assert info.tags.get("synthetic") == "1"
    with av.open(str(out)) as c, av.open(str(clip)) as s:
        # Audio copied packet for packet: same count and timestamps as the source.
        ours = [(p.pts, p.size) for p in c.demux(audio=0) if p.size]
        theirs = [(p.pts, p.size) for p in s.demux(audio=0) if p.size]
        assert ours == theirs


def test_render_job_pickles(pooled):
    _, _, job, _ = pooled
    again = pickle.loads(pickle.dumps(job))
    assert again.target == job.target and again.plan.keys() == job.plan.keys()
    assert len(pickle.dumps(job.slice(0, 10))) < len(pickle.dumps(job))


def test_process_pool_matches_the_in_process_run(clip, reference, pooled):
    out, report, _job, seen = pooled
    ref, ref_report = reference
    assert report.frames == ref_report.frames == FRAMES
    assert report.frames_swapped == ref_report.frames_swapped
    seams = [s.start for s in plan_segments(FRAMES, 2, keyframe_indices(clip))[1:]]
    assert seams
    _assert_matches(out, ref, clip, seams)
    done = [p.done for p in seen if p.stage == "render"]
    assert done == sorted(done) and done[-1] == FRAMES and len(set(done)) > 2


def test_warmup_makes_a_segment_start_like_the_whole_run(pooled):
    """Rendered pixels (before encoding) at a seam equal those of a render from frame 0."""
    from facegraft.render.job import render_range

    _, _, job, _ = pooled

    class Keep(list):
        def write(self, image, *, pts=None, time_base=None):
            self.append(image.astype(np.int16))

    start, end, warmup = 20, 24, warmup_frames(job.options.smoothing)
    whole, cut = Keep(), Keep()
    render_range(job, whole, 0, end)
    render_range(job.slice(start - warmup, end), cut, start, end, warmup=warmup)
    assert len(cut) == end - start
    diff = [np.abs(a - b) for a, b in zip(whole[start:], cut, strict=True)]
    assert max(d.mean() for d in diff) < 0.05 and max(d.max() for d in diff) <= 3


def test_ray_matches_the_in_process_run(clip, reference, pooled, tmp_path):
    pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'facegraft[ray]'")
    from facegraft.media import probe
    from facegraft.parallel import RayExecutor

    _, _, job, _ = pooled
    job = dataclasses.replace(job, options=job.options.replace(executor="ray", workers=2))
    out = tmp_path / "ray.mp4"
    ticks: list[int] = []
    with RayExecutor(job.options, ship_input=True) as executor:  # input through the object store, as on a cluster
        result = run_parallel(job, out, probe(clip), tick=ticks.append, executor=executor)
    assert result.frames == FRAMES and ticks[-1] == FRAMES
    seams = [s.start for s in plan_segments(FRAMES, 2, keyframe_indices(clip))[1:]]
    _assert_matches(out, reference[0], clip, seams)
    assert list(tmp_path.iterdir()) == [out]


def test_local_executor_with_a_forced_frame_rate_numbers_frames_across_segments(clip, pooled, tmp_path):
    from facegraft.media import probe

    _, _, job, _ = pooled
    job = dataclasses.replace(job, options=job.options.replace(executor="local", workers=2, fps=24.0, crf=23,
                                                               preset="ultrafast"))
    out = tmp_path / "fixed.mp4"
    ticks: list[int] = []
    result = run_parallel(job, out, probe(clip), tick=ticks.append)
    assert result.frames == FRAMES and ticks == list(range(1, FRAMES + 1))
    with av.open(str(out)) as c:
        tb = c.streams.video[0].time_base
        times = [float(p * tb) for p in _pts(out)]
    assert np.allclose(times, np.arange(FRAMES) / 24.0)
    assert len(_frames(out)) == FRAMES


def test_cancel_during_a_parallel_run_leaves_nothing_behind(clip, pooled, tmp_path):
    from facegraft.media import probe

    _, _, job, _ = pooled
    job = dataclasses.replace(job, options=job.options.replace(executor="process", workers=2))
    out = tmp_path / "cancelled.mp4"

    def tick(done: int) -> None:
        if done >= 4:
            raise Cancelled("cancelled by the test")

    with pytest.raises(Cancelled):
        run_parallel(job, out, probe(clip), tick=tick)
    assert list(tmp_path.iterdir()) == []
    assert multiprocessing.active_children() == []


def test_segments_with_different_parameter_sets_are_reencoded_not_concatenated(tmp_path):
    from fractions import Fraction

    from facegraft.media import VideoWriter

    rng = np.random.default_rng(0)
    paths = []
    for i, preset in enumerate(["ultrafast", "slow"]):  # CAVLC vs CABAC: different PPS
        path = tmp_path / f"seg{i}.mp4"
        with VideoWriter(path, preset=preset) as writer:
            for k in range(10):
                writer.write(rng.integers(0, 255, (64, 64, 3), np.uint8), pts=10 * i + k, time_base=Fraction(1, 25))
        paths.append(path)
    assert not compatible(paths) and compatible([paths[0], paths[0]])
    out = tmp_path / "joined.mp4"
    assert join_segments(paths, out, audio_from=None) is False
    with av.open(str(out)) as c:
        tb = c.streams.video[0].time_base
    assert np.allclose([float(p * tb) for p in _pts(out)], np.arange(20) / 25)
    assert len(_frames(out)) == 20


def test_plan_tasks_slices_the_job_with_warmup(pooled, clip, tmp_path):
    from facegraft.media import probe

    _, _, job, _ = pooled
    tasks = plan_tasks(job, probe(clip), tmp_path, workers=2)
    assert [t.segment.index for t in tasks] == [0, 1]
    second = tasks[1]
    assert min(second.job.plan) == second.segment.start - second.warmup
    assert max(second.job.plan) == FRAMES - 1
