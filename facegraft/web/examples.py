"""The built-in example: Grace Hopper's photo onto the astronaut, as an image and a short clip.

Both pictures ship inside installed packages (matplotlib's sample data and
scikit-image's data module), so the example works offline and without the
project's test media. The clip is generated at start: a 2-second slow zoom
and pan over the astronaut, so the page's video path can be tried with one
click.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

EXAMPLE_FPS = 25
EXAMPLE_SECONDS = 2.0
EXAMPLE_SIDE = 384


@dataclass(frozen=True)
class Example:
    """Paths of the example files.

    Attributes:
        source: Grace Hopper's portrait (JPEG).
        image: the astronaut (PNG).
        video: the zoom-and-pan clip over the astronaut (H.264 MP4), or None
            when it was not generated.
    """

    source: Path
    image: Path
    video: Path | None


def write_example(folder: Path, *, video: bool = True) -> Example:
    """Write the example source photo, target image and (optionally) target clip into ``folder``."""
    import matplotlib.cbook
    from PIL import Image
    from skimage import data

    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "grace_hopper.jpg"
    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as fh:
        source.write_bytes(fh.read())
    image = folder / "astronaut.png"
    astronaut = data.astronaut()
    Image.fromarray(astronaut).save(image)
    clip = write_zoom_clip(astronaut, folder / "astronaut_zoom.mp4") if video else None
    return Example(source=source, image=image, video=clip)


def write_zoom_clip(image: np.ndarray, path: Path, *, fps: int = EXAMPLE_FPS,
                    seconds: float = EXAMPLE_SECONDS, side: int = EXAMPLE_SIDE) -> Path:
    """Encode a slow zoom and pan over an RGB image as an H.264 clip (``side`` x ``side``).

    The crop shrinks from the whole picture to 70 % of it while drifting toward
    the upper left, where the astronaut's face is, so the face moves and grows
    smoothly the way it would in a real shot.
    """
    import av
    import cv2

    h, w = image.shape[:2]
    frames = round(fps * seconds)
    tmp = path.with_name(path.stem + ".part" + path.suffix)
    with av.open(str(tmp), "w", format="mp4") as container:
        stream = container.add_stream("h264", rate=fps)
        stream.width = stream.height = side
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, fps)
        stream.options = {"crf": "20", "preset": "veryfast"}
        for i in range(frames):
            t = i / max(1, frames - 1)
            ease = 0.5 - 0.5 * np.cos(np.pi * t)
            size = (1.0 - 0.3 * ease) * min(h, w)
            x0 = (w - size) * (0.5 - 0.35 * ease)
            y0 = (h - size) * (0.5 - 0.45 * ease)
            scale = side / size
            matrix = np.array([[scale, 0.0, -x0 * scale], [0.0, scale, -y0 * scale]])
            frame_rgb = cv2.warpAffine(image, matrix, (side, side), flags=cv2.INTER_AREA)
            frame = av.VideoFrame.from_ndarray(frame_rgb, format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    tmp.replace(path)
    return path
