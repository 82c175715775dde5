"""Validation of the realism figures: a re-encode must read clean, broken renders must read bad.

For each (photo, clip) pair the clip is trimmed, swapped with the default
options and with deliberately wrong ones, and each output is measured with
``facegraft.evaluate.realism.measure_realism`` against the trimmed original:

- ``re-encode``: the original through the encoder at the swap's settings (must read about 0);
- ``re-encode + Lab shift``: the same with (ΔL*, Δa*, Δb*) = (4, 5, 5) added on the face (feature colours);
- ``default``: the swap as shipped;
- ``Lab shift``: the default swap with the same additive shift on the face;
- ``colour none``, ``hard mask`` (mask_blur = mask_erode = 0), ``histogram``: swap options;
- ``ghost``: the default swap with 40 % of the original's face mixed back in.

The table goes into docs/eval.md between ``<!-- realism-validation:start/end -->``.

Usage:
    .venv/bin/python benchmarks/realism_validation.py [--pairs d3,retalk,d10,d0] [--frames 60]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO / "tests"))

PAIRS = {
    "d3": ("images/fr_obama.jpg", "videos/lp_drv_d3.mp4"),
    "retalk": ("images/lp_src_s1.jpg", "videos/retalk_face_1.mp4"),
    "d10": ("images/fr_biden.jpg", "videos/lp_drv_d10.mp4"),
    "d0": ("images/skimage_astronaut.png", "videos/lp_drv_d0.mp4"),
}
SWAPS = {"default": {}, "colour none": {"colour": "none"}, "hard mask": {"mask_blur": 0.0, "mask_erode": 0.0},
         "histogram": {"colour": "histogram"}}
ORDER = ("re-encode", "re-encode + Lab shift", "default", "Lab shift", "colour none", "hard mask", "histogram",
         "ghost")
SHIFT = np.array([4.0, 5.0, 5.0], np.float32)
KEYS = ("skin_de", "shading", "shading_lr", "shading_tb", "brows", "lips", "irises", "seam", "seam_gradient",
        "ghost", "grain")


def face_weight(models, image: np.ndarray) -> np.ndarray:
    """(H, W, 1) feathered weight of the face outline (eroded 2 %, feathered 3 % of the face size)."""
    from facegraft.render.topology import mesh_topology

    weight = np.zeros(image.shape[:2], np.float32)
    faces = models.detector.detect(image)
    if faces:
        lm = faces[0].landmarks
        size = float(max(np.ptp(lm[:, 0]), np.ptp(lm[:, 1])))
        cv2.fillPoly(weight, [np.round(lm[list(mesh_topology().face_oval), :2]).astype(np.int32)], 1.0)
        k = int(0.04 * size) | 1
        weight = cv2.erode(weight, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
        weight = cv2.GaussianBlur(weight, (0, 0), 0.03 * size)
    return weight[..., None]


def lab_shift(image: np.ndarray, weight: np.ndarray) -> np.ndarray:
    lab = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab) + weight * SHIFT
    return np.clip(cv2.cvtColor(lab, cv2.COLOR_Lab2RGB) * 255 + 0.5, 0, 255).astype(np.uint8)


def broken(models, clip: Path, default: Path, work: Path) -> dict[str, Path]:
    """The post-processed broken renders of one pair."""
    from facegraft.media import VideoReader, VideoWriter, probe

    info = probe(default)
    paths = {"re-encode + Lab shift": work / "ctlshift.mp4", "Lab shift": work / "labshift.mp4",
             "ghost": work / "ghost.mp4"}
    writers = {k: VideoWriter(p, like=info, overwrite=True) for k, p in paths.items()}
    try:
        with VideoReader(clip) as rc, VideoReader(default) as rd:
            for fc, fd in zip(rc, rd, strict=False):
                w = face_weight(models, fc.image)
                mix = 0.4 * w
                ghost = np.clip(fd.image * (1 - mix) + fc.image * mix + 0.5, 0, 255).astype(np.uint8)
                for key, img in (("re-encode + Lab shift", lab_shift(fc.image, w)),
                                 ("Lab shift", lab_shift(fd.image, w)), ("ghost", ghost)):
                    writers[key].write(img, pts=fd.pts, time_base=fd.time_base)
    finally:
        for writer in writers.values():
            writer.close()
    return paths


def table(results: dict[str, dict[str, dict]]) -> str:
    head = ("| clip (photo) | render | skin ΔE | shading | L−R / top−bottom | brows | lips | irises | seam |"
            " seam gradient | ghost | grain (dB) |")
    lines = [head, "|---|---|---|---|---|---|---|---|---|---|---|---|"]

    def f(v: float | None, d: int = 2) -> str:
        return "–" if v is None else f"{v:.{d}f}"

    for name, rows in results.items():
        src, tgt = PAIRS[name]
        for variant in ORDER:
            r = rows.get(variant)
            if r is None:
                continue
            lines.append(f"| {Path(tgt).stem} ({Path(src).stem}) | {variant} | {f(r['skin_de'])} |"
                         f" {f(r['shading'])} | {f(r['shading_lr'], 1)} / {f(r['shading_tb'], 1)} |"
                         f" {f(r['brows'])} | {f(r['lips'])} | {f(r['irises'])} | {f(r['seam'])} |"
                         f" {f(r['seam_gradient'])} | {f(r['ghost'])} | {f(r['grain'], 1)} |")
    return "\n".join(lines)


def main() -> None:
    from mediagen import trim_clip

    from facegraft import SwapOptions, swap_video
    from facegraft.analysis.models import Models
    from facegraft.evaluate import make_passthrough
    from facegraft.evaluate.realism import measure_realism
    from facegraft.evaluate.report import replace_section

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", default=",".join(PAIRS))
    ap.add_argument("--frames", type=int, default=60, help="frames of each clip to keep (default: 60)")
    ap.add_argument("--sampled", type=int, default=16, help="frames measured (default: 16)")
    ap.add_argument("--work", default="/tmp/facegraft-realism")
    ap.add_argument("--docs", default=str(REPO / "docs" / "eval.md"))
    args = ap.parse_args()
    work = Path(args.work)
    models = Models()
    results: dict[str, dict[str, dict]] = {}
    for name in args.pairs.split(","):
        src, tgt = PAIRS[name]
        folder = work / name
        folder.mkdir(parents=True, exist_ok=True)
        photo = DATA / src
        clip = trim_clip(DATA / tgt, folder / "clip.mp4", args.frames)
        outputs = {"re-encode": make_passthrough(clip, folder / "control.mp4", SwapOptions(overwrite=True))}
        for variant, extra in SWAPS.items():
            out = folder / f"{variant.replace(' ', '_')}.mp4"
            swap_video([photo], clip, out, SwapOptions(overwrite=True, **extra), models=models)
            outputs[variant] = out
        outputs.update(broken(models, clip, outputs["default"], folder))
        results[name] = {}
        for variant in ORDER:
            rep = measure_realism([photo], clip, outputs[variant], frames=args.sampled, models=models)
            results[name][variant] = rep.as_dict()
            print(name, variant, json.dumps({k: None if rep.as_dict()[k] is None else round(rep.as_dict()[k], 2)
                                             for k in KEYS}), flush=True)
    (work / "results.json").write_text(json.dumps(results, indent=1))
    replace_section(args.docs, "realism-validation", table(results))


if __name__ == "__main__":
    main()
