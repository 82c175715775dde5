"""The live benchmark (``facegraft bench --live``): a 640x480 clip played in real time.

One face, 640x480, made from a shared clip with ffmpeg, played at its own
frame rate through :class:`~facegraft.live.LiveRunner` (frames the swap is
too slow for are dropped, as a camera's would be). In the same run:

* ffmpeg decodes the same clip (the machine's reference speed);
* the offline path (:func:`facegraft.swap_video`) swaps the same clip;
* the live path swaps every frame once more without dropping any (the
  causal filters on every frame, so its output lines up with the offline
  one for the jitter and realism figures).

Figures: sustained fps (and as a share of the clip's rate), latency
percentiles (received -> swapped frame ready), dropped frames, fall-back
frames while the face is in view (the offline analysis says where it is),
the share of delivered frames whose face is closer (dlib) to the source
than to the original, landmark jitter and realism against the offline path.

Example:
    $ facegraft bench --live --out docs
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..options import SwapOptions
from .bench import Case, ffmpeg, make_clip, resolve_source

#: The live case: lp_drv_d10 (one woman talking) scaled to 480x480 and padded to 640x480.
LIVE_CASE = Case("live-640x480", "lp_drv_d10.mp4", 8.0,
                 "scale=480:480:flags=bicubic,pad=640:480:80:0,setsar=1", "fr_obama.jpg")
#: Every n-th delivered frame is embedded with dlib for the identity share.
IDENTITY_EVERY = 4
TARGETS = {"fps": 25.0, "latency_p95_ms": 60.0, "fallback_in_view": 0, "closer_to_source": 0.95,
           "jitter_vs_offline": 1.0, "realism_vs_offline": 1.10}


def ffmpeg_decode_s(clip: Path) -> float:
    """Seconds for ffmpeg to decode the clip (to nothing): the reference measured in the same run."""
    t = time.perf_counter()
    subprocess.run([ffmpeg(), "-v", "error", "-i", str(clip), "-f", "null", "-"], check=True)
    return time.perf_counter() - t


def realtime_run(source: str | np.ndarray, clip: Path, options: SwapOptions, models: Any) -> dict[str, Any]:
    """The clip played at its rate through the runner: figures, plus delivered frames for the identity check."""
    from ..live import LiveFrame, LiveRunner, LiveSwapper
    from ..live.inputs import file_frames

    delivered: list[tuple[float, bool, np.ndarray | None]] = []

    def keep(out: LiveFrame) -> None:
        sample = out.image if len(delivered) % IDENTITY_EVERY == 0 else None
        delivered.append((out.info.timestamp, out.info.swapped, sample))

    swapper = LiveSwapper([source], options, models=models)
    with LiveRunner(swapper, on_frame=keep, own=True) as runner:
        t, cpu = time.perf_counter(), time.process_time()
        for image, timestamp in file_frames(clip):
            runner.submit(image, timestamp=timestamp)
        runner.drain()
        wall, cpu = time.perf_counter() - t, time.process_time() - cpu
        stats = runner.stats()
    # CPU time of the whole process (decode, both stages, mediapipe's threads) per delivered frame:
    # what a frame costs, less dependent than wall time on what else the machine runs.
    return {"stats": stats, "wall_s": wall, "delivered": delivered,
            "cpu_ms_per_frame": 1000.0 * cpu / max(1, stats.processed)}


def every_frame_run(source: str | np.ndarray, clip: Path, output: Path, options: SwapOptions,
                    models: Any) -> dict[str, Any]:
    """The live path on every frame (none dropped), written with the clip's timestamps."""
    from ..live import LiveSwapper
    from ..media import VideoReader, VideoWriter, probe

    info = probe(clip)
    busy, swapped = [], 0
    with LiveSwapper([source], options, models=models) as swapper, VideoReader(clip, info=info) as reader, \
            VideoWriter(output, like=info, crf=options.crf, preset=options.preset, overwrite=True) as writer:
        for frame in reader:
            out = swapper.process(frame.image, timestamp=frame.time)
            busy.append(out.info.latency_ms)
            swapped += out.info.swapped
            writer.write(out.image, pts=frame.pts, time_base=frame.time_base)
    return {"frames": len(busy), "swapped": swapped, "process_ms_median": float(np.median(busy)),
            "process_ms_p95": float(np.percentile(busy, 95))}


def identity_share(source: str | np.ndarray, clip: Path, delivered: list[tuple[float, bool, np.ndarray | None]],
                   fps: float, models: Any) -> dict[str, Any]:
    """Share of the sampled delivered frames whose face is nearer (dlib) to the source than the original's."""
    from ..media import VideoReader
    from .identity import distance, largest_face, source_embeddings

    src = np.mean(source_embeddings([source], models), axis=0)
    wanted = {round(t * fps): img for t, _, img in delivered if img is not None}
    closer, measured = 0, 0
    with VideoReader(clip) as reader:
        for frame in reader:
            out = wanted.get(frame.index)
            if out is None:
                continue
            a, b = largest_face(models.detector.detect(frame.image)), largest_face(models.detector.detect(out))
            if a is None or b is None:
                continue
            emb_out = models.embedder.embed(out, b)
            measured += 1
            closer += distance(emb_out, src) < distance(emb_out, models.embedder.embed(frame.image, a))
    return {"closer_to_source": closer / measured if measured else None, "frames": measured}


def in_view_fallback(clip: Path, delivered: list[tuple[float, bool, np.ndarray | None]], fps: float,
                     models: Any) -> dict[str, int]:
    """Delivered frames where the offline analysis sees a face but the live frame went out unswapped."""
    from ..analysis.analyse import analyse_faces

    analysis = analyse_faces(clip, models=models, embed=False, merge=False)
    with_face = {i for i, faces in enumerate(analysis.frames) if faces}
    in_view = [(round(t * fps) in with_face, swapped) for t, swapped, _ in delivered]
    return {"in_view": sum(v for v, _ in in_view), "fallback_in_view": sum(v and not s for v, s in in_view)}


def _realism(source: str | np.ndarray, clip: Path, live: Path, offline: Path, models: Any) -> dict[str, Any] | None:
    try:
        from .realism import measure_realism
    except ImportError:
        return None
    figures = {}
    for name, out in (("live", live), ("offline", offline)):
        figures[name] = measure_realism([source], clip, out, frames=16, models=models).as_dict()
    # Every figure reads better nearer zero (grain is dB either way of the original's), so the live
    # path is compared on magnitudes: live / offline, above 1 where live reads worse.
    keys = [k for k, v in figures["offline"].items() if isinstance(v, float) and k != "frames"]
    figures["ratio"] = {k: (abs(figures["live"][k]) / abs(figures["offline"][k])
                            if figures["live"][k] is not None and figures["offline"][k] else None) for k in keys}
    return figures


def run_live_bench(work: Path) -> dict[str, Any]:
    """Run the whole live benchmark in ``work`` (clips and outputs stay there); returns the figures."""
    import facegraft
    from facegraft.analysis.models import Models

    from ..media import probe
    from .evaluate import evaluate_swap

    case = LIVE_CASE
    clip = make_clip(case, work)
    info = probe(clip)
    source = resolve_source(case.source)
    options = SwapOptions(overwrite=True)
    decode_s = ffmpeg_decode_s(clip)
    row: dict[str, Any] = {"case": case.name, "clip": case.clip, "source": case.source, "width": info.width,
                           "height": info.height, "frames": info.frame_count, "clip_fps": info.fps,
                           "ffmpeg_decode_fps": info.frame_count / decode_s}
    with Models() as models:
        rt = realtime_run(source, clip, options, models)
        stats = rt["stats"]
        row.update(fps=stats.fps, realtime_share=stats.fps / info.fps, latency_p50_ms=stats.latency_p50_ms,
                   latency_p95_ms=stats.latency_p95_ms, latency_max_ms=stats.latency_max_ms,
                   received=stats.received, delivered=stats.processed, dropped=stats.dropped,
                   swapped=stats.swapped, fallback_reported=stats.fallback,
                   fps_vs_ffmpeg_decode=stats.fps / row["ffmpeg_decode_fps"],
                   latency_p95_frames=stats.latency_p95_ms * info.fps / 1000.0 if stats.latency_p95_ms else None)
        row["cpu_ms_per_frame"] = rt["cpu_ms_per_frame"]
        # The occlusion stage (its hand model runs every 30 frames) is the largest per-frame extra.
        bare = realtime_run(source, clip, options.replace(occlusion="off"), models)
        row["occlusion_off"] = {"fps": bare["stats"].fps, "latency_p50_ms": bare["stats"].latency_p50_ms,
                                "latency_p95_ms": bare["stats"].latency_p95_ms, "dropped": bare["stats"].dropped,
                                "cpu_ms_per_frame": bare["cpu_ms_per_frame"]}
        row.update(in_view_fallback(clip, rt["delivered"], info.fps, models))
        row["identity"] = identity_share(source, clip, rt["delivered"], info.fps, models)
        live_out, offline_out = work / "live-every-frame.mp4", work / "offline.mp4"
        row["every_frame"] = every_frame_run(source, clip, live_out, options, models)
        t = time.perf_counter()
        facegraft.swap_video([source], clip, offline_out, options, models=models)
        row["offline_s"] = time.perf_counter() - t
        row["offline_fps"] = info.frame_count / row["offline_s"]
        evals = {name: evaluate_swap([source], clip, out, options=options, models=models, sample_every=8,
                                     keep_frames=False) for name, out in (("live", live_out), ("offline", offline_out))}
        row["jitter"] = {name: e["temporal"]["jitter_output"] for name, e in evals.items()}
        row["jitter"]["original"] = evals["offline"]["temporal"]["jitter_reference"]
        row["jitter_vs_offline"] = (row["jitter"]["live"] / row["jitter"]["offline"]
                                    if row["jitter"]["offline"] else None)
        row["closer_to_source_every_frame"] = {n: e["identity"]["closer_to_source"] for n, e in evals.items()}
        # A causal filter that lagged would show here: head pose and mouth of the output against the original.
        row["following"] = {n: {"pitch_median_deg": e["pose"]["pitch"]["median"],
                                "yaw_median_deg": e["pose"]["yaw"]["median"],
                                "mouth_corr": e["expression"]["mouth_corr"],
                                "flicker_ratio": e["temporal"]["flicker_ratio"]} for n, e in evals.items()}
        row["realism"] = _realism(source, clip, live_out, offline_out, models)
    return row


def write_live_docs(row: dict[str, Any], meta: dict[str, Any], out: str | Path) -> dict[str, Path]:
    """``live-bench.json`` and the figures table inside ``docs/live.md`` (between its bench markers)."""
    from .report import fmt

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data = out / "live-bench.json"
    data.write_text(json.dumps({"meta": meta, "targets": TARGETS, "result": row}, indent=2, default=str))
    ratio = row["realism"]["ratio"] if row.get("realism") else {}
    worst = max(((v, k) for k, v in ratio.items() if v is not None), default=None)
    follow, bare = row["following"], row["occlusion_off"]
    m = meta["machine"]
    where = f"{m['cpus']} CPUs ({m['processor']}), Python {m['python']}" if isinstance(m, dict) else str(m)
    lines = [f"Measured with `{meta['command']}` on {where} ({meta['date']}); "
             f"clip {row['clip']} as {row['width']}x{row['height']}, {row['frames']} frames at "
             f"{row['clip_fps']:.0f} fps; reference: ffmpeg decodes it at {row['ffmpeg_decode_fps']:.0f} fps. "
             f"Load average (1 min) {meta.get('load_before', '–')} before, {meta.get('load_after', '–')} after.", "",
             "| figure | live | target |", "|---|---|---|",
             f"| sustained fps (share of the clip's rate) | {fmt(row['fps'], 1)} ({fmt(row['realtime_share'], 2)}) "
             f"| ≥ 25 |",
             f"| fps / ffmpeg decode fps | {fmt(row['fps_vs_ffmpeg_decode'], 3)} | |",
             f"| latency p50 / p95 / max (ms) | {fmt(row['latency_p50_ms'], 0)} / {fmt(row['latency_p95_ms'], 0)} / "
             f"{fmt(row['latency_max_ms'], 0)} | p95 ≤ 60 |",
             f"| frames delivered / dropped | {row['delivered']} / {row['dropped']} | |",
             f"| with `--occlusion off`: fps, latency p50 / p95 (ms), dropped | {fmt(bare['fps'], 1)}, "
             f"{fmt(bare['latency_p50_ms'], 0)} / {fmt(bare['latency_p95_ms'], 0)}, {bare['dropped']} | |",
             f"| CPU time per delivered frame (ms, all threads) | {fmt(row['cpu_ms_per_frame'], 1)} | |",
             f"| fall-back frames with the face in view | {row['fallback_in_view']} of {row['in_view']} | 0 |",
             f"| closer to the source than the original (dlib, {row['identity']['frames']} frames) | "
             f"{fmt(row['identity']['closer_to_source'], 3)} | ≥ 0.95 |",
             f"| landmark jitter, live / offline | {fmt(row['jitter_vs_offline'], 2)} | ≤ 1 |",
             f"| realism, worst figure live / offline | "
             f"{'–' if worst is None else f'{worst[0]:.2f} ({worst[1]})'} | ≤ 1.10 |",
             f"| head pitch error, median (°), live / offline | {fmt(follow['live']['pitch_median_deg'], 2)} / "
             f"{fmt(follow['offline']['pitch_median_deg'], 2)} | |",
             f"| mouth opening correlation, live / offline | {fmt(follow['live']['mouth_corr'], 3)} / "
             f"{fmt(follow['offline']['mouth_corr'], 3)} | |",
             f"| flicker ratio, live / offline | {fmt(follow['live']['flicker_ratio'], 3)} / "
             f"{fmt(follow['offline']['flicker_ratio'], 3)} | |",
             f"| offline swap fps (same clip, same run) | {fmt(row['offline_fps'], 1)} | |",
             f"| live, every frame: process time median / p95 (ms) | {fmt(row['every_frame']['process_ms_median'], 1)}"
             f" / {fmt(row['every_frame']['process_ms_p95'], 1)} | |"]
    doc = out / "live.md"
    table = "\n".join(lines)
    start, end = "<!-- live-bench:start -->", "<!-- live-bench:end -->"
    text = doc.read_text() if doc.exists() else f"# Live\n\n{start}\n{end}\n"
    if start in text and end in text:
        text = text[:text.index(start) + len(start)] + "\n" + table + "\n" + text[text.index(end):]
    else:
        text += f"\n{start}\n{table}\n{end}\n"
    doc.write_text(text)
    return {"json": data, "markdown": doc}


if __name__ == "__main__":
    print(json.dumps(run_live_bench(Path(sys.argv[1])), indent=2, default=str))
