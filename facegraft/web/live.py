"""The Live page: the visitor's own camera, swapped on this server, frame by frame.

Transport is Gradio's own webcam streaming (``gr.Image(sources=["webcam"],
streaming=True)`` and ``.stream``): every ``stream_every`` seconds the browser
sends the camera's current frame as a JPEG, and Gradio hands the handler only
the newest one that has arrived, so a slow server skips frames instead of
queueing them. It needs no extra package, route or script and works wherever
the page does (behind an HTTPS proxy, on a Space); WebRTC with aiortc would add
ten packages and reach only localhost and the LAN without STUN/TURN.
docs/web.md (Live) has the measurement behind the choice.

Each browser tab gets its own :class:`LiveStream`: a
:class:`~facegraft.live.LiveSwapper` (its own face models: mediapipe graphs
are not shared between threads) behind a :class:`~facegraft.live.LiveRunner`,
whose one-frame mailbox drops a frame that arrives while the last one is still
being swapped (the newest wins, latency stays bounded). :class:`LiveRoom` finds
a tab's stream by Gradio's session id; pressing Stop, the stream's time limit,
or closing the tab closes it and frees its threads and models. Swapped frames
go back inline (a JPEG data URL), never through a file: the camera's frames
are never written to disk.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from ..errors import FacegraftError
from ..live import LiveFrame, LiveRunner, LiveSwapper
from .cache import SessionCache

log = logging.getLogger(__name__)

INTRO = ("Choose a photo of the face to put in, then press **Record** under the camera: each frame of your "
         "camera is swapped on this server's CPU and sent back. Nothing is stored: frames go back and forth "
         "in memory and the stream ends when you press Stop or close the tab.")
HTTPS_NOTE = ("A browser lends a page its camera only on `localhost` or over **HTTPS**. Served to other "
              "machines (`facegraft web --host 0.0.0.0`), the page must sit behind an HTTPS proxy, or the "
              "camera button stays greyed out.")
WAITING = "Press **Record** under the camera to start."

#: A stream starting this soon after Stop is the webcam's stray last frame, not a new Record.
STRAY_S = 1.0

SwapperFactory = Callable[[Sequence[str]], LiveSwapper]


@dataclass(frozen=True, kw_only=True)
class LiveSettings:
    """How the Live page streams.

    Attributes:
        stream_every: seconds between two frames the browser sends (1/25 s: the target rate;
            a shorter tick only makes the browser encode frames the server then skips).
        time_limit: seconds one stream may last (it holds a worker), then Record starts a new one.
        wait: longest a request waits for its swapped frame; past it the newest frame so far goes
            back and the late one is dropped when a newer one is ready.
        window: seconds over which the on-screen fps is counted.
        quality: JPEG quality of the frames sent back.
    """

    stream_every: float = 0.04
    time_limit: int = 300
    wait: float = 0.5
    window: float = 5.0
    quality: int = 80


class LiveStream:
    """One visitor's stream: their swapper, its drop-frames runner, and the figures shown on screen.

    Args:
        sources: paths of the photos of the face to put in (the stream is rebuilt when they change).
        swapper: the live swapper (owned: closed with the stream).
        settings: the page's live settings.
        event: what identifies the Gradio stream it belongs to (the request its frames come with).
    """

    def __init__(self, sources: tuple[str, ...], swapper: LiveSwapper, settings: LiveSettings,
                 event: object = None) -> None:
        self.sources = sources
        self.event = event
        self.settings = settings
        self.runner = LiveRunner(swapper, own=True)
        self._sent: deque[float] = deque()
        self._latency: deque[float] = deque(maxlen=600)
        self._shown = self._fallback = 0
        self._last = -1
        self.closed = False

    def step(self, frame: np.ndarray) -> LiveFrame | None:
        """Hand over a camera frame; the newest swapped frame not yet shown, or None if none is ready."""
        self.runner.submit(frame)
        out = self.runner.next_frame(timeout=self.settings.wait)
        if out is None or out.info.index <= self._last:
            return None
        self._last = out.info.index
        return out

    def sent(self, out: LiveFrame) -> None:
        """Count a frame that goes back to the browser (its latency ends here, after encoding)."""
        now = time.perf_counter()
        self._sent.append(now)
        while self._sent and now - self._sent[0] > self.settings.window:
            self._sent.popleft()
        self._latency.append(1000.0 * (now - out.info.received))
        self._shown += 1
        self._fallback += out.info.fallback

    def fps(self) -> float:
        """Frames sent back per second over the last ``window`` seconds."""
        if len(self._sent) < 2:
            return 0.0
        return (len(self._sent) - 1) / max(self._sent[-1] - self._sent[0], 1e-6)

    def status(self) -> str:
        """The line under the stream: fps, latency, frames, drops, fall-backs."""
        lat = np.array(self._latency, np.float64)
        p50, p95 = (np.percentile(lat, [50, 95]) if lat.size else (0.0, 0.0))
        stats = self.runner.stats()
        return (f"**{self.fps():.1f} fps** (last {self.settings.window:g} s) · latency {p50:.0f} ms, "
                f"p95 {p95:.0f} ms (frame received → swapped frame sent) · {self._shown} frames shown · "
                f"{stats.dropped} dropped · {self._fallback} fall-back")

    def close(self) -> str:
        """Stop the runner and release the swapper (its threads and models); the final line."""
        line = self.status()
        self.closed = True
        self.runner.close()
        return line


class LiveRoom:
    """The live streams of all visitors, one per Gradio session.

    Args:
        settings: the page's live settings.
        factory: builds a swapper from photo paths (``LiveSwapper(paths)`` by default).
        cache: Gradio's cached files by session; the photos chosen here are deleted when the tab closes.
    """

    def __init__(self, settings: LiveSettings | None = None, factory: SwapperFactory | None = None, *,
                 cache: SessionCache | None = None) -> None:
        self.settings = settings or LiveSettings()
        #: Gradio's cached copies of the photos a visitor chose here go with their tab, as on the main page.
        self.cache = cache
        self._factory = factory or (lambda paths: LiveSwapper(list(paths)))
        self._streams: dict[str, LiveStream] = {}
        self._failed: dict[str, tuple[tuple[str, ...], str]] = {}
        self._gone: set[str] = set()  # closed tabs: a frame still in flight must not start a new stream
        self._stopped: dict[str, float] = {}  # when each session last pressed Stop
        self._lock = threading.Lock()

    def active(self) -> int:
        """Streams open now."""
        with self._lock:
            return len(self._streams)

    def frame(self, image: np.ndarray | None, photos: Sequence[Any] | None,
              request: gr.Request) -> tuple[Any, Any]:
        """The stream handler: one camera frame in, (swapped frame HTML, status line) out."""
        if image is None:
            return gr.skip(), gr.skip()
        session = getattr(request, "session_hash", None) or "default"
        sources = tuple(str(getattr(p, "name", p)) for p in (photos or []))
        if not sources:
            return gr.skip(), "Choose a photo of the face to put in first."
        if self.cache is not None:
            self.cache.hold(session, sources)
        event = getattr(request, "request", None) or request  # one object for all frames of one stream
        with self._lock:
            if session in self._gone:
                return gr.skip(), gr.skip()
            current = self._streams.get(session)
            stopped = self._stopped.get(session)
        first = current is None or current.event is not event  # the first frame of a stream
        if first and (current is not None or (stopped is not None and time.monotonic() - stopped < STRAY_S)):
            # Gradio's webcam can send a frame captured just before Stop as a new stream, which then
            # waits for frames that never come (holding a worker, the button stuck on "Stop"): end
            # that stream at once, silently.
            raise gr.Error("stray frame after Stop", visible=False, print_exception=False)
        stream: LiveStream | None = None
        try:
            stream = self._stream(session, sources, event)
            if stream is None:
                return gr.skip(), gr.skip()
            out = stream.step(image)
        except FacegraftError as exc:
            self._end(session)
            with self._lock:
                self._failed[session] = (sources, exc.line())
            return gr.skip(), exc.line()
        except Exception as exc:  # end this stream (threads, models) and say so in one line
            if stream is not None and stream.closed:
                return gr.skip(), gr.skip()  # stopped while this frame was on its way: nothing failed
            self._end(session)
            where = "".join(f"\n  {f.filename}:{f.lineno} in {f.name}" for f in traceback.extract_tb(exc.__traceback__))
            log.error("live stream failed: %s (its message is not logged: it may name a visitor's file)%s",
                      type(exc).__name__, where)
            raise gr.Error(f"the live stream stopped: unexpected failure ({type(exc).__name__}); the server "
                           "log has the details", print_exception=False) from exc
        if out is None:
            return gr.skip(), gr.skip()
        html = frame_html(out, self.settings.quality)
        stream.sent(out)
        return html, stream.status()

    def stop(self, request: gr.Request) -> tuple[str, str]:
        """End this visitor's stream (Stop pressed, time limit reached); (cleared frame, final status).

        ``request`` is annotated as plain ``gr.Request``: that is how Gradio knows to pass it.
        """
        session = getattr(request, "session_hash", None) or "default"
        with self._lock:
            self._stopped[session] = time.monotonic()
        line = self._end(session)
        return ("", line) if line != WAITING else (gr.skip(), gr.skip())

    def unload(self, request: gr.Request) -> None:
        """The tab closed or reloaded."""
        session = getattr(request, "session_hash", None) or "default"
        with self._lock:
            self._gone.add(session)
        self._end(session)
        if self.cache is not None:
            self.cache.release(session)

    def close(self) -> None:
        """Stop every stream (the server stops)."""
        with self._lock:
            streams = list(self._streams.values())
            self._streams.clear()
        for stream in streams:
            stream.close()

    def _end(self, session: str) -> str:
        with self._lock:
            stream = self._streams.pop(session, None)
            self._failed.pop(session, None)
        return WAITING if stream is None else "Stopped. " + stream.close()

    def _stream(self, session: str, sources: tuple[str, ...], event: object) -> LiveStream | None:
        """This session's stream, built on its first frame and rebuilt when the photos change.

        None for a tab that has closed (a frame can still be on its way when it does).
        """
        with self._lock:
            if session in self._gone:
                return None
            stream = self._streams.get(session)
            failed = self._failed.get(session)
        if failed is not None and failed[0] == sources:
            raise FacegraftError(failed[1])  # the same photos again: do not rebuild for every frame
        if stream is not None and stream.sources == sources:
            return stream
        if stream is not None:
            stream.close()
        stream = LiveStream(sources, self._factory(sources), self.settings, event)
        with self._lock:
            gone = session in self._gone  # the tab closed while its swapper was being built
            if not gone:
                self._streams[session] = stream
                self._failed.pop(session, None)
        if gone:
            stream.close()
            return None
        return stream


def frame_html(out: LiveFrame, quality: int = 80) -> str:
    """A swapped frame as an ``<img>`` with a JPEG data URL (nothing written to disk).

    The frame's number and whether it was swapped ride along as data attributes, so
    a test (or a curious visitor) can tell frames apart without decoding them.
    """
    import cv2

    ok, jpeg = cv2.imencode(".jpg", out.image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise FacegraftError("could not encode a swapped frame as JPEG")
    data = base64.b64encode(jpeg.tobytes()).decode("ascii")
    info = out.info
    return (f'<img id="live-frame" alt="swapped camera frame" data-frame="{info.index}" '
            f'data-swapped="{int(info.swapped)}" data-fallback="{int(info.fallback)}" '
            f'style="width:100%;height:auto" src="data:image/jpeg;base64,{data}">')


def build_live_page(demo: gr.Blocks, room: LiveRoom, *, example_source: Path | None, concurrency: int) -> None:
    """Lay out the Live page inside ``demo.route(...)`` and wire it.

    A new photo applies from the next frame (the stream is rebuilt for it).

    Args:
        demo: the app's Blocks (for the tab-closed hook).
        room: the visitors' streams.
        example_source: a photo to preload (the page's example), or None.
        concurrency: streams that run at once (each keeps a core busy); the rest wait in the queue.
    """
    settings = room.settings
    gr.Markdown(f"## Live: swap your camera\n{INTRO}")
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=300):
            photos = gr.File(value=[str(example_source)] if example_source else None, file_count="multiple",
                             file_types=["image"], label="1. Photos of the face to put in",
                             elem_id="live-sources")
            gr.Markdown(HTTPS_NOTE, elem_id="live-https")
        with gr.Column(scale=2, min_width=320):
            camera = gr.Image(sources=["webcam"], streaming=True, type="numpy", label="2. Your camera",
                              elem_id="live-camera", webcam_options=gr.WebcamOptions(
                                  mirror=False, constraints={"video": {"width": 640, "height": 480}}))
        with gr.Column(scale=2, min_width=320):
            shown = gr.HTML(label="Swapped", elem_id="live-output", min_height=240)
    status = gr.Markdown(WAITING, elem_id="live-status")
    stream = camera.stream(room.frame, [camera, photos], [shown, status], stream_every=settings.stream_every,
                           time_limit=settings.time_limit, concurrency_limit=concurrency,
                           concurrency_id="live", show_progress="hidden")
    stream.then(room.stop, None, [shown, status])
    demo.unload(room.unload)
