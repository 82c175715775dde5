"""Realism and identity of the previous release against this one, on trimmed clips, in one run.

Each pair's clip is trimmed to its first ``--frames`` frames (near-lossless),
swapped by the code in ``--base`` (a checkout of the previous release) and by
this checkout (any extra swap flags after ``--``), and both outputs are
measured with this checkout's evaluator: the realism figures on 16 frames
(:func:`facegraft.evaluate.realism.measure_realism`) and the identity shares
with dlib on every 3rd frame. With ``--strips DIR`` it also writes one
original / previous / this-release strip per clip (4 frames, face crops).

Usage::

    .venv/bin/python benchmarks/relight_compare.py --base ../base --work /tmp/rc --strips docs/quality
    .venv/bin/python benchmarks/relight_compare.py --base ../base --work /tmp/rc -- --colour lab
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
PAIRS = {"lp_drv_d3": "fr_obama.jpg", "retalk_face_1": "lp_src_s1.jpg", "lp_drv_d10": "fr_biden.jpg",
         "lp_drv_d0": "skimage_astronaut.png"}
FIGURES = ("skin_de", "shading", "brows", "lips", "irises", "seam", "ghost", "grain")


def swap(root: Path, photo: Path, clip: Path, out: Path, flags: list[str]) -> None:
    """One swap by the code under ``root`` (its own package, this interpreter)."""
    env = dict(os.environ, PYTHONPATH=str(root))
    subprocess.run([sys.executable, "-m", "facegraft", "swap", "-s", str(photo), "-t", str(clip), "-o", str(out),
                    "-q", "--overwrite", *flags], cwd=root, env=env, check=True, stderr=subprocess.DEVNULL)


def measure(models: object, photo: Path, clip: Path, out: Path) -> dict:
    """Realism (16 frames) and identity (every 3rd frame) of one output."""
    from facegraft.evaluate.evaluate import evaluate_swap
    from facegraft.evaluate.realism import measure_realism

    row = {k: measure_realism([photo], clip, out, frames=16, models=models).as_dict().get(k) for k in FIGURES}
    ev = evaluate_swap([photo], clip, out, models=models, sample_every=3, keep_frames=False)
    ident = ev["identity"]
    row.update(closer=ident.get("closer_to_source"), within=ident.get("within_threshold_of_source"),
               median_dist=(ident.get("dist_source") or {}).get("median"),
               psnr=ev["fidelity"]["psnr_outside_face"])
    return row


def strip(clip: Path, outputs: list[Path], dst: Path, frames: tuple[int, ...]) -> None:
    """Rows: the original and each output, on ``frames``, cropped around the swapped face."""
    import cv2

    from facegraft.media import VideoReader, write_image

    def read(path: Path) -> dict[int, np.ndarray]:
        got = {}
        with VideoReader(path) as reader:
            for f in reader:
                if f.index in frames:
                    got[f.index] = f.image.copy()
        return got

    rows = [read(clip)] + [read(p) for p in outputs]
    tiles = []
    for r, label in zip(rows, ("original", "previous release", "this release"), strict=False):
        row = []
        for i in frames:
            changed = np.abs(rows[1][i].astype(int) - rows[0][i]).sum(2) > 12
            ys, xs = np.nonzero(changed)
            cy, cx = (ys.min() + ys.max()) // 2, (xs.min() + xs.max()) // 2
            half = int(0.8 * max(ys.max() - ys.min(), xs.max() - xs.min()))
            y0, x0 = max(0, cy - half), max(0, cx - half)
            row.append(cv2.resize(r[i][y0:y0 + 2 * half, x0:x0 + 2 * half], (256, 256), interpolation=cv2.INTER_AREA))
        row = np.hstack(row)
        cv2.putText(row, label, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2, cv2.LINE_AA)
        tiles.append(row)
    write_image(dst, np.vstack(tiles))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", type=Path, required=True, help="Checkout of the previous release.")
    ap.add_argument("--work", type=Path, required=True, help="Scratch folder (trims and outputs).")
    ap.add_argument("--frames", type=int, default=100, help="Frames per trimmed clip (default 100).")
    ap.add_argument("--clips", nargs="*", default=list(PAIRS), help="Clip names (default: all four pairs).")
    ap.add_argument("--strips", type=Path, help="Write strip_old_new_<clip>.png here.")
    ap.add_argument("flags", nargs="*", help="Extra swap flags for this release (after --).")
    args = ap.parse_args()
    sys.path.insert(0, str(REPO / "tests"))
    from mediagen import trim_clip

    from facegraft.analysis.models import Models

    args.work.mkdir(parents=True, exist_ok=True)
    models = Models()
    results = {}
    for name in args.clips:
        photo = DATA / "images" / PAIRS[name]
        clip = args.work / f"{name}_{args.frames}.mp4"
        if not clip.exists():
            trim_clip(DATA / "videos" / f"{name}.mp4", clip, args.frames)
        outs = [args.work / f"{name}_previous.mp4", args.work / f"{name}_this.mp4"]
        swap(args.base.resolve(), photo, clip, outs[0], [])
        swap(REPO, photo, clip, outs[1], args.flags)
        results[name] = {"previous": measure(models, photo, clip, outs[0]),
                         "this": measure(models, photo, clip, outs[1])}
        print(name, json.dumps(results[name]), flush=True)
        if args.strips:
            shown = tuple(int(x) for x in np.linspace(10, min(args.frames, 78) - 8, 4))
            strip(clip, outs, args.strips / f"strip_old_new_{name}.png", shown)
    (args.work / "relight_compare.json").write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
