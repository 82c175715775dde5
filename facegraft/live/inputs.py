"""Frame sources for the live path: a file played at its own rate, or a camera.

A file stands in for a camera in tests and benchmarks, so it is played in
real time: each frame is handed over when the wall clock reaches its
timestamp, whatever the consumer is doing, and frames the consumer is too
slow for are dropped by the runner exactly as a camera's would be.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..errors import MediaError

Frames = Iterator[tuple[np.ndarray, float]]


def file_frames(path: str | Path, *, realtime: bool = True, stop: threading.Event | None = None) -> Frames:
    """``(RGB frame, timestamp s)`` of a video file, each yielded no earlier than its time (when ``realtime``).

    Decoding runs ahead in the reader's thread, so a frame is ready on time.

    Raises:
        MediaError: the file cannot be read as a video.
    """
    from ..media import VideoReader, probe

    info = probe(path)
    if info.kind != "video":
        raise MediaError("is an image, not a video; live input needs a video or a camera", path)
    with VideoReader(path, info=info) as reader:
        start: float | None = None
        first = 0.0
        for frame in reader:
            if stop is not None and stop.is_set():
                return
            t = frame.time
            if start is None:
                start, first = time.perf_counter(), t
            if realtime:
                wait = start + (t - first) - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
            yield frame.image, t - first


def camera_frames(index: int = 0, *, width: int | None = None, height: int | None = None,
                  stop: threading.Event | None = None) -> Frames:
    """``(RGB frame, timestamp s)`` from a camera through OpenCV (V4L2 on Linux), as fast as it delivers.

    The camera is opened here, before the first frame is asked for, so a missing one is reported
    before any model loads.

    Raises:
        MediaError: the camera cannot be opened (now) or stops delivering (while iterating).
    """
    import cv2

    if sys.platform.startswith("linux") and not Path(f"/dev/video{index}").exists():
        raise MediaError(f"no camera {index} (/dev/video{index} does not exist)")
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # its own error lines would repeat ours
    try:
        cap = cv2.VideoCapture(index)
    finally:
        cv2.utils.logging.setLogLevel(level)
    if not cap.isOpened():
        cap.release()
        raise MediaError(f"cannot open camera {index} (busy, or not a video capture device)")
    if width:
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
    if height:
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
    return _read_camera(cap, index, stop)


def _read_camera(cap: object, index: int, stop: threading.Event | None) -> Frames:
    import cv2

    try:
        start = time.perf_counter()
        while stop is None or not stop.is_set():
            ok, bgr = cap.read()  # type: ignore[attr-defined]
            if not ok:
                raise MediaError(f"camera {index} stopped delivering frames")
            yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), time.perf_counter() - start
    finally:
        cap.release()  # type: ignore[attr-defined]
