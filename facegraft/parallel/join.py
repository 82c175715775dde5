"""Joining separately encoded segments into one video, without re-encoding.

Each worker writes its segment as a video-only file whose frames keep the
input's pts. Joining copies the compressed packets of every segment, in
order, into one container and muxes the original audio beside them with the
same :class:`~facegraft.media.audio.AudioTrack` the writer uses, so timing,
audio sync and the synthetic-media tags are exactly those of a one-process
run. Concatenating H.264/H.265 packets is only valid when every segment was
encoded with the same parameter sets (SPS/PPS, carried in the container's
extradata): :func:`join_segments` checks that, and re-encodes instead (slower,
same result) in the unlikely case they differ.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av

from ..errors import MediaError
from ..media import SYNTHETIC_TAGS, AtomicOutput, MediaInfo, VideoReader, VideoWriter, has_audio
from ..media.audio import AudioTrack
from ..media.probe import _reason


def _container_options(output: Path) -> dict[str, str]:
    if output.suffix.lower() in (".mp4", ".m4v", ".mov"):
        # As VideoWriter: index at the front (plays while downloading), keep custom tags (synthetic=1).
        return {"movflags": "+faststart+use_metadata_tags"}
    return {}


def stream_signature(path: str | Path) -> tuple[object, ...]:
    """What must match between segments for their packets to form one stream.

    Codec, picture size, pixel format and the codec's extradata (H.264/H.265
    parameter sets).
    """
    with av.open(str(path)) as container:
        cc = container.streams.video[0].codec_context
        return cc.name, cc.width, cc.height, cc.format.name if cc.format else None, bytes(cc.extradata or b"")


def compatible(paths: Sequence[str | Path]) -> bool:
    """Whether the segments' packets can be concatenated as they are."""
    signatures = {stream_signature(p) for p in paths}
    return len(signatures) == 1


def join_segments(paths: Sequence[str | Path], output: str | Path, *, audio_from: str | Path | None,
                  overwrite: bool = False, like: MediaInfo | None = None, codec: str = "h264", crf: int = 18,
                  preset: str = "veryfast") -> bool:
    """Write ``output`` from the segment files (in order) and the audio of ``audio_from``.

    Args:
        paths: the segment files, video only, in presentation order.
        output: the final file (written beside itself, then renamed).
        audio_from: the file whose audio is carried over; None for none.
        overwrite: replace an existing output.
        like, codec, crf, preset: encoder settings for the re-encode fallback.

    Returns:
        True when packets were copied, False when the segments had to be re-encoded.

    Raises:
        MediaError: a segment cannot be read, or the output cannot be written.
    """
    output = Path(output)
    if not paths:
        raise MediaError("no segments to join", output)
    if not compatible(paths):
        _reencode(paths, output, audio_from=audio_from, overwrite=overwrite, like=like, codec=codec, crf=crf,
                  preset=preset)
        return False
    atomic = AtomicOutput(output, overwrite=overwrite)
    try:
        _remux(paths, atomic.tmp, audio_from)
    except BaseException as exc:
        atomic.discard()
        if isinstance(exc, av.error.FFmpegError):
            raise MediaError(f"joining segments failed ({_reason(exc)})", output) from exc
        raise
    atomic.commit()
    return True


def _remux(paths: Sequence[str | Path], tmp: Path, audio_from: str | Path | None) -> None:
    out = av.open(str(tmp), mode="w", options=_container_options(tmp))
    audio: AudioTrack | None = None
    try:
        out.metadata.update(SYNTHETIC_TAGS)
        with av.open(str(paths[0])) as first:
            video = out.add_stream_from_template(first.streams.video[0])
        if audio_from is not None and has_audio(audio_from):
            audio = AudioTrack(audio_from, out)
        last_dts: Fraction | None = None
        for path in paths:
            with av.open(str(path)) as segment:
                for packet in segment.demux(segment.streams.video[0]):
                    if packet.size == 0:
                        continue  # the demuxer's flush packet
                    if packet.dts is not None:  # (Matroska gives no dts for its first packets)
                        dts = packet.dts * packet.time_base
                        if last_dts is not None and dts <= last_dts:
                            raise MediaError(f"segment starts at {float(dts):.3f} s, before the previous one "
                                             f"ends ({float(last_dts):.3f} s)", path)
                        last_dts = dts
                    packet.stream = video
                    out.mux(packet)
                    if audio is not None and last_dts is not None:
                        audio.mux_until(float(last_dts))
        if audio is not None:
            audio.finish()
    finally:
        try:
            if audio is not None:
                audio.close()
        finally:
            out.close()


def _reencode(paths: Sequence[str | Path], output: Path, *, audio_from: str | Path | None, overwrite: bool,
              like: MediaInfo | None, codec: str, crf: int, preset: str) -> None:
    """Decode the segments and encode them as one stream (when their packets cannot be joined)."""
    with VideoWriter(output, like=like, codec=codec, crf=crf, preset=preset,  # type: ignore[arg-type]
                     audio_from=audio_from, overwrite=overwrite) as writer:
        for path in paths:
            with VideoReader(path) as reader:
                for frame in reader:
                    writer.write(frame.image, pts=frame.pts, time_base=frame.time_base)
