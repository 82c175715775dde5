"""Quality and temporal-coherence report on the real clips in ../shared/data.

For each (source photo, target clip) pair it runs ``facegraft.swap_video``
with the default options and with one feature turned off at a time
(temporal smoothing, identity shape), evaluates every output with
``facegraft.evaluate.evaluate_swap`` against a pass-through encode, and
writes ``docs/quality.md`` and ``docs/temporal.md`` (tables), JSON results,
before/after strips (``docs/quality/strip_*.png``) and a flicker-over-time
plot of one clip.

Usage:
    .venv/bin/python benchmarks/quality_report.py [--pairs d3,retalk] [--variants default,no_smoothing]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
DOCS = REPO / "docs"

#: name -> (source photo, target clip, extra options, what it exercises)
PAIRS = {
    "d3": ("images/fr_obama.jpg", "videos/lp_drv_d3.mp4", {}, "man → woman, strong expressions, head turns"),
    "retalk": ("images/lp_src_s1.jpg", "videos/retalk_face_1.mp4", {}, "woman → man, talking"),
    "d10": ("images/fr_biden.jpg", "videos/lp_drv_d10.mp4", {}, "man → woman, talking"),
    "d0": ("images/skimage_astronaut.png", "videos/lp_drv_d0.mp4", {}, "woman → man, expressions"),
    "hamilton": ("images/fr_obama.jpg", "videos/fr_short_hamilton_clip.mp4", {}, "scene cuts, 2-3 faces (auto)"),
    "crowd": ("images/lp_src_s1.jpg", "videos/facenet_video_crowd_1080p.mp4", {"select": "all"},
              "1080p crowd, every face"),
    # Control: the target person onto herself (source = her own frame 300), so the
    # source texture has the target's contrast: raw flicker then shows what the
    # pipeline itself adds.
    "d3_self": ("self:videos/lp_drv_d3.mp4:300", "videos/lp_drv_d3.mp4", {}, "control: the same woman onto herself"),
}


def source_path(spec: str, work: Path) -> Path:
    """A photo path; ``self:CLIP:N`` extracts frame N of CLIP into the work folder."""
    if not spec.startswith("self:"):
        return DATA / spec
    from facegraft.media import VideoReader, write_image

    _, clip, index = spec.split(":")
    dest = work / f"self_{Path(clip).stem}_{index}.png"
    if not dest.exists():
        with VideoReader(DATA / clip, start=int(index), end=int(index) + 1) as reader:
            write_image(dest, next(iter(reader)).image)
    return dest
VARIANTS = {
    "default": {},
    "no_smoothing": {"smoothing": 0.0},
    "no_shape": {"shape_strength": 0.0},
    "no_detail": {"detail_match": 0.0},
}


def strip(target: Path, output: Path, dest: Path, count: int = 5) -> None:
    """Before (top) / after (bottom) frames, evenly spaced."""
    from facegraft.media import VideoReader, probe

    n = probe(target).frame_count
    wanted = {int(i) for i in np.linspace(0, n - 1, count)}
    rows = []
    for path in (target, output):
        tiles = []
        with VideoReader(path) as reader:
            for frame in reader:
                if frame.index in wanted:
                    h, w = frame.image.shape[:2]
                    tiles.append(cv2.resize(frame.image, (256 * w // max(h, w) // 2 * 2, 256 * h // max(h, w))))
        rows.append(np.hstack(tiles))
    cv2.imwrite(str(dest), cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR))


def flicker_series(target: Path, outputs: dict[str, Path], models) -> dict[str, list[float]]:
    """Per-frame mean absolute change inside the (dilated) face region, for the original and outputs."""
    from facegraft.evaluate.metrics import face_region, mean_abs_change
    from facegraft.media import VideoReader

    readers = {"original": VideoReader(target), **{k: VideoReader(v) for k, v in outputs.items()}}
    series: dict[str, list[float]] = {k: [] for k in readers}
    prev: dict[str, np.ndarray] = {}
    prev_mask = None
    faces = None
    try:
        for frames in zip(*readers.values(), strict=True):
            images = dict(zip(readers, (f.image for f in frames), strict=True))
            faces = models.detector.detect(images["original"], previous=faces)
            mask = face_region(images["original"].shape, [f.landmarks for f in faces[:1]], dilate=0.15)
            for k, img in images.items():
                if k in prev and prev_mask is not None:
                    v = mean_abs_change(prev[k], img, mask | prev_mask)
                    series[k].append(float("nan") if v is None else v)
            prev, prev_mask = images, mask
    finally:
        for r in readers.values():
            r.close()
    return series


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from facegraft import SwapOptions, swap_video
    from facegraft.analysis.models import Models
    from facegraft.evaluate import build_gallery, evaluate_swap, make_passthrough

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", default=",".join(PAIRS))
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--work", default="/tmp/facegraft-quality")
    ap.add_argument("--sample-every", type=int, default=5)
    ap.add_argument("--realism-only", action="store_true",
                    help="swap and measure only the realism figures (16 sampled frames), merged into the results")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    (DOCS / "quality").mkdir(parents=True, exist_ok=True)
    models = Models()
    gallery = build_gallery(DATA / "images", models)
    results_path = DOCS / "quality" / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    for name in args.pairs.split(","):
        src, tgt, extra, _ = PAIRS[name]
        source, target = source_path(src, work), DATA / tgt
        passthrough = make_passthrough(target, work / f"{name}_pass.mp4", SwapOptions(overwrite=True))
        outputs = {}
        for variant in args.variants.split(","):
            opts = SwapOptions(overwrite=True, **extra, **VARIANTS[variant])
            out = work / f"{name}_{variant}.mp4"
            t = time.perf_counter()
            report = swap_video([source], target, out, opts, models=models)
            swap_s = time.perf_counter() - t
            if args.realism_only:
                from facegraft.evaluate.realism import measure_realism

                rep = measure_realism([source], target, out, models=models).as_dict()
                results.setdefault(name, {}).setdefault(variant, {})["realism"] = rep
                results_path.write_text(json.dumps(results, indent=1, default=str))
                print(name, variant, f"{swap_s:.1f}s", json.dumps(rep), flush=True)
                continue
            ev = evaluate_swap([source], target, out, options=opts, models=models, gallery=gallery,
                               sample_every=args.sample_every, passthrough=passthrough, keep_frames=False)
            ev["swap"] = {"seconds": swap_s, "frames": report.frames, "frames_swapped": report.frames_swapped,
                          "warnings": report.warnings, "timings": report.timings,
                          "load": os.getloadavg()[0]}
            results.setdefault(name, {})[variant] = ev
            outputs[variant] = out
            results_path.write_text(json.dumps(results, indent=1, default=str))
            print(name, variant, f"{swap_s:.1f}s", json.dumps({k: ev[k] for k in ("identity", "temporal")},
                                                              default=str)[:400], flush=True)
            if variant == "default":
                strip(target, out, DOCS / "quality" / f"strip_{name}.png")
        if name == "d3" and len(outputs) > 1:
            series = flicker_series(target, outputs, models)
            fig, ax = plt.subplots(figsize=(9, 3.2))
            for k, v in series.items():
                ax.plot(v, label=k, lw=1.2 if k == "original" else 0.9)
            ax.set_xlabel("frame")
            ax.set_ylabel("mean |Δ| in face region")
            ax.set_title(f"Frame-to-frame change in the face region: {tgt}")
            ax.legend()
            fig.tight_layout()
            fig.savefig(DOCS / "quality" / "flicker_d3.png", dpi=110)
            plt.close(fig)
    models.close()
    from quality_tables import write_tables

    write_tables(results, PAIRS, DOCS)


if __name__ == "__main__":
    main()
