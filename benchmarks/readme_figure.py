"""The README's before/after strip: a real clip swapped with the current code.

Swaps ``fr_obama.jpg`` onto a few seconds of ``lp_drv_d3.mp4`` (head turns and
strong expressions) from ``../shared/data`` with the default options, and
writes an animated WebP of source photo | original frame | swapped frame.
Only the picture is kept in the repository, never the clip.

Run: ``.venv/bin/python benchmarks/readme_figure.py`` (about a minute on 2 cores).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"


def _cut(src: Path, dst: Path, start: int, end: int) -> Path:
    from facegraft.media import VideoReader, VideoWriter

    with VideoReader(src, start=start, end=end) as reader, VideoWriter(dst, like=reader.info, crf=14) as writer:
        for frame in reader:
            writer.write(frame.image, pts=frame.pts, time_base=frame.time_base)
    return dst


def _tile(image: np.ndarray, side: int) -> np.ndarray:
    """Centre-crop to a square and resize to ``side`` (area filter)."""
    import cv2

    h, w = image.shape[:2]
    s = min(h, w)
    y, x = (h - s) // 2, (w - s) // 2
    return cv2.resize(image[y:y + s, x:x + s], (side, side), interpolation=cv2.INTER_AREA)


def _portrait(photo: np.ndarray, side: int) -> np.ndarray:
    """The source photo cropped around its face, as a square tile."""
    import cv2

    from facegraft.analysis.models import Models

    face = max(Models().detector.detect(photo), key=lambda f: f.area)
    x0, y0, x1, y1 = face.bbox
    cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, 0.9 * max(x1 - x0, y1 - y0)
    h, w = photo.shape[:2]
    half = min(half, cx, cy, w - cx, h - cy)
    crop = photo[int(cy - half):int(cy + half), int(cx - half):int(cx + half)]
    return cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DATA / "images" / "fr_obama.jpg")
    parser.add_argument("--target", type=Path, default=DATA / "videos" / "lp_drv_d3.mp4")
    parser.add_argument("--start", type=int, default=174, help="first frame of the clip used")
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--step", type=int, default=2, help="keep every n-th frame in the animation")
    parser.add_argument("--side", type=int, default=280, help="tile size in pixels")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "readme" / "before_after.webp")
    args = parser.parse_args()

    from PIL import Image

    import facegraft
    from facegraft.media import VideoReader, probe, read_image

    with tempfile.TemporaryDirectory() as tmp:
        clip = _cut(args.target, Path(tmp) / "clip.mp4", args.start, args.start + args.frames)
        out = Path(tmp) / "swapped.mp4"
        facegraft.swap_video([args.source], clip, out)
        fps = float(probe(clip).fps or 30)
        portrait = _portrait(read_image(args.source), args.side)
        tiles = []
        with VideoReader(clip) as before, VideoReader(out) as after:
            for a, b in zip(before, after, strict=True):
                if a.index % args.step == 0:
                    row = np.concatenate([portrait, _tile(a.image, args.side), _tile(b.image, args.side)], axis=1)
                    tiles.append(Image.fromarray(row))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    duration_ms = round(1000 * args.step / fps)
    tiles[0].save(args.out, save_all=True, append_images=tiles[1:], duration=duration_ms, loop=0, quality=70,
                  method=6)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB, {len(tiles)} frames)")


if __name__ == "__main__":
    main()
