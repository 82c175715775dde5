"""What a media file holds, read once: :func:`probe` and :class:`MediaInfo`.

Every way a user's file can be unusable (missing, empty, not media, truncated,
no frames, a codec we cannot decode) is turned here into one
:class:`~facegraft.errors.MediaError` line naming the file, so the reader, the
pipeline and the front ends never see a raw PyAV exception.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av

from ..errors import MediaError
from .limits import FrameLimits

#: Suffixes read as still images (through Pillow) rather than as video.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"})


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """A media file's essentials.

    Attributes:
        path: the file.
        kind: ``"video"`` or ``"image"``.
        width: width of the picture as displayed (after rotation).
        height: height of the picture as displayed (after rotation).
        rotation: clockwise degrees (0, 90, 180, 270) the stored picture must be
            turned to be upright, as flagged by the display matrix (or EXIF for
            images); the reader applies it, so frames come out ``width x height``.
        fps: average frame rate (frames / duration); 0 for images.
        time_base: the video stream's time base (unit of the frames' pts).
        frame_count: number of video frames (1 for images).
        duration: seconds of video (0 for images).
        has_audio: whether there is an audio stream.
        audio_codec: its codec name (``"aac"``, ``"pcm_s16le"``...), or None.
        video_codec: the video codec name (``"h264"``...), or the image format.
        start_time: pts of the first video frame in seconds (often 0).
        tags: the container's metadata tags (``comment``, ``synthetic``...).
    """

    path: Path
    kind: Literal["video", "image"]
    width: int
    height: int
    rotation: int
    fps: float
    time_base: Fraction
    frame_count: int
    duration: float
    has_audio: bool
    audio_codec: str | None
    video_codec: str
    start_time: float = 0.0
    tags: dict[str, str] = field(default_factory=dict, compare=False)


def is_image(path: str | Path) -> bool:
    """Whether a path names a still image (by its suffix)."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def check_readable(path: str | Path) -> Path:
    """The path as a :class:`Path`, or a MediaError if it is missing, not a file, or empty."""
    p = Path(path)
    if not p.exists():
        raise MediaError("file not found", p)
    if not p.is_file():
        raise MediaError("not a file", p)
    if p.stat().st_size == 0:
        raise MediaError("file is empty (0 bytes)", p)
    return p


def open_input(path: str | Path) -> av.container.InputContainer:
    """Open a media file for reading, with failures turned into one-line MediaErrors."""
    p = check_readable(path)
    try:
        return av.open(str(p), mode="r")
    except av.error.InvalidDataError as exc:
        raise MediaError(f"not a readable media file: damaged, truncated or not media ({_reason(exc)})",
                         p) from exc
    except av.error.FFmpegError as exc:
        raise MediaError(f"cannot open media: {_reason(exc)}", p) from exc


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).splitlines()[0] if text else type(exc).__name__


def clockwise_rotation(frame: av.VideoFrame) -> int:
    """Clockwise degrees (0/90/180/270) that turn a decoded frame upright.

    FFmpeg attaches the stream's display matrix to each decoded frame and
    reports its counter-clockwise angle (ffprobe shows ``rotation of -90.00
    degrees`` for a phone clip shot in portrait); the old ``rotate=90`` tag is
    its clockwise opposite, which is what we report and apply.
    """
    angle = frame.rotation or 0
    return round(-angle / 90.0) * 90 % 360


def codec_name(stream: av.stream.Stream) -> str:
    """The codec's canonical name (``mp3``, not the decoder's ``mp3float``)."""
    return stream.codec_context.codec.canonical_name


def video_stream(container: av.container.InputContainer, path: Path) -> av.video.stream.VideoStream:
    """The first video stream, checked to have a decoder."""
    if not container.streams.video:
        raise MediaError("has no video stream", path)
    vs = container.streams.video[0]
    if vs.codec_context is None:  # PyAV leaves it unset when FFmpeg knows no decoder
        raise MediaError("unsupported video codec: no decoder for it in this FFmpeg build", path)
    return vs


def probe(path: str | Path, *, limits: FrameLimits | None = None) -> MediaInfo:
    """Read a media file's size, rotation, timing and audio facts.

    Videos are opened with PyAV and the first frame is decoded (to learn the
    display rotation FFmpeg attaches to frames and to prove the stream
    decodes); images are opened with Pillow. The frame count comes from the
    container index, or from counting packets when the container has none
    (WebM/MKV) so that it is exact either way.

    Example:
        >>> info = probe("clip.mp4")  # doctest: +SKIP
        >>> info.width, info.height, info.frame_count, info.has_audio  # doctest: +SKIP
        (1280, 720, 312, True)

    ``limits`` refuses frames too large from the size the header declares,
    before anything is decoded (a decompression bomb costs nothing).

    Raises:
        MediaError: the file is missing, empty, not media, truncated, has no
            frames, uses a codec that cannot be decoded, or its frames exceed ``limits``.
    """
    p = check_readable(path)
    if is_image(p):
        from .images import probe_image

        return probe_image(p, limits=limits)
    try:
        return _probe_video(p, limits)
    except av.error.FFmpegError as exc:  # a damaged file can fail anywhere (seek, index, decode)
        raise MediaError(f"cannot read video: damaged or truncated ({_reason(exc)})", p) from exc
    except UnicodeDecodeError as exc:  # PyAV decodes tags as UTF-8: a damaged header breaks them
        raise MediaError("cannot read video: its metadata is damaged (not valid text)", p) from exc


def _probe_video(p: Path, limits: FrameLimits | None = None) -> MediaInfo:
    with open_input(p) as container:
        vs = video_stream(container, p)
        if limits is not None and vs.codec_context.width and vs.codec_context.height:
            limits.check(vs.codec_context.width, vs.codec_context.height, p)
        check_not_truncated(vs, p)
        frame_count = shown_frames(container, vs) or count_packets(container, vs, p)
        if frame_count <= 0:
            raise MediaError("video has no frames", p)
        container.seek(0)
        first = first_frame(container, vs, p)
        if limits is not None:  # a header without a size: checked on the first frame
            limits.check(first.width, first.height, p)
        rotation = clockwise_rotation(first)
        tb = Fraction(vs.time_base) if vs.time_base else Fraction(1, 90000)
        duration = _duration(container, vs, tb, frame_count)
        fps = frame_count / duration if duration > 0 else float(vs.guessed_rate or vs.average_rate or 25)
        audio = container.streams.audio[0] if container.streams.audio else None
        width, height = vs.codec_context.width, vs.codec_context.height
        if rotation in (90, 270):
            width, height = height, width
        start = float(first.pts * tb) if first.pts is not None else 0.0
        return MediaInfo(path=p, kind="video", width=width, height=height, rotation=rotation, fps=fps,
                         time_base=tb, frame_count=frame_count, duration=duration, has_audio=audio is not None,
                         audio_codec=codec_name(audio) if audio is not None else None,
                         video_codec=codec_name(vs), start_time=start,
                         tags=dict(container.metadata))


def _duration(container: av.container.InputContainer, vs: av.video.stream.VideoStream, tb: Fraction,
              frame_count: int) -> float:
    if vs.duration:
        return float(vs.duration * tb)
    if container.duration:
        return container.duration / av.time_base
    rate = vs.average_rate or vs.guessed_rate
    return float(frame_count / rate) if rate else 0.0


def check_not_truncated(vs: av.video.stream.VideoStream, path: Path) -> None:
    """Raise if the container's index points past the end of the file (a cut-off download)."""
    entries = vs.index_entries
    n = len(entries)
    if n == 0:  # not every demuxer keeps an index
        return
    last = entries[n - 1]
    size = os.path.getsize(path)
    if last.pos >= 0 and last.pos + last.size > size:
        raise MediaError(f"file is truncated: {size} bytes, but its index expects at least "
                         f"{last.pos + last.size}", path)


def shown_frames(container: av.container.InputContainer, vs: av.video.stream.VideoStream) -> int:
    """MP4/MOV's frame count from its per-sample index, less samples an edit list hides (0 elsewhere).

    ``nb_frames`` counts every stored sample, but FFmpeg drops the ones an edit
    list cuts out, and the index marks them. Other containers' headers are
    unreliable (AVI counts time-base ticks, MKV has no count), so they return 0
    and the caller counts packets instead.
    """
    if "mp4" not in container.format.name.split(",") or not vs.frames:
        return 0
    entries = vs.index_entries
    if len(entries) != vs.frames:
        return vs.frames
    return sum(1 for i in range(len(entries)) if not entries[i].is_discard)


def count_packets(container: av.container.InputContainer, vs: av.video.stream.VideoStream, path: Path) -> int:
    """Count video packets by demuxing (no decoding); exact where the header has no frame count."""
    n = 0
    try:
        for packet in container.demux(vs):
            if packet.size:
                n += 1
    except av.error.FFmpegError as exc:
        raise MediaError(f"cannot read video packets ({_reason(exc)})", path) from exc
    return n


def first_frame(container: av.container.InputContainer, vs: av.video.stream.VideoStream,
                path: Path) -> av.VideoFrame:
    """Decode the first frame, or raise a MediaError saying why it cannot be."""
    try:
        for frame in container.decode(vs):
            return frame
    except av.error.FFmpegError as exc:
        raise MediaError(f"cannot decode video ({_reason(exc)})", path) from exc
    raise MediaError("video has no decodable frames", path)
