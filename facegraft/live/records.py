"""Small records of the live path: one per frame, and the running figures of a stream."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class FrameInfo:
    """What happened to one live frame.

    Attributes:
        index: the frame's number among the frames the swapper processed (0 = first).
        timestamp: the frame's time in its stream, in seconds (a file's pts, or the clock).
        received: ``time.perf_counter()`` when the frame arrived (handed to the runner or swapper).
        started: ``time.perf_counter()`` when its processing started (``started - received``: time
            spent waiting in the runner's mailbox).
        done: ``time.perf_counter()`` when the swapped frame was ready.
        latency_ms: ``done - received`` in milliseconds (time in the mailbox included).
        face_found: the face to replace was in view (detected, or its track bridged a short miss):
            any face without reference photos, the one matching them with them.
        swapped: the chosen face was replaced in this frame.
        dropped: frames dropped by the runner so far (newer frames arrived first).
        held: the face was not re-detected in this frame and was painted at its last landmarks.
    """

    index: int
    timestamp: float
    received: float
    started: float
    done: float
    latency_ms: float
    face_found: bool
    swapped: bool
    dropped: int = 0
    held: bool = False

    @property
    def fallback(self) -> bool:
        """A face was in view but the frame went out unswapped (the original face showed)."""
        return self.face_found and not self.swapped


@dataclass(frozen=True, slots=True)
class LiveFrame:
    """A swapped frame with its :class:`FrameInfo`.

    Attributes:
        image: RGB uint8 HxWx3, the output frame (a new array; the input is not modified).
        info: what happened to it.
        landmarks: (478, 3) float32 landmarks the face was painted at (None when not swapped).
    """

    image: np.ndarray
    info: FrameInfo
    landmarks: np.ndarray | None = None


@dataclass(frozen=True, slots=True)
class LiveStats:
    """Running figures of a live stream (:meth:`~facegraft.live.runner.LiveRunner.stats`).

    Attributes:
        received: frames handed to the runner.
        processed: frames swapped (or passed through) and delivered.
        dropped: frames replaced in the mailbox by a newer one before they were processed.
        swapped: delivered frames with the face replaced.
        fallback: delivered frames with a face in view but not replaced.
        fps: delivered frames per second of wall time since the first frame arrived.
        latency_p50_ms: median latency (received -> ready) of the delivered frames.
        latency_p95_ms: 95th percentile of the same.
        latency_max_ms: the largest.
    """

    received: int = 0
    processed: int = 0
    dropped: int = 0
    swapped: int = 0
    fallback: int = 0
    fps: float = 0.0
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    latency_max_ms: float | None = None

    def line(self) -> str:
        """A one-line status: fps, latency, drops, fall-backs."""
        p95 = "-" if self.latency_p95_ms is None else f"{self.latency_p95_ms:.0f}"
        p50 = "-" if self.latency_p50_ms is None else f"{self.latency_p50_ms:.0f}"
        return (f"{self.fps:5.1f} fps  latency p50 {p50} ms p95 {p95} ms  frames {self.processed}/"
                f"{self.received}  dropped {self.dropped}  swapped {self.swapped}  fall-back {self.fallback}")
