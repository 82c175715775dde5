"""Occlusion report: composites with ground truth, swapped with ``occlusion`` off / hands / auto.

For each composite of ``tests/occluders.py`` (a real hand cut from
``fr_short_hamilton_clip.mp4`` sliding over ``lp_drv_d10.mp4``; a synthetic
microphone rising in front of ``lp_drv_d3.mp4``) it runs ``facegraft.swap_video``
with each occlusion mode, reads the ``occlusion`` figures of ``facegraft eval``
(:func:`facegraft.evaluate.occlusion.occlusion_section`, against the
pass-through encode), and writes a markdown table, JSON and before/after strips
(``docs/quality/occlusion_*.png``: the composite, then each mode). A strip of
a real clip with a real microphone and hand (``fr_short_hamilton_clip.mp4``
frames 150-209) is written too; it has no ground truth.

Usage:
    .venv/bin/python benchmarks/occlusion_report.py [--out docs] [--frames 60] [--modes off,hands,auto]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
DATA = REPO.parent / "shared" / "data"
SOURCE = DATA / "images" / "fr_obama.jpg"


def _strip(videos: list[Path], frames: int, picks: int = 6, size: int = 200,
           crop: tuple[int, int, int, int] | None = None) -> np.ndarray:
    from occluders import read_frames

    rows = []
    for video in videos:
        fr = read_frames(video, frames)
        cells = []
        for i in np.linspace(frames * 0.1, frames - 1, picks).astype(int):
            image = fr[i] if crop is None else fr[i][crop[1]:crop[3], crop[0]:crop[2]]
            cells.append(cv2.resize(image, (size, round(size * image.shape[0] / image.shape[1])),
                                    interpolation=cv2.INTER_AREA))
        rows.append(np.concatenate(cells, axis=1))
    return np.concatenate(rows, axis=0)


def _label(strip: np.ndarray, labels: list[str]) -> np.ndarray:
    out = strip.copy()
    h = out.shape[0] // len(labels)
    for i, text in enumerate(labels):
        cv2.putText(out, text, (6, i * h + 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2, cv2.LINE_AA)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--modes", default="off,hands,auto")
    args = parser.parse_args()
    from occluders import CASES, _write, make_composite, read_frames

    from facegraft import SwapOptions, swap_video
    from facegraft.analysis.models import Models
    from facegraft.evaluate.evaluate import make_passthrough, selected_faces
    from facegraft.evaluate.occlusion import occlusion_section

    modes = args.modes.split(",")
    (args.out / "quality").mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, dict]] = {}
    with Models() as models, tempfile.TemporaryDirectory(prefix="facegraft-occ-") as tmp:
        work = Path(tmp)
        for case in CASES:
            video, mask = make_composite(case, work, args.frames)
            base = SwapOptions(overwrite=True)
            passthrough = make_passthrough(video, work / f"{case}_pass.mp4", base)
            faces, _ = selected_faces(video, base, [np.zeros(128)], models)
            results[case] = {"passthrough": occlusion_section(passthrough, passthrough, mask, faces)}
            outs = [video]
            for mode in modes:
                out = work / f"{case}_{mode}.mp4"
                t = time.perf_counter()
                report = swap_video([SOURCE], video, out, base.replace(occlusion=mode), models=models)
                sec = occlusion_section(passthrough, out, mask, faces)
                sec["seconds"] = time.perf_counter() - t
                sec["frames_swapped"] = report.frames_swapped
                results[case][mode] = sec
                outs.append(out)
                print(case, mode, {k: v for k, v in sec.items() if k != "targets"}, flush=True)
            strip = _label(_strip(outs, args.frames), ["composite"] + [f"occlusion={m}" for m in modes])
            cv2.imwrite(str(args.out / "quality" / f"occlusion_{case}.png"), cv2.cvtColor(strip, cv2.COLOR_RGB2BGR))
        # A real clip: the performer's own microphone and hand at his chin (no ground truth).
        real = work / "hamilton_150.mp4"
        _write(real, read_frames(DATA / "videos" / "fr_short_hamilton_clip.mp4", 60, 150), 30, gray=False)
        outs = [real]
        for mode in ("off", "auto"):
            out = work / f"hamilton_{mode}.mp4"
            swap_video([SOURCE], real, out, SwapOptions(overwrite=True, occlusion=mode), models=models)
            outs.append(out)
        strip = _label(_strip(outs, 60, size=240, crop=(200, 20, 440, 200)), ["original", "occlusion=off",
                                                                              "occlusion=auto"])
        cv2.imwrite(str(args.out / "quality" / "occlusion_hamilton.png"), cv2.cvtColor(strip, cv2.COLOR_RGB2BGR))
    (args.out / "quality" / "occlusion.json").write_text(json.dumps(results, indent=2))
    lines = ["| composite | occlusion | occluder pixels kept | occluded frames still replaced | edge flicker |",
             "|---|---|---|---|---|"]
    for case, by_mode in results.items():
        for mode, sec in by_mode.items():
            lines.append(f"| {case} | {mode} | {sec['occluder_kept']:.3f} | {sec['visible_replaced']:.2f} "
                         f"| {sec['edge_flicker']:.3f} |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
