"""The original audio, carried into the output while the video is written.

Audio is copied packet for packet (bit-exact, no generation loss) when the
output container can hold its codec, and transcoded otherwise: PCM from a
.mov/.avi becomes AAC in MP4; anything but Opus/Vorbis becomes Opus in WebM.
Packets are read from the source lazily and muxed up to the time of the last
video packet written (:meth:`AudioTrack.mux_until`), so the whole track is
never held in memory and the file is interleaved as it is written.
"""

from __future__ import annotations

from pathlib import Path

import av

from ..errors import MediaError
from .probe import _reason, codec_name, open_input

#: Audio codecs each output container takes as they are (copied bit-exact).
COPYABLE: dict[str, frozenset[str]] = {
    "mp4": frozenset({"aac", "mp3", "ac3", "eac3", "opus", "alac", "flac"}),
    "mov": frozenset({"aac", "mp3", "ac3", "eac3", "alac", "pcm_s16le", "pcm_s16be", "pcm_s24le", "pcm_f32le"}),
    "webm": frozenset({"opus", "vorbis"}),
    "matroska": frozenset({"aac", "mp3", "ac3", "eac3", "opus", "vorbis", "flac", "pcm_s16le", "pcm_s24le"}),
}

#: What to transcode to when the container cannot take the source codec: (encoder, sample format).
TRANSCODE_TO: dict[str, tuple[str, str]] = {"webm": ("libopus", "s16")}
_DEFAULT_TRANSCODE = ("aac", "fltp")


def container_family(output: av.container.OutputContainer) -> str:
    """``mp4``, ``mov``, ``webm`` or ``matroska`` for the output's muxer."""
    name = output.format.name.split(",")[0]
    return {"ipod": "mp4", "3gp": "mp4"}.get(name, name)


class AudioTrack:
    """Carries one source's first audio stream into an output container.

    Args:
        source: the file whose audio is used.
        output: the (not yet started) output container to add a stream to.
        span: (start, end) in seconds to keep, or None for the whole track;
            packets are kept whole, so the cut is to the nearest packet.

    Attributes:
        copied: True when packets are copied bit-exact, False when transcoded.
    """

    def __init__(self, source: str | Path, output: av.container.OutputContainer, *,
                 span: tuple[float, float] | None = None) -> None:
        self.source = Path(source)
        self._input = open_input(self.source)
        if not self._input.streams.audio:
            self._input.close()
            raise MediaError("has no audio stream", self.source)
        self._in = self._input.streams.audio[0]
        self._span = span
        family = container_family(output)
        codec = codec_name(self._in)
        self.copied = codec in COPYABLE.get(family, COPYABLE["mp4"])
        if self.copied:
            self._out = output.add_stream_from_template(self._in)
        else:
            name, fmt = TRANSCODE_TO.get(family, _DEFAULT_TRANSCODE)
            rate = 48000 if name == "libopus" else (self._in.codec_context.sample_rate or 48000)
            # Mono stays mono; anything else becomes stereo (PCM in AVI often has an
            # unnamed "2 channels" layout the encoders refuse; surround PCM is rare).
            layout = "mono" if self._in.codec_context.channels == 1 else "stereo"
            self._out = output.add_stream(name, rate=rate, layout=layout, format=fmt)
            self._out.codec_context.bit_rate = 192_000 if name == "aac" else 128_000
            self._resampler = av.AudioResampler(format=fmt, layout=layout, rate=rate)
        self._packets = self._input.demux(self._in)
        self._pending: av.Packet | None = None
        self._done = False
        self._output = output

    @property
    def codec(self) -> str:
        """The output audio codec name."""
        return self._out.codec_context.name

    def _next_packet(self) -> av.Packet | None:
        if self._pending is not None:
            packet, self._pending = self._pending, None
            return packet
        if self._done:
            return None
        try:
            for packet in self._packets:
                if packet.size == 0 or packet.pts is None:
                    continue
                return packet
        except av.error.FFmpegError as exc:
            raise MediaError(f"cannot read audio ({_reason(exc)})", self.source) from exc
        self._done = True
        return None

    def mux_until(self, seconds: float | None) -> None:
        """Mux source audio up to ``seconds`` (None: to the end of the track)."""
        while True:
            packet = self._next_packet()
            if packet is None:
                return
            t = float(packet.pts * packet.time_base)
            if seconds is not None and t > seconds:
                self._pending = packet
                return
            if self._span is not None and not self._span[0] <= t < self._span[1]:
                if t >= self._span[1]:
                    self._done = True
                    return
                continue
            self._write(packet)

    def _write(self, packet: av.Packet) -> None:
        if self.copied:
            packet.stream = self._out
            self._output.mux(packet)
            return
        try:
            frames = self._in.codec_context.decode(packet)
        except av.error.FFmpegError as exc:
            raise MediaError(f"cannot decode audio ({_reason(exc)})", self.source) from exc
        for frame in frames:
            for resampled in self._resampler.resample(frame):
                self._output.mux(self._out.encode(resampled))

    def finish(self) -> None:
        """Mux the rest of the track and flush the encoder (when transcoding)."""
        self.mux_until(None)
        if not self.copied:
            for resampled in self._resampler.resample(None):
                self._output.mux(self._out.encode(resampled))
            self._output.mux(self._out.encode(None))

    def close(self) -> None:
        """Close the source file."""
        self._input.close()
