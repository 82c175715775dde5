"""Media engine (PyAV): probe, streaming decode/encode with exact timestamps, audio carry-over, images.

Example:
    >>> from facegraft.media import probe, VideoReader, VideoWriter
    >>> info = probe("in.mp4")  # doctest: +SKIP
    >>> with VideoReader("in.mp4") as reader, VideoWriter(  # doctest: +SKIP
    ...         "out.mp4", like=info, audio_from="in.mp4") as writer:
    ...     for frame in reader:
    ...         writer.write(frame.image, pts=frame.pts, time_base=frame.time_base)

See docs/media.md for the behaviour in detail (rotation, odd sizes, VFR, audio).
"""

from __future__ import annotations

from .atomic import SYNTHETIC_COMMENT, SYNTHETIC_TAGS, TMP_MARK, AtomicOutput
from .images import probe_image, read_image, write_image
from .probe import IMAGE_SUFFIXES, MediaInfo, is_image, probe
from .reader import VideoFrame, VideoReader, frame_to_rgb
from .writer import ENCODERS, VideoWriter, has_audio, output_suffix

__all__ = [
    "ENCODERS",
    "IMAGE_SUFFIXES",
    "SYNTHETIC_COMMENT",
    "SYNTHETIC_TAGS",
    "TMP_MARK",
    "AtomicOutput",
    "MediaInfo",
    "VideoFrame",
    "VideoReader",
    "VideoWriter",
    "frame_to_rgb",
    "has_audio",
    "is_image",
    "output_suffix",
    "probe",
    "probe_image",
    "read_image",
    "write_image",
]
