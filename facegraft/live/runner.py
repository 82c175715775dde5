"""Drop frames rather than lag: a one-slot mailbox in front of a :class:`LiveSwapper`.

A camera does not wait. If each frame were queued, one slow frame (a full
detection, a busy core) would delay every later one and the latency would
grow without bound. :class:`LiveRunner` keeps a mailbox of one frame: a
frame that arrives while the worker is busy replaces the one waiting there
(which is counted as dropped), so the worker always takes the newest frame
and the latency stays about one frame's processing time.

Example:
    >>> with LiveRunner(swapper, on_frame=show) as runner:  # doctest: +SKIP
    ...     for image in camera:
    ...         runner.submit(image)
    ...     print(runner.stats().line())
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

import numpy as np

from .records import LiveFrame, LiveStats
from .swapper import LiveSwapper, Pending

#: Latencies kept for the percentiles (the last ~20 minutes at 30 fps).
WINDOW = 36000


class LiveRunner:
    """Runs a :class:`LiveSwapper` in a worker thread on the newest submitted frame.

    Args:
        swapper: the live swapper (closed by :meth:`close` when ``own`` is set).
        on_frame: called in the worker thread with each :class:`LiveFrame` as it is ready
            (keep it short: it delays the next frame).
        own: close the swapper with the runner.
        pipelined: finish frame n (colour, blend, ``on_frame``) in a second thread while frame
            n+1 is analysed, as the offline render does: more frames a second on two cores, about
            the same latency per frame.
    """

    def __init__(self, swapper: LiveSwapper, *, on_frame: Callable[[LiveFrame], None] | None = None,
                 own: bool = False, pipelined: bool = True) -> None:
        self.swapper = swapper
        self.on_frame = on_frame
        self.own = own
        self._cond = threading.Condition()
        self._slot: tuple[np.ndarray, float, float | None] | None = None
        self._latest: LiveFrame | None = None
        self._served = -1
        self._stop = False
        self._busy = 0  # frames taken from the mailbox and not yet delivered
        self._error: BaseException | None = None
        self._received = self._dropped = self._processed = self._swapped = self._fallback = 0
        self._first: float | None = None
        self._last_done: float | None = None
        self._latency: deque[float] = deque(maxlen=WINDOW)
        self._ready: Pending | None = None  # analysed, waiting for the finishing thread
        self._analysed_all = False
        self._thread = threading.Thread(target=self._run, name="facegraft-live", daemon=True)
        self._finisher = (threading.Thread(target=self._run_finish, name="facegraft-live-finish", daemon=True)
                          if pipelined else None)
        self._thread.start()
        if self._finisher is not None:
            self._finisher.start()

    # ------------------------------------------------------------------ feeding
    def submit(self, frame_rgb: np.ndarray, *, timestamp: float | None = None) -> None:
        """Hand over a frame (RGB uint8); it replaces a frame still waiting, which is dropped.

        The array must not be modified afterwards (it is not copied here).

        Raises:
            The worker's error, if processing failed (then the runner has stopped).
        """
        now = time.perf_counter()
        with self._cond:
            if self._error is not None:
                raise self._error
            if self._stop:
                raise RuntimeError("the live runner is closed")
            if self._first is None:
                self._first = now
            self._received += 1
            if self._slot is not None:
                self._dropped += 1
            self._slot = (frame_rgb, now, timestamp)
            self._cond.notify_all()

    def latest(self) -> LiveFrame | None:
        """The newest processed frame (None before the first)."""
        with self._cond:
            return self._latest

    def next_frame(self, timeout: float | None = None) -> LiveFrame | None:
        """Wait for a processed frame newer than the one this method returned last (None on timeout)."""
        deadline = None if timeout is None else time.perf_counter() + timeout
        with self._cond:
            while self._latest is None or self._latest.info.index <= self._served:
                if self._error is not None:
                    raise self._error
                if self._stop:
                    return None
                left = None if deadline is None else deadline - time.perf_counter()
                if left is not None and left <= 0:
                    return None
                self._cond.wait(left)
            self._served = self._latest.info.index
            return self._latest

    def drain(self, timeout: float = 10.0) -> None:
        """Wait until the mailbox is empty and the worker idle (the end of a file)."""
        deadline = time.perf_counter() + timeout
        with self._cond:
            while (self._slot is not None or self._busy) and self._error is None and not self._stop:
                left = deadline - time.perf_counter()
                if left <= 0:
                    return
                self._cond.wait(left)

    # ------------------------------------------------------------------ figures
    def stats(self) -> LiveStats:
        """The figures so far (fps over the wall time since the first frame arrived)."""
        with self._cond:
            lat = np.array(self._latency, np.float64)
            span = (self._last_done or 0.0) - (self._first or 0.0)
            fps = (self._processed - 1) / span if self._processed > 1 and span > 0 else 0.0
            pct = (lambda q: float(np.percentile(lat, q))) if lat.size else (lambda q: None)
            return LiveStats(received=self._received, processed=self._processed, dropped=self._dropped,
                             swapped=self._swapped, fallback=self._fallback, fps=fps, latency_p50_ms=pct(50),
                             latency_p95_ms=pct(95), latency_max_ms=float(lat.max()) if lat.size else None)

    # ------------------------------------------------------------------ life cycle
    def close(self) -> LiveStats:
        """Stop the worker (a frame being processed is finished) and return the final figures."""
        with self._cond:
            self._stop = True
            self._slot = None  # an analysed frame still waiting is finished; a new one is not taken
            self._cond.notify_all()
        for thread in (self._thread, self._finisher):
            if thread is not None and thread.is_alive() and threading.current_thread() is not thread:
                thread.join()
        if self.own:
            self.swapper.close()
        return self.stats()

    def __enter__(self) -> LiveRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _fail(self, exc: BaseException) -> None:
        with self._cond:
            self._error, self._busy = exc, 0
            self._cond.notify_all()

    def _run(self) -> None:
        """The first stage: the newest frame from the mailbox -> detect, track, smooth, occlusion.

        Pipelined, it takes a frame only once the finishing thread has taken the previous one, so
        an analysed frame never waits behind another and the frame taken is as new as can be.
        """
        try:
            while True:
                with self._cond:
                    while (self._slot is None or self._ready is not None) and not self._stop:
                        self._cond.wait()
                    if self._stop:
                        return
                    assert self._slot is not None
                    image, received, timestamp = self._slot
                    self._slot = None
                    self._busy += 1
                    dropped = self._dropped
                pending = self.swapper.analyse(image, timestamp=timestamp, received=received, dropped=dropped)
                if self._finisher is None:
                    self._deliver(self.swapper.finish(pending))
                    continue
                with self._cond:
                    self._ready = pending
                    self._cond.notify_all()
        except BaseException as exc:  # handed to the feeding thread by submit()/next_frame()
            self._fail(exc)
        finally:
            with self._cond:
                self._analysed_all = True
                self._cond.notify_all()

    def _run_finish(self) -> None:
        """The second stage: the renderer and delivery (in order), while the next frame is analysed."""
        while True:
            with self._cond:
                while self._ready is None and not self._analysed_all:
                    self._cond.wait()
                if self._ready is None:
                    return
                pending, self._ready = self._ready, None
                self._cond.notify_all()
            try:
                self._deliver(self.swapper.finish(pending))
            except BaseException as exc:
                self._fail(exc)
                return

    def _deliver(self, out: LiveFrame) -> None:
        if self.on_frame is not None:
            self.on_frame(out)
        with self._cond:
            self._busy -= 1
            self._latest = out
            self._processed += 1
            self._swapped += out.info.swapped
            self._fallback += out.info.fallback
            self._latency.append(out.info.latency_ms)
            self._last_done = out.info.done
            self._cond.notify_all()
