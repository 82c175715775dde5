"""Reading frames and photos through the media engine (:mod:`facegraft.media`).

A thin seam so analysis code asks for "frames of this file" in one place.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..media import MediaInfo, VideoReader, probe, read_image


def media_info(path: str | Path) -> MediaInfo:
    """The file's :class:`MediaInfo` (raises MediaError when unreadable)."""
    return probe(path)


def load_image(path: str | Path) -> np.ndarray:
    """An upright RGB uint8 photo (EXIF rotation applied)."""
    return read_image(path)


def iter_frames(info: MediaInfo, *, start: int = 0, end: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """(index, RGB frame) of a video's frames ``[start, end)``, or the single image."""
    if info.kind == "image":
        yield 0, load_image(info.path)
        return
    with VideoReader(info.path, start=start, end=end, info=info) as reader:
        for frame in reader:
            yield frame.index, frame.image
