"""Cutting a video into segments that workers render independently.

A segment is a frame range ``[start, end)``. Boundaries are put on the
input's keyframes when one is near the ideal cut, because a worker's reader
then starts decoding right there instead of at the previous keyframe; when
keyframes are sparse (x264's default is one every 250 frames) a boundary may
fall anywhere: the output is re-encoded anyway, so only decoding a part of a
GOP twice is lost, never correctness.

Each worker also renders ``warmup`` frames before its segment without
writing them, so the per-track colour smoothing (an exponential moving
average in the renderer) has settled when the first written frame comes:
the landmarks plan is global and zero-phase already, so geometry needs no
warm-up.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import av

from ..errors import MediaError
from ..media.probe import _reason, open_input

#: Shortest segment worth a worker (start-up, warm-up and seek cost ~ this many frames).
MIN_SEGMENT = 30
#: Segments per worker aimed at on long videos, so a slow worker or a hard shot does not hold up the end.
SEGMENTS_PER_WORKER = 4
#: Frames per segment above which a video is "long" and gets more segments than workers.
LONG_SEGMENT = 250


@dataclass(frozen=True, slots=True)
class Segment:
    """Frames ``[start, end)`` of the video, the ``index``-th part of the output."""

    index: int
    start: int
    end: int

    def __len__(self) -> int:
        return self.end - self.start


def keyframe_indices(path: str | Path) -> list[int]:
    """Frame indices (presentation order) of the video's keyframes, from a packet scan (no decoding).

    Raises:
        MediaError: the file cannot be read or has no video.
    """
    try:
        with open_input(path) as container:
            if not container.streams.video:
                raise MediaError("has no video stream", path)
            stream = container.streams.video[0]
            packets = sorted((p.pts, bool(p.is_keyframe)) for p in container.demux(stream)
                             if p.size and p.pts is not None)
    except av.error.FFmpegError as exc:
        raise MediaError(f"cannot scan keyframes ({_reason(exc)})", path) from exc
    return [i for i, (_, key) in enumerate(packets) if key]


def segment_count(frames: int, workers: int) -> int:
    """How many segments for ``frames`` frames on ``workers`` workers.

    One per worker, more on long videos (up to :data:`SEGMENTS_PER_WORKER`
    each, segments of at least :data:`LONG_SEGMENT` frames) so the work
    balances, never segments shorter than :data:`MIN_SEGMENT`.
    """
    if frames <= 0:
        return 0
    n = max(workers, min(SEGMENTS_PER_WORKER * workers, frames // LONG_SEGMENT))
    return max(1, min(n, frames // MIN_SEGMENT))


def plan_segments(frames: int, workers: int, keyframes: list[int] | None = None, *,
                  snap: float = 0.25) -> list[Segment]:
    """Split ``frames`` frames into about equal segments, cut at keyframes where one is near.

    Args:
        frames: the video's frame count.
        workers: workers that will render them.
        keyframes: keyframe indices of the input (:func:`keyframe_indices`); None: cut anywhere.
        snap: a cut moves to a keyframe within this fraction of a segment's length.

    Returns:
        Consecutive segments covering ``[0, frames)``.
    """
    n = segment_count(frames, workers)
    if n == 0:
        return []
    length = frames / n
    keys = sorted(set(keyframes or ()))
    cuts = [0]
    for i in range(1, n):
        ideal = round(i * length)
        near = [k for k in keys if abs(k - ideal) <= snap * length]
        cut = min(near, key=lambda k: abs(k - ideal)) if near else ideal
        if cuts[-1] < cut < frames:
            cuts.append(cut)
    cuts.append(frames)
    return [Segment(i, a, b) for i, (a, b) in enumerate(itertools.pairwise(cuts))]


def warmup_frames(smoothing: float, *, residual: float = 0.01, least: int = 8, most: int = 48) -> int:
    """Frames rendered before a segment so the colour EMA has forgotten its start to ``residual``.

    The renderer blends each frame's colour statistics with weight
    :func:`~facegraft.render.renderer.colour_weight`; after ``w`` frames the
    starting value weighs ``(1 - weight) ** w``.
    """
    from ..render.renderer import colour_weight

    keep = 1.0 - colour_weight(smoothing)
    if keep <= 0:
        return least
    return max(least, min(most, math.ceil(math.log(residual) / math.log(keep))))
