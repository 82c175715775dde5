"""Where a swap's CPU goes, part by part, against an ffmpeg transcode of the same clip.

On two cores wall time is noisy (other processes, the machine's neighbours);
CPU time per frame is far steadier, and on a saturated machine it is what sets
throughput. For each ``facegraft bench`` case this measures, in one run, the
CPU milliseconds per frame of:

* ``ffmpeg``: a plain ``ffmpeg -c:v libx264`` transcode (same CRF and preset);
* ``decode``: our decoder alone (PyAV thread, frames as RGB);
* ``encode``: our encoder alone (RGB -> YUV, libx264, mux), from frames in memory;
* ``analysis``: the face analysis pass (detection, mesh, tracking), less its decoding;
* ``render``: the renderer's prepare + finish for every planned face, frames in memory;
* ``swap``: the whole ``swap_video`` (both passes), for comparison with the sum.

The swap decodes twice (an analysis pass, then the render pass) and encodes
once, so ``2 x decode + encode`` is the floor of any two-pass pipeline, and the
budget for 0.75x ffmpeg's throughput is ``ffmpeg / 0.75`` CPU ms a frame.

Usage:
    .venv/bin/python benchmarks/cpu_budget.py [--cases 720p-one-face ...] [--json out.json] [--markdown]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from facegraft import SwapOptions, swap_video
from facegraft.analysis.analyse import analyse_faces
from facegraft.analysis.models import Models
from facegraft.analysis.selection import select_identities
from facegraft.evaluate.bench import CASES, ffmpeg, make_clip, resolve_source
from facegraft.media import VideoReader, VideoWriter, probe
from facegraft.mirrorcheck import prepare_sources
from facegraft.pipeline import load_sources
from facegraft.render.renderer import FaceRenderer, TrackState
from facegraft.temporal import TrackSettings, plan_faces


def cpu() -> float:
    """CPU seconds of this process, all threads."""
    t = os.times()
    return t.user + t.system


def best(fn, repeats: int) -> float:
    """Least CPU seconds of ``repeats`` calls (the steadiest estimate on a shared machine)."""
    out = []
    for _ in range(repeats):
        c = cpu()
        fn()
        out.append(cpu() - c)
    return min(out)


def ffmpeg_cpu(clip: Path, out: Path, options: SwapOptions, repeats: int) -> float:
    cmd = [ffmpeg(), "-v", "error", "-y", "-i", str(clip), "-c:v", "libx264", "-crf", str(options.crf),
           "-preset", options.preset, "-pix_fmt", "yuv420p", "-c:a", "copy", str(out)]
    spent = []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(cmd, check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        spent.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return min(spent)


def measure(case, folder: Path, models: Models, repeats: int) -> dict[str, float | str | int]:
    clip = make_clip(case, folder)
    info = probe(clip)
    n = info.frame_count
    options = SwapOptions(select=case.select, overwrite=True)  # type: ignore[arg-type]
    row: dict[str, float | str | int] = {"case": case.name, "frames": n, "size": f"{info.width}x{info.height}"}
    row["ffmpeg"] = ffmpeg_cpu(clip, folder / f"{case.name}.ff.mp4", options, repeats)

    frames = []

    def decode() -> None:
        frames.clear()
        with VideoReader(clip, info=info) as reader:
            frames.extend((f.index, f.pts, f.time_base, f.image) for f in reader)

    row["decode"] = best(decode, repeats)

    def encode() -> None:
        with VideoWriter(folder / f"{case.name}.enc.mp4", like=info, crf=options.crf, preset=options.preset,
                         overwrite=True) as writer:
            for _, pts, tb, image in frames:
                writer.write(image, pts=pts, time_base=tb)

    row["encode"] = best(encode, repeats)
    merge = options.select != "all"
    holder = {}

    def analyse() -> None:
        holder["a"] = analyse_faces(clip, models=models, split=False, embed=False, merge=merge, info=info)

    row["analysis"] = best(analyse, repeats) - row["decode"]
    analysis = holder["a"]
    source = load_sources([resolve_source(case.source)], options, models)
    selection = select_identities(analysis, options, [s.embedding for s in source])
    renderer = FaceRenderer(options)
    settings = TrackSettings(options.smoothing, options.max_gap, options.shape_strength)
    prepared, _ = prepare_sources(models, renderer, settings, source, options.mirror_turned, analysis,
                                  selection.mapping)
    plan = plan_faces(analysis.frames, selection.mapping, settings, [p.shape for p in prepared],
                      renderer.topology.identity_weight, renderer.topology.parts)
    row["faces"] = sum(len(plan.get(i, ())) for i in range(n))

    def render() -> None:
        states: dict[int, TrackState] = {}
        for index, _, _, image in frames:
            img = image.copy()
            for p in plan.get(index, ()):
                layer = renderer.prepare(img, p.landmarks, prepared[p.source_index], base=p.base)
                if layer is not None:
                    renderer.finish(img, layer, states.setdefault(p.track_id, TrackState()))

    row["render"] = best(render, repeats)
    frames.clear()
    src = resolve_source(case.source)

    def swap() -> None:
        t = time.perf_counter()
        swap_video([src], clip, folder / f"{case.name}.swap.mp4", options, models=models)
        row["swap_wall"] = time.perf_counter() - t

    row["swap"] = best(swap, repeats)
    for key in ("ffmpeg", "decode", "encode", "analysis", "render", "swap"):
        row[key] = 1000.0 * float(row[key]) / n
    row["swap_wall"] = 1000.0 * float(row["swap_wall"]) / n
    return row


def markdown(rows: list[dict]) -> str:
    lines = ["| case | faces/frame | ffmpeg | decode | encode | analysis | render | 2×decode + encode | "
             "sum of parts | whole swap | budget for 0.75× ffmpeg |", "|---" * 11 + "|"]
    for r in rows:
        floor = 2 * r["decode"] + r["encode"]
        parts = floor + r["analysis"] + r["render"]
        lines.append(f"| {r['case']} | {r['faces'] / r['frames']:.1f} | {r['ffmpeg']:.1f} | {r['decode']:.1f} | "
                     f"{r['encode']:.1f} | {r['analysis']:.1f} | {r['render']:.1f} | {floor:.1f} | {parts:.1f} | "
                     f"{r['swap']:.1f} | {r['ffmpeg'] / 0.75:.1f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", nargs="+", default=[c.name for c in CASES])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--json")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    rows = []
    with Models() as models, tempfile.TemporaryDirectory(prefix="facegraft-cpu-") as tmp:
        for case in CASES:
            if case.name in args.cases:
                rows.append(measure(case, Path(tmp), models, args.repeats))
                print(json.dumps(rows[-1]), flush=True)
    meta = {"date": time.strftime("%Y-%m-%d"), "load_before": os.getloadavg()[0], "cpus": os.cpu_count(),
            "numpy": np.__version__}
    if args.json:
        Path(args.json).write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    if args.markdown:
        print(markdown(rows))


if __name__ == "__main__":
    main()
