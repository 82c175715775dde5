"""Streaming video decode: :class:`VideoReader` yields upright RGB frames with their pts.

Decoding runs in its own thread and hands frames over through a bounded queue,
so it overlaps with whatever the consumer does (face analysis, rendering) and
memory stays flat however long the video is. Nothing is written to disk.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import cv2
import numpy as np

from ..errors import MediaError
from .probe import MediaInfo, _reason, clockwise_rotation, open_input, probe, video_stream

#: Colourspaces whose matrix is BT.601, the one OpenCV's fast I420 conversion uses
#: (2 = unspecified, which FFmpeg also decodes as BT.601).
_BT601 = {2, 5, 6}


@dataclass(frozen=True, slots=True)
class VideoFrame:
    """One decoded frame.

    Attributes:
        index: position in the video (0 = first frame), counted in presentation order.
        pts: presentation timestamp in ``time_base`` units, exactly as stored in the file.
        time_base: unit of ``pts`` (seconds per tick).
        image: RGB uint8 HxWx3, upright (display rotation already applied).
    """

    index: int
    pts: int
    time_base: Fraction
    image: np.ndarray

    @property
    def time(self) -> float:
        """Presentation time in seconds."""
        return float(self.pts * self.time_base)


def frame_to_rgb(frame: av.VideoFrame, rotation: int = 0) -> np.ndarray:
    """Convert a decoded frame to an upright RGB array.

    Plain 8-bit BT.601 limited-range 4:2:0 (almost every H.264 file) goes
    through OpenCV's I420 conversion, about 2-3x faster than swscale and within
    one level of it; anything else (BT.709 tagged HD, full range, 10-bit, odd
    sizes, other pixel formats) goes through swscale, which honours the
    frame's colour tags.
    """
    if (frame.format.name == "yuv420p" and frame.width % 2 == 0 and frame.height % 2 == 0
            and frame.colorspace in _BT601 and frame.color_range != 2):
        rgb = cv2.cvtColor(frame.to_ndarray(), cv2.COLOR_YUV2RGB_I420)
    else:
        rgb = frame.to_ndarray(format="rgb24")
    if rotation:
        rgb = np.ascontiguousarray(np.rot90(rgb, k=-(rotation // 90)))
    return rgb


_END = object()


class VideoReader:
    """Decode a video (or a segment of it) into upright RGB frames, in a background thread.

    Frames ``[start, end)`` are produced in presentation order, each with its
    own pts and time base, so a writer given the same pts reproduces the input
    timing exactly (variable frame rate included). A display-matrix rotation
    (a phone clip flagged ``rotate=90``) is applied to the pixels, so frames are
    ``info.width x info.height`` and upright.

    Example:
        >>> with VideoReader("clip.mp4", start=30, end=60) as reader:  # doctest: +SKIP
        ...     for frame in reader:
        ...         print(frame.index, frame.time, frame.image.shape)

    Args:
        path: the video.
        start: first frame index to produce; the reader seeks to the keyframe
            before it and decodes forward, so segments cost little.
        end: one past the last frame index, or None for the end of the video.
        queue_size: frames decoded ahead of the consumer.
        threads: decoder threads (0 = FFmpeg's automatic choice).
        info: the file's :func:`probe` result when the caller has it already (a probe
            decodes the first frame: ~0.1 s at 1080p, paid once per pass otherwise).

    Raises:
        MediaError: the file cannot be read or decoding fails part way.
    """

    def __init__(self, path: str | Path, *, start: int = 0, end: int | None = None, queue_size: int = 8,
                 threads: int = 0, info: MediaInfo | None = None) -> None:
        known = info is not None and Path(info.path).resolve() == Path(path).resolve()
        self.info: MediaInfo = info if known else probe(path)  # type: ignore[assignment]
        if self.info.kind != "video":
            raise MediaError("is an image, not a video", path)
        total = self.info.frame_count
        end = total if end is None else min(end, total)
        if start < 0 or start > end:
            raise MediaError(f"bad frame range [{start}, {end}) for a video of {total} frames", path)
        self.path = self.info.path
        self.start, self.end = start, end
        self._threads = threads
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max(1, queue_size))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __len__(self) -> int:
        return self.end - self.start

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Stop the decode thread (safe to call twice)."""
        self._stop.set()
        if self._thread is not None:
            while self._thread.is_alive():
                try:  # unblock a producer waiting on a full queue
                    self._queue.get_nowait()
                except queue.Empty:
                    self._thread.join(timeout=0.05)
            self._thread = None

    def __iter__(self) -> Iterator[VideoFrame]:
        if self._thread is not None:
            raise MediaError("a VideoReader can be iterated only once", self.path)
        self._thread = threading.Thread(target=self._run, name="facegraft-decode", daemon=True)
        self._thread.start()
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]

    # -- decode thread ------------------------------------------------------------------------------
    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            self._decode()
        except MediaError as exc:
            self._put(exc)
        except av.error.FFmpegError as exc:
            self._put(MediaError(f"decoding failed ({_reason(exc)})", self.path))
        except BaseException as exc:  # handed to the consumer's thread, re-raised there
            self._put(exc)
        else:
            self._put(_END)

    def _decode(self) -> None:
        if self.start >= self.end:
            return
        with open_input(self.path) as container:
            vs = video_stream(container, self.path)
            vs.thread_type = "AUTO"
            vs.codec_context.thread_count = self._threads
            tb = Fraction(vs.time_base)
            target = self._seek(container, vs) if self.start > 0 else None
            index = self.start
            last_pts: int | None = None
            step = max(1, round(1 / (self.info.fps * tb))) if self.info.fps > 0 else 1
            for frame in container.decode(vs):
                if self._stop.is_set():
                    return
                pts = frame.pts if frame.pts is not None else (0 if last_pts is None else last_pts + step)
                if target is not None and pts < target:
                    continue  # decoded from the keyframe before the segment
                target = None
                image = frame_to_rgb(frame, clockwise_rotation(frame))
                if not self._put(VideoFrame(index=index, pts=pts, time_base=tb, image=image)):
                    return
                last_pts = pts
                index += 1
                if index >= self.end:
                    return
            if index < self.end:
                raise MediaError(f"video ended after {index} of {self.end} frames (truncated or damaged)",
                                 self.path)

    def _seek(self, container: av.container.InputContainer, vs: av.video.stream.VideoStream) -> int:
        """Seek to the keyframe before frame ``start``; return that frame's pts."""
        pts = sorted(p.pts for p in container.demux(vs) if p.size and p.pts is not None)
        if self.start >= len(pts):
            raise MediaError(f"frame {self.start} is past the last frame ({len(pts)})", self.path)
        target = pts[self.start]
        # Seeking lands on a keyframe at or before target (backward=True); frames before
        # it are decoded and dropped so the first frame produced is exactly `start`.
        container.seek(target, stream=vs, backward=True, any_frame=False)
        return target
