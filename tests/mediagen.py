"""Problem media generated with PyAV for the tests (VFR, rotated, odd size, PCM, broken files...).

Each function writes one small file into a given folder and returns its path.
Frames carry a pattern that is asymmetric (a bright block in the top-left
corner, a colour gradient) so rotation and orientation mistakes show, and that
changes per frame so frame order is checkable.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image


def pattern(index: int, width: int, height: int) -> np.ndarray:
    """RGB test frame: gradient, a moving bar, a white block at the top-left corner."""
    y, x = np.mgrid[0:height, 0:width]
    image = np.zeros((height, width, 3), np.uint8)
    image[..., 0] = (x * 255 // max(1, width - 1)).astype(np.uint8)
    image[..., 1] = (y * 255 // max(1, height - 1)).astype(np.uint8)
    image[..., 2] = (index * 37) % 256
    bar = (index * 7) % width
    image[:, bar:bar + 4] = (0, 0, 0)
    image[: max(2, height // 5), : max(2, width // 4)] = 255
    return image


def _audio_frames(codec_ctx: av.AudioCodecContext, seconds: float, rate: int, fmt: str,
                  layout: str) -> list[av.AudioFrame]:
    """A 440 Hz tone cut into the codec's frame size."""
    size = codec_ctx.frame_size or 1024
    total = int(seconds * rate)
    frames = []
    channels = 2 if layout == "stereo" else 1
    for start in range(0, total, size):
        n = min(size, total - start)
        t = (np.arange(start, start + n) / rate)[None, :]
        wave = np.repeat(0.3 * np.sin(2 * np.pi * 440 * t), channels, axis=0)
        if fmt == "s16":
            data = (wave * 32767).astype(np.int16).T.reshape(1, -1)
        elif fmt == "fltp":
            data = wave.astype(np.float32)
        else:
            data = (wave * 32767).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(data, format=fmt, layout=layout)
        frame.sample_rate = rate
        frame.pts = start
        frame.time_base = Fraction(1, rate)
        frames.append(frame)
    return frames


_AUDIO = {  # codec -> (sample format, rate)
    "aac": ("fltp", 44100),
    "libmp3lame": ("s16p", 44100),
    "pcm_s16le": ("s16", 48000),
    "libopus": ("s16", 48000),
}


def make_clip(path: Path, *, width: int = 64, height: int = 48, frames: int = 24,
              pts: Sequence[int] | None = None, time_base: Fraction = Fraction(1, 1000), fps: int = 25,
              codec: str = "libx264", audio: str | None = "aac", rotation: int = 0,
              options: dict[str, str] | None = None) -> Path:
    """Write a clip of :func:`pattern` frames.

    Args:
        pts: explicit frame timestamps in ``time_base`` units (for VFR); default
            one frame every 1/fps seconds.
        audio: audio encoder (aac, libmp3lame, pcm_s16le, libopus) or None.
        rotation: clockwise degrees flagged in the display matrix (the frames
            themselves are stored unrotated), like a phone's ``rotate=90``.
    """
    if pts is None:
        step = round(1 / (fps * time_base))
        pts = [i * step for i in range(frames)]
    with av.open(str(path), "w", options=options or {}) as out:
        vs = out.add_stream(codec, rate=fps)
        vs.width, vs.height = width, height
        vs.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        vs.time_base = time_base
        vs.codec_context.time_base = time_base
        if codec == "libx264":
            vs.codec_context.options = {"preset": "ultrafast", "crf": "12"}
        if rotation:
            vs.set_display_rotation(-rotation)  # FFmpeg's angle is counter-clockwise
        astream = None
        if audio is not None:
            fmt, rate = _AUDIO[audio]
            astream = out.add_stream(audio, rate=rate, layout="stereo")
            astream.format = fmt
        for i, p in enumerate(pts):
            frame = av.VideoFrame.from_ndarray(pattern(i, width, height), format="rgb24")
            frame.pts = p
            frame.time_base = time_base
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
        if astream is not None:
            seconds = float(pts[-1] * time_base) + 1 / fps
            for frame in _audio_frames(astream.codec_context, seconds, astream.codec_context.sample_rate,
                                       astream.format.name, "stereo"):
                out.mux(astream.encode(frame))
            out.mux(astream.encode(None))
    return path


def vfr_clip(folder: Path) -> Path:
    """H.264 MP4 whose frame gaps vary (20-100 ms), with AAC audio."""
    gaps = [40, 40, 20, 100, 33, 67, 40, 25, 75, 40, 50, 30] * 2
    pts = np.concatenate([[0], np.cumsum(gaps)]).tolist()
    return make_clip(folder / "vfr.mp4", pts=pts, time_base=Fraction(1, 1000))


def rotated_clip(folder: Path) -> Path:
    """64x48 stored picture flagged rotate=90 (display matrix): upright it is 48x64."""
    return make_clip(folder / "rotated.mp4", rotation=90, frames=12)


def odd_size_clip(folder: Path) -> Path:
    """321x241 picture (odd both ways), which 4:2:0 H.264 cannot encode as is (stored as FFV1 in MKV)."""
    return make_clip(folder / "odd.mkv", width=321, height=241, frames=10, codec="ffv1", audio="libopus")


def no_audio_clip(folder: Path) -> Path:
    return make_clip(folder / "silent.mp4", audio=None)


def pcm_mov_clip(folder: Path) -> Path:
    """QuickTime .mov with 16-bit PCM audio: must be transcoded to AAC for MP4."""
    return make_clip(folder / "pcm.mov", audio="pcm_s16le")


def pcm_avi_clip(folder: Path) -> Path:
    """AVI with MJPEG video and PCM audio: the audio must be transcoded to AAC for MP4."""
    return make_clip(folder / "pcm.avi", codec="mjpeg", audio="pcm_s16le", time_base=Fraction(1, 25))


def mp3_clip(folder: Path) -> Path:
    """MP4 with MP3 audio: copied as is."""
    return make_clip(folder / "mp3.mp4", audio="libmp3lame")


def one_frame_clip(folder: Path) -> Path:
    return make_clip(folder / "one.mp4", frames=1, audio=None)


def truncated_clip(folder: Path) -> Path:
    """An MP4 cut at half its size (index at the end, so the index is gone)."""
    full = make_clip(folder / "full_for_truncation.mp4", frames=30)
    data = full.read_bytes()
    path = folder / "truncated.mp4"
    path.write_bytes(data[: len(data) // 2])
    return path


def truncated_faststart_clip(folder: Path) -> Path:
    """An MP4 with its index at the front, cut at half: the index points past the end."""
    full = make_clip(folder / "full_faststart.mp4", frames=30, options={"movflags": "+faststart"})
    data = full.read_bytes()
    path = folder / "truncated_faststart.mp4"
    path.write_bytes(data[: len(data) // 2])
    return path


def text_as_mp4(folder: Path) -> Path:
    path = folder / "notes.mp4"
    path.write_text("this is a text file, not a video\n" * 20)
    return path


def zero_byte_clip(folder: Path) -> Path:
    path = folder / "empty.mp4"
    path.write_bytes(b"")
    return path


def audio_only(folder: Path) -> Path:
    """An .m4a with audio and no video stream."""
    path = folder / "tone.m4a"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=44100, layout="stereo")
        for frame in _audio_frames(stream.codec_context, 1.0, 44100, "fltp", "stereo"):
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def unsupported_codec_clip(folder: Path) -> Path:
    """An AVI whose video FourCC is patched to one no decoder knows (``ZZZZ``)."""
    src = make_clip(folder / "mjpeg.avi", codec="mjpeg", audio=None, frames=5)
    data = src.read_bytes().replace(b"MJPG", b"ZZZZ")
    path = folder / "unsupported.avi"
    path.write_bytes(data)
    return path


def exif_rotated_jpeg(folder: Path) -> Path:
    """A 64x48 JPEG flagged EXIF orientation 6 (shown turned 90 degrees clockwise: 48x64)."""
    path = folder / "exif6.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(pattern(0, 64, 48)).save(path, quality=95, exif=exif.tobytes())
    return path


def trim_clip(src: Path, dst: Path, frames: int) -> Path:
    """The first ``frames`` frames of a real clip with their audio, re-encoded near-losslessly (crf 12)."""
    from facegraft.media import VideoReader, VideoWriter, probe

    info = probe(src)
    with VideoReader(src, start=0, end=frames) as reader, VideoWriter(
            dst, like=info, crf=12, audio_from=src if info.has_audio else None,
            audio_span=(0.0, frames / info.fps)) as writer:
        for frame in reader:
            writer.write(frame.image, pts=frame.pts, time_base=frame.time_base)
    return dst
