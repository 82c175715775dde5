"""Occlusion test media: a real occluder moving over a real clip, with its exact mask.

Each composite pastes an RGBA occluder over frames of a clip from
``../shared/data`` along a path relative to the face, and writes two
videos: the composite (H.264, crf 12) and its ground-truth mask (lossless
grayscale H.264, 255 on the occluder). ``facegraft eval --occluder-mask``
reads the latter.

Occluders:

* ``hand``: a real open hand (skin-coloured) cut from ``fr_short_hamilton_clip.mp4``
  frame 150, located with mediapipe's hand landmarks and cut out of the dark
  suit behind it by a skin-colour threshold;
* ``microphone``: a synthetic hand-held microphone (dark handle, meshed grey head).

Run as a script to write the composites used in docs/occlusion.md::

    .venv/bin/python tests/occluders.py /tmp/occ
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable
from pathlib import Path

import av
import cv2
import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def read_frames(path: Path, count: int, start: int = 0) -> list[np.ndarray]:
    """``count`` RGB frames of a clip from frame ``start``."""
    out = []
    with av.open(str(path)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i >= start:
                out.append(f.to_ndarray(format="rgb24"))
            if len(out) == count:
                break
    return out


def hand_cutout() -> np.ndarray:
    """The open hand of fr_short_hamilton_clip.mp4 frame 150, RGBA (alpha 255 on the hand)."""
    from facegraft.render.hands import HandFinder, hand_mask

    frame = read_frames(DATA / "videos" / "fr_short_hamilton_clip.mp4", 1, 150)[0]
    finder = HandFinder(max_hands=2)
    try:
        hands = finder.find(frame)
    finally:
        finder.close()
    pts = max(hands, key=lambda p: float(np.ptp(p[:, 0]) * np.ptp(p[:, 1])))  # the open palm, the larger one
    near = cv2.dilate((hand_mask([pts], frame.shape[:2]) > 0).view(np.uint8), np.ones((9, 9), np.uint8))
    ycc = cv2.cvtColor(frame, cv2.COLOR_RGB2YCrCb)
    skin = (ycc[..., 0] > 50) & (ycc[..., 1] > 133) & (ycc[..., 1] < 180) & (ycc[..., 2] > 77) & (ycc[..., 2] < 130)
    cut = (skin & (near > 0)).view(np.uint8)
    cut = cv2.morphologyEx(cut, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(cut)
    cut = (labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))).view(np.uint8) if n > 1 else cut
    x, y, w, h = cv2.boundingRect(cut)
    rgba = np.dstack([frame, cut * 255])[y:y + h, x:x + w]
    return np.ascontiguousarray(rgba)


def microphone(height: int = 260) -> np.ndarray:
    """A synthetic hand-held microphone, RGBA, head at the top."""
    w = height // 3
    img = np.zeros((height, w, 4), np.uint8)
    r = w // 2 - 2
    cx, cy = w // 2, r + 2
    hw = int(0.28 * w)
    # Handle: a dark cylinder (shaded across) tapering downward.
    for x in range(cx - hw, cx + hw + 1):
        shade = 1.0 - ((x - cx) / max(hw, 1)) ** 2
        img[cy:height, x, :3] = np.array([20, 20, 24]) + int(50 * shade)
    img[cy:height, cx - hw:cx + hw + 1, 3] = 255
    # Head: a grey ball with a dark mesh and a highlight.
    yy, xx = np.mgrid[0:height, 0:w]
    ball = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
    lit = np.clip(1.0 - np.hypot(xx - cx + r / 3, yy - cy + r / 3) / (1.6 * r), 0, 1)
    grey = (90 + 130 * lit).astype(np.uint8)
    mesh = ((xx + yy) % 6 < 1) | ((xx - yy) % 6 < 1)
    grey = np.where(mesh, grey // 2, grey)
    for c in range(3):
        img[..., c] = np.where(ball, grey, img[..., c])
    img[..., 3] = np.where(ball, 255, img[..., 3])
    return img


#: Path of an occluder over the clip: frame index -> (centre x, centre y) in face widths from the face
#: centre (None: off screen).
Path2D = Callable[[int], tuple[float, float] | None]


def sweep(n: int) -> Path2D:
    """In from the lower right, across the cheek and chin, rest, on to the other cheek, out."""
    keys = [(0, (1.6, 1.4)), (0.15 * n, (1.3, 1.1)), (0.35 * n, (0.3, 0.35)), (0.55 * n, (0.15, 0.35)),
            (0.8 * n, (-0.35, 0.25)), (n, (-1.6, 0.9))]

    def at(i: int) -> tuple[float, float]:
        for (t0, p0), (t1, p1) in itertools.pairwise(keys):
            if t0 <= i <= t1:
                s = (i - t0) / max(t1 - t0, 1e-6)
                s = s * s * (3 - 2 * s)
                return (p0[0] + s * (p1[0] - p0[0]), p0[1] + s * (p1[1] - p0[1]))
        return keys[-1][1]
    return at


def rise(n: int) -> Path2D:
    """Up from below to in front of the chin and mouth, held, and slightly down again."""
    def at(i: int) -> tuple[float, float]:
        s = min(1.0, i / (0.4 * n))
        s = s * s * (3 - 2 * s)
        drop = max(0.0, (i - 0.8 * n) / (0.2 * n)) * 0.15
        return (0.12, 2.2 - 1.25 * s + drop)
    return at


def paste(frame: np.ndarray, occ: np.ndarray, centre: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """``occ`` (RGBA) alpha-composited over ``frame`` at ``centre`` (pixels); returns the frame and the mask."""
    h, w = frame.shape[:2]
    oh, ow = occ.shape[:2]
    x0, y0 = round(centre[0] - ow / 2), round(centre[1] - oh / 2)
    out, mask = frame.copy(), np.zeros((h, w), np.uint8)
    fx0, fy0, fx1, fy1 = max(0, x0), max(0, y0), min(w, x0 + ow), min(h, y0 + oh)
    if fx1 <= fx0 or fy1 <= fy0:
        return out, mask
    part = occ[fy0 - y0:fy1 - y0, fx0 - x0:fx1 - x0]
    a = part[..., 3:4].astype(np.float32) / 255.0
    view = out[fy0:fy1, fx0:fx1]
    view[:] = np.round(view * (1 - a) + part[..., :3] * a).astype(np.uint8)
    mask[fy0:fy1, fx0:fx1] = np.where(part[..., 3] >= 128, 255, 0)
    return out, mask


def _write(path: Path, frames: list[np.ndarray], fps: int, *, gray: bool) -> None:
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height = frames[0].shape[1], frames[0].shape[0]
        s.pix_fmt = "yuv420p"
        s.options = {"qp": "0"} if gray else {"crf": "12"}
        for f in frames:
            if gray:
                yuv = np.full((f.shape[0] * 3 // 2, f.shape[1]), 128, np.uint8)
                yuv[: f.shape[0]] = f
                vf = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
            else:
                vf = av.VideoFrame.from_ndarray(f, format="rgb24")
            for p in s.encode(vf):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


#: The composites: name -> (clip, first frame, face centre (x, y) px, face width px, occluder, path,
#: occluder height in face widths).
CASES = {
    "hand_d10": ("lp_drv_d10.mp4", 0, (256, 250), 190, "hand", sweep, 1.05),
    "mic_d3": ("lp_drv_d3.mp4", 0, (262, 240), 200, "microphone", rise, 1.5),
}


def make_composite(name: str, folder: Path, frames: int = 60) -> tuple[Path, Path]:
    """Write the composite ``name`` of :data:`CASES` into ``folder``; returns (video, mask video)."""
    clip, start, (fx, fy), fw, kind, path_of, size = CASES[name]
    base = read_frames(DATA / "videos" / clip, frames, start)
    occ = hand_cutout() if kind == "hand" else microphone()
    scale = size * fw / occ.shape[0]
    occ = cv2.resize(occ, (max(2, round(occ.shape[1] * scale)), max(2, round(occ.shape[0] * scale))),
                     interpolation=cv2.INTER_AREA)
    path = path_of(len(base))
    out, masks = [], []
    for i, frame in enumerate(base):
        p = path(i)
        if p is None:
            out.append(frame)
            masks.append(np.zeros(frame.shape[:2], np.uint8))
            continue
        f, m = paste(frame, occ, (fx + p[0] * fw, fy + p[1] * fw))
        out.append(f)
        masks.append(m)
    folder.mkdir(parents=True, exist_ok=True)
    video, mask = folder / f"{name}.mp4", folder / f"{name}_mask.mp4"
    _write(video, out, 30, gray=False)
    _write(mask, masks, 30, gray=True)
    return video, mask


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/occluders")
    for case in CASES:
        print(*make_composite(case, target, int(sys.argv[2]) if len(sys.argv) > 2 else 60))
