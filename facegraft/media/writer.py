"""Streaming video encode: :class:`VideoWriter` takes RGB frames with their pts.

Frames are handed to an encode thread through a bounded queue (RGB->YUV
conversion, the encoder and the muxer run there, overlapping the caller's
work). Each frame keeps the pts and time base it came with, so the output has
the input's timing, variable frame rate included, and exactly as many frames.
The source's audio is copied (or transcoded when the container cannot hold it)
and interleaved as the video is written. Output goes to a temporary file that
is renamed only when complete.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Literal

import av
import cv2
import numpy as np

from ..errors import MediaError, OptionsError
from .atomic import SYNTHETIC_TAGS, AtomicOutput
from .audio import AudioTrack
from .probe import MediaInfo, _reason, open_input

VideoCodec = Literal["h264", "h265", "vp9"]

#: Encoder per codec name.
ENCODERS: dict[str, str] = {"h264": "libx264", "h265": "libx265", "vp9": "libvpx-vp9"}
_MAX_CRF = {"h264": 51, "h265": 51, "vp9": 63}
#: x264-style presets mapped onto libvpx's cpu-used speed (0 slowest ... 8 fastest).
_VP9_SPEED = {"ultrafast": 8, "superfast": 7, "veryfast": 6, "faster": 5, "fast": 4, "medium": 3, "slow": 2,
              "slower": 1, "veryslow": 0}
_CONTAINERS = {".mp4": ("h264", "h265", "vp9"), ".m4v": ("h264", "h265"), ".mov": ("h264", "h265"),
               ".mkv": ("h264", "h265", "vp9"), ".webm": ("vp9",)}


def output_suffix(codec: str) -> str:
    """The usual file suffix for a codec: ``.webm`` for VP9 (with Opus audio), ``.mp4`` otherwise."""
    return ".webm" if codec == "vp9" else ".mp4"


def has_audio(path: str | Path) -> bool:
    """Whether a media file has an audio stream."""
    with open_input(path) as container:
        return bool(container.streams.audio)


_END = object()


class VideoWriter:
    """Encode RGB frames into a video file, atomically, with the source's audio.

    Odd widths or heights (which 4:2:0 H.264/H.265 cannot encode) are padded
    by one pixel, repeating the last column/row, so the whole picture is kept
    and the output is at most one pixel larger; VP9 encodes odd sizes as they are.

    Example:
        >>> info = probe("in.mp4")  # doctest: +SKIP
        >>> with VideoReader("in.mp4") as reader, VideoWriter("out.mp4", like=info,
        ...                                                   audio_from="in.mp4") as writer:
        ...     for frame in reader:
        ...         writer.write(frame.image, pts=frame.pts, time_base=frame.time_base)

    Args:
        output: the file to create; its suffix picks the container (.mp4, .mov,
            .mkv, .webm).
        like: the input's MediaInfo: default time base and frame rate.
        codec: ``h264`` (default), ``h265`` or ``vp9``.
        crf: constant rate factor (lower is better quality, bigger file).
        preset: x264/x265 speed preset (mapped to cpu-used for VP9).
        fps: force a constant frame rate (frame i at i/fps); None keeps each frame's pts.
        audio_from: file whose audio is carried over; None for no audio.
        audio_span: (start, end) seconds of that audio to keep; None for all of it.
        overwrite: replace an existing output; otherwise a MediaError is raised.
        metadata: extra container tags (added to the synthetic-media tags).
        threads: encoder threads (0 = automatic).
        queue_size: frames waiting for the encode thread.

    Raises:
        MediaError: the output exists, cannot be written, or encoding fails.
        OptionsError: a codec/container/crf combination that cannot work.
    """

    def __init__(self, output: str | Path, *, like: MediaInfo | None = None, codec: VideoCodec = "h264",
                 crf: int = 18, preset: str = "veryfast", fps: float | None = None,
                 audio_from: str | Path | None = None, audio_span: tuple[float, float] | None = None,
                 overwrite: bool = False, metadata: Mapping[str, str] | None = None, threads: int = 0,
                 queue_size: int = 8) -> None:
        self.output = Path(output)
        if codec not in ENCODERS:
            raise OptionsError(f"unknown codec {codec!r}; choose one of {', '.join(ENCODERS)}")
        suffix = self.output.suffix.lower()
        if suffix not in _CONTAINERS:
            raise MediaError(f"unsupported output type {suffix or '(none)'}; use {', '.join(_CONTAINERS)}",
                             self.output)
        if codec not in _CONTAINERS[suffix]:
            raise OptionsError(f"codec {codec} cannot go in a {suffix} file (use {output_suffix(codec)})")
        if not 0 <= crf <= _MAX_CRF[codec]:
            raise OptionsError(f"crf {crf} is outside [0, {_MAX_CRF[codec]}] for {codec}")
        if fps is not None and fps <= 0:
            raise OptionsError(f"fps must be positive, not {fps}")
        self.codec, self.crf, self.preset, self.fps = codec, crf, preset, fps
        self.like = like
        self.audio_from = None if audio_from is None else Path(audio_from)
        self.audio_span = audio_span
        self.metadata = {**SYNTHETIC_TAGS, **(metadata or {})}
        self.threads = threads
        self._atomic = AtomicOutput(self.output, overwrite=overwrite)
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max(1, queue_size))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._container: av.container.OutputContainer | None = None
        self._stream: av.video.stream.VideoStream | None = None
        self._audio: AudioTrack | None = None
        self._tb = Fraction(1, 25)
        self._step = 1
        self._last_pts: int | None = None
        self._closed = False
        self.frames_written = 0
        #: True/False once known: whether the audio was copied bit-exact; None without audio.
        self.audio_copied: bool | None = None
        #: (width, height) actually encoded (odd sizes padded by one for H.264/H.265).
        self.encoded_size: tuple[int, int] | None = None

    # -- context manager ----------------------------------------------------------------------------
    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc is None:
            self.close()
        else:
            self.abort(exc)

    # -- public -------------------------------------------------------------------------------------
    def write(self, image: np.ndarray, *, pts: int | None = None, time_base: Fraction | None = None) -> None:
        """Queue one RGB uint8 HxWx3 frame for encoding.

        Args:
            image: the frame, RGB; every frame must have the first frame's size.
            pts: its presentation timestamp (in ``time_base`` units); None for the
                next slot at the frame rate. Ignored when the writer has a fixed fps.
            time_base: unit of ``pts``; defaults to ``like.time_base``.
        """
        if self._closed:
            raise MediaError("write after close", self.output)
        self._raise_worker_error()
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an RGB uint8 HxWx3 image, got {image.dtype} {image.shape}")
        if self._container is None:
            self._open(image, pts, time_base)
        elif image.shape[:2] != self._shape:
            raise MediaError(f"frame {self.frames_written} is {image.shape[1]}x{image.shape[0]}, the video is "
                             f"{self._shape[1]}x{self._shape[0]}", self.output)
        item = (image, self._next_pts(pts, time_base))
        while True:
            try:
                self._queue.put(item, timeout=0.1)
                break
            except queue.Full:
                self._raise_worker_error()
        self.frames_written += 1

    def close(self) -> Path:
        """Finish encoding, write the audio tail and move the file into place."""
        if self._closed:
            return self.output
        try:
            if self._container is None:
                raise MediaError("no frames were written", self.output)
            assert self._thread is not None
            while self._thread.is_alive():
                try:
                    self._queue.put(_END, timeout=0.1)
                    break
                except queue.Full:
                    continue
            self._thread.join()
            self._raise_worker_error()
        except BaseException as exc:
            self.abort(exc)
            raise
        self._closed = True
        return self._atomic.commit()

    def abort(self, exc: BaseException | None = None) -> None:
        """Stop, and remove the partial file (the destination is left untouched)."""
        self._closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        try:
            self._release()
        except (av.error.FFmpegError, OSError) as err:  # the original error is the one to report
            if exc is not None:
                exc.add_note(f"(while discarding {self._atomic.tmp}: {err})")
        finally:
            self._atomic.discard()

    # -- setup --------------------------------------------------------------------------------------
    def _open(self, image: np.ndarray, pts: int | None, time_base: Fraction | None) -> None:
        h, w = image.shape[:2]
        self._shape = (h, w)
        pad = self.codec != "vp9"
        ew, eh = (w + (w & 1), h + (h & 1)) if pad else (w, h)
        self.encoded_size = (ew, eh)
        rate = self._rate()
        if self.fps is not None:
            self._tb = 1 / rate
        elif pts is not None:
            tb = time_base if time_base is not None else (self.like.time_base if self.like else None)
            if tb is None:
                raise ValueError("pts given without a time_base (and no like=MediaInfo to take it from)")
            self._tb = Fraction(tb)
        else:
            self._tb = 1 / rate
        self._step = max(1, round(1 / (rate * self._tb)))
        try:
            self._container = av.open(str(self._atomic.tmp), mode="w", options=self._container_options())
        except (av.error.FFmpegError, OSError) as exc:
            raise MediaError(f"cannot create output ({_reason(exc)})", self.output) from exc
        try:
            self._container.metadata.update(self.metadata)
            self._stream = self._add_video_stream(ew, eh, rate)
            if self.audio_from is not None and has_audio(self.audio_from):
                self._audio = AudioTrack(self.audio_from, self._container, span=self.audio_span)
                self.audio_copied = self._audio.copied
        except BaseException:
            self._release()
            self._atomic.discard()
            raise
        self._thread = threading.Thread(target=self._run, name="facegraft-encode", daemon=True)
        self._thread.start()

    def _rate(self) -> Fraction:
        fps = self.fps or (self.like.fps if self.like is not None and self.like.fps > 0 else 25.0)
        # A few frames spread over days (a hostile or broken file) average under 1/1001 fps,
        # which limit_denominator rounds to 0: the stream is declared 1 fps, the pts keep the real timing.
        return max(Fraction(fps).limit_denominator(1001), Fraction(1))

    def _container_options(self) -> dict[str, str]:
        if self.output.suffix.lower() in (".mp4", ".m4v", ".mov"):
            # faststart: index at the front so the file plays while downloading;
            # use_metadata_tags: keep custom keys (synthetic=1) that iTunes-style tags drop.
            return {"movflags": "+faststart+use_metadata_tags"}
        return {}

    def _add_video_stream(self, width: int, height: int, rate: Fraction) -> av.video.stream.VideoStream:
        assert self._container is not None
        stream = self._container.add_stream(ENCODERS[self.codec], rate=rate)
        cc = stream.codec_context
        cc.width, cc.height, cc.pix_fmt = width, height, "yuv420p"
        stream.time_base = self._tb
        cc.time_base = self._tb
        cc.thread_count = self.threads
        # Frames are converted with the BT.601 matrix (limited range): say so, or
        # players guess BT.709 for HD and shift the colours.
        cc.colorspace, cc.color_range = 6, 1
        if self.codec == "vp9":
            cc.options = {"crf": str(self.crf), "b": "0", "deadline": "good", "row-mt": "1",
                          "cpu-used": str(_VP9_SPEED.get(self.preset, 4))}
        else:
            cc.options = {"crf": str(self.crf), "preset": self.preset}
            if self.codec == "h265":
                cc.options = {**cc.options, "x265-params": "log-level=error"}
                cc.codec_tag = "hvc1"  # plays in QuickTime/Safari
        return stream

    def _next_pts(self, pts: int | None, time_base: Fraction | None) -> int:
        if self.fps is not None:
            out = self.frames_written
        elif pts is None:
            out = 0 if self._last_pts is None else self._last_pts + self._step
        else:
            tb = Fraction(time_base) if time_base is not None else self._tb
            out = pts if tb == self._tb else round(pts * tb / self._tb)
        if self._last_pts is not None and out <= self._last_pts:
            out = self._last_pts + 1  # encoders need strictly increasing pts
        self._last_pts = out
        return out

    # -- encode thread ------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    item = self._queue.get(timeout=0.1)
                except queue.Empty:
                    continue
                if item is _END:
                    self._finish()
                    return
                image, pts = item  # type: ignore[misc]
                self._encode(self._to_frame(image, pts))
        except av.error.FFmpegError as exc:
            hint = ""
            if isinstance(exc, av.error.PatchWelcomeError) and self.output.suffix.lower() in (".mp4", ".m4v", ".mov"):
                hint = "; MP4 cannot hold frames this far apart, MKV can (write .mkv)"
            self._error = MediaError(f"encoding failed ({_reason(exc)}){hint}", self.output)
            self._error.__cause__ = exc
        except BaseException as exc:  # re-raised in the caller's thread
            self._error = exc

    def _to_frame(self, image: np.ndarray, pts: int) -> av.VideoFrame:
        assert self.encoded_size is not None
        ew, eh = self.encoded_size
        h, w = image.shape[:2]
        if (ew, eh) != (w, h):
            image = cv2.copyMakeBorder(image, 0, eh - h, 0, ew - w, cv2.BORDER_REPLICATE)
        if ew % 2 == 0 and eh % 2 == 0:
            # OpenCV's I420 conversion is ~5x faster than swscale's rgb24->yuv420p. Where PyAV can read
            # the size back from the array (height a multiple of 4), the frame wraps the array instead
            # of copying it (the encoder copies the picture into its own buffers).
            yuv = cv2.cvtColor(image, cv2.COLOR_RGB2YUV_I420)
            wrap = av.VideoFrame.from_numpy_buffer if eh % 4 == 0 else av.VideoFrame.from_ndarray
            frame = wrap(yuv, format="yuv420p")
        else:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24").reformat(
                format="yuv420p", dst_colorspace="itu601")
        frame.pts = pts
        frame.time_base = self._tb
        return frame

    def _encode(self, frame: av.VideoFrame | None) -> None:
        assert self._stream is not None and self._container is not None
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
            if self._audio is not None and packet.dts is not None:
                self._audio.mux_until(float(packet.dts * packet.time_base))

    def _finish(self) -> None:
        self._encode(None)
        if self._audio is not None:
            self._audio.finish()
        self._release()

    def _release(self) -> None:
        audio, container = self._audio, self._container
        self._audio = self._container = None
        try:
            if audio is not None:
                audio.close()
        finally:
            if container is not None:
                container.close()

    def _raise_worker_error(self) -> None:
        if self._error is not None:
            err, self._error = self._error, None
            raise err
