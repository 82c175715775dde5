"""How the render pass scales with workers: one process vs. a process pool vs. Ray, per-segment costs.

For each clip: one ordinary ``swap_video`` run (workers=1) gives the
sequential stage times (prepare, analyse, render+encode); the RenderJob the
pipeline builds is then captured once (through the ``run_parallel`` hook) and
rendered by each executor, timing executor start-up, every segment (in its
worker) and the join. Load averages are recorded with every figure because
the machine is shared. Prints JSON; ``--markdown`` also prints tables.

The 720p clip is made by scaling ``lp_drv_d3.mp4`` (512x512) to 720x720 and
centring it on a 1280x720 frame, into a temporary folder.

Usage:
    .venv/bin/python benchmarks/scaling.py [--clips 512 720] [--configs process:2 ray:2] [--markdown]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from facegraft import SwapOptions, swap_video
from facegraft.analysis.models import Models
from facegraft.media import VideoReader, VideoWriter, probe
from facegraft.parallel import join_segments, make_executor, plan_tasks

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
CLIP = DATA / "videos" / "lp_drv_d3.mp4"
SOURCE = DATA / "images" / "lp_src_s1.jpg"


def make_720p(source: Path, folder: Path) -> Path:
    """``source`` scaled to 720 px high and centred on a black 1280x720 frame (audio copied)."""
    out = folder / f"{source.stem}_720p.mp4"
    info = probe(source)
    canvas = np.zeros((720, 1280, 3), np.uint8)
    with VideoReader(source) as reader, VideoWriter(out, like=info, crf=16, preset="fast", audio_from=source,
                                                    overwrite=True) as writer:
        for frame in reader:
            canvas[:, 280:1000] = cv2.resize(frame.image, (720, 720), interpolation=cv2.INTER_CUBIC)
            writer.write(canvas, pts=frame.pts, time_base=frame.time_base)
    return out


class _Captured(Exception):
    def __init__(self, job: object) -> None:
        super().__init__("captured")
        self.job = job


def capture_job(clip: Path, models: Models, folder: Path) -> object:
    """The RenderJob swap_video builds for ``clip`` (stopped at the parallel hook, nothing rendered)."""
    import facegraft.parallel as parallel

    def stop(job: object, *args: object, **kwargs: object) -> object:
        raise _Captured(job)

    real = parallel.run_parallel
    parallel.run_parallel = stop  # type: ignore[assignment]
    try:
        swap_video([SOURCE], clip, folder / "never.mp4", SwapOptions(executor="process", workers=2), models=models)
    except _Captured as captured:
        return captured.job
    finally:
        parallel.run_parallel = real  # type: ignore[assignment]
    raise RuntimeError("the pipeline did not reach run_parallel")


def sequential(clip: Path, models: Models, folder: Path) -> dict:
    """One ordinary in-process swap_video run: stage times."""
    load = os.getloadavg()
    t = time.perf_counter()
    report = swap_video([SOURCE], clip, folder / "sequential.mp4", SwapOptions(overwrite=True), models=models)
    wall = time.perf_counter() - t
    return {"config": "in-process (workers=1)", "wall_s": wall, "timings": report.timings, "frames": report.frames,
            "load_before": load, "load_after": os.getloadavg()}


def parallel_run(job: object, clip: Path, folder: Path, executor: str, workers: int) -> dict:
    """Render the captured job on an executor; per-phase and per-segment times."""
    info = probe(clip)
    job = dataclasses.replace(job, options=job.options.replace(executor=executor, workers=workers,  # type: ignore
                                                               overwrite=True))
    load = os.getloadavg()
    seg_dir = folder / f"segments-{executor}-{workers}"
    seg_dir.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    tasks = plan_tasks(job, info, seg_dir)  # type: ignore[arg-type]
    with make_executor(job.options) as ex:  # type: ignore[attr-defined]
        t1 = time.perf_counter()
        submitted = time.time()
        outputs = ex.run(tasks, lambda i, n: None)
        t2 = time.perf_counter()
    t3 = time.perf_counter()
    join_segments([o.path for o in outputs], folder / f"out-{executor}-{workers}.mp4", audio_from=clip,
                  overwrite=True)
    t4 = time.perf_counter()
    segments = [{"start": o.segment.start, "end": o.segment.end, "warmup": t.warmup,
                 "queued_s": o.started - submitted, "worker_s": o.seconds, "render_s": o.result.render_s,
                 "ms_per_frame": 1000 * o.seconds / max(1, len(o.segment))}
                for o, t in zip(outputs, tasks, strict=True)]
    return {"config": f"{executor} (workers={workers})", "frames": info.frame_count,
            "startup_s": t1 - t0, "run_s": t2 - t1, "shutdown_s": t3 - t2, "join_s": t4 - t3, "wall_s": t4 - t0,
            "segments": segments, "load_before": load, "load_after": os.getloadavg()}


def markdown(results: list[dict]) -> str:
    lines = []
    for clip in results:
        seq = clip["runs"][0]
        render_seq = seq["timings"].get("render", 0) + seq["timings"].get("encode", 0)
        lines += [f"### {clip['clip']} ({clip['size']}, {clip['frames']} frames)", "",
                  f"In-process swap_video: total {seq['wall_s']:.1f} s = prepare {seq['timings'].get('prepare', 0):.1f}"
                  f" + analyse {seq['timings'].get('analyse', 0):.1f} + render/encode {render_seq:.1f} s "
                  f"(load {seq['load_before'][0]:.1f} -> {seq['load_after'][0]:.1f})", "",
                  "| render pass on | wall s | fps | speed-up vs 1 | start-up s | segments run s | join s | "
                  "load 1-min before/after |", "|---|---|---|---|---|---|---|---|",
                  f"| in-process | {render_seq:.1f} | {clip['frames'] / render_seq:.1f} | 1.00x | - | - | - | "
                  f"{seq['load_before'][0]:.1f} / {seq['load_after'][0]:.1f} |"]
        for run in clip["runs"][1:]:
            lines.append(f"| {run['config']} | {run['wall_s']:.1f} | {clip['frames'] / run['wall_s']:.1f} | "
                         f"{render_seq / run['wall_s']:.2f}x | {run['startup_s']:.1f} | {run['run_s']:.1f} | "
                         f"{run['join_s']:.2f} | {run['load_before'][0]:.1f} / {run['load_after'][0]:.1f} |")
        lines += ["", "| config | segment | frames (+warm-up) | waited for a worker s | worker s | ms/frame |",
                  "|---|---|---|---|---|---|"]
        for run in clip["runs"][1:]:
            for s in run["segments"]:
                lines.append(f"| {run['config']} | [{s['start']}, {s['end']}) | {s['end'] - s['start']} "
                             f"(+{min(s['warmup'], s['start'])}) | {s['queued_s']:.1f} | {s['worker_s']:.1f} | "
                             f"{s['ms_per_frame']:.0f} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", nargs="+", default=["512", "720"], choices=["512", "720"])
    parser.add_argument("--configs", nargs="+", default=["process:2", "ray:2"],
                        help="executor:workers to run (process:1 shows the machinery's overhead)")
    parser.add_argument("--markdown", action="store_true", help="also print the tables for docs/scaling.md")
    args = parser.parse_args(argv)
    if not CLIP.exists():
        print(f"{CLIP}: missing (the shared test media are needed)", file=sys.stderr)
        return 2
    models = Models()
    results = []
    with tempfile.TemporaryDirectory(prefix="facegraft-scaling-") as tmp:
        folder = Path(tmp)
        for name in args.clips:
            clip = CLIP if name == "512" else make_720p(CLIP, folder)
            info = probe(clip)
            runs = [sequential(clip, models, folder)]
            job = capture_job(clip, models, folder)
            for config in args.configs:
                executor, workers = config.split(":")
                runs.append(parallel_run(job, clip, folder, executor, int(workers)))
                print(json.dumps(runs[-1]), file=sys.stderr)
            results.append({"clip": clip.name, "size": f"{info.width}x{info.height}", "frames": info.frame_count,
                            "runs": runs})
    print(json.dumps({"cpus": os.cpu_count(), "results": results}, indent=1))
    if args.markdown:
        print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
