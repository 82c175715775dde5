"""Hostile and unusual inputs for the reliability tests, generated into a folder.

Built on :mod:`mediagen` (synthetic pattern clips) and on short trims of the
real clips in ../shared/data (so that a swap has a face to work on). Every
function writes one small file and returns its path; nothing here is kept in
the repository.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import mediagen as gen
import numpy as np
from PIL import Image


def trim(src: Path, dest: Path, *, frames: int, max_side: int = 0, skip: int = 0) -> Path:
    """Frames ``[skip, frames)`` of a real clip re-encoded (H.264, audio dropped), optionally downscaled."""
    with av.open(str(src)) as inp, av.open(str(dest), "w") as out:
        vin = inp.streams.video[0]
        rate = vin.average_rate or Fraction(25)
        vs = out.add_stream("libx264", rate=rate)
        w, h = vin.codec_context.width, vin.codec_context.height
        if max_side and max(w, h) > max_side:
            scale = max_side / max(w, h)
            w, h = int(w * scale) // 2 * 2, int(h * scale) // 2 * 2
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.codec_context.options = {"preset": "ultrafast", "crf": "16"}
        for i, frame in enumerate(inp.decode(vin)):
            if i >= frames:
                break
            if i < skip:
                continue
            image = frame.to_ndarray(format="rgb24", width=w, height=h)
            new = av.VideoFrame.from_ndarray(image, format="rgb24")
            new.pts = i - skip
            new.time_base = 1 / rate
            out.mux(vs.encode(new))
        out.mux(vs.encode(None))
    return dest


def sliding_out_clip(src: Path, dest: Path, *, frames: int = 16) -> Path:
    """A real 512x512 face clip shifted left a little more each frame, until the face is half out."""
    with av.open(str(src)) as inp, av.open(str(dest), "w") as out:
        vs = out.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = 256, 256, "yuv420p"
        vs.codec_context.options = {"preset": "ultrafast", "crf": "16"}
        for i, frame in enumerate(inp.decode(inp.streams.video[0])):
            if i >= frames:
                break
            image = frame.to_ndarray(format="rgb24", width=256, height=256)
            shift = int(130 * i / max(1, frames - 1))  # the face spans x 72-186: centre at 0 by the end
            moved = np.zeros_like(image)
            moved[:, : 256 - shift] = image[:, shift:]
            new = av.VideoFrame.from_ndarray(moved, format="rgb24")
            new.pts, new.time_base = i, Fraction(1, 25)
            out.mux(vs.encode(new))
        out.mux(vs.encode(None))
    return dest


def _remux(src: Path, dest: Path, pick: Callable[[Any], Any], **out_kwargs: Any) -> Path:
    """A packet copy of one stream of ``src`` (chosen by ``pick`` from the container) into ``dest``."""
    with av.open(str(src)) as inp, av.open(str(dest), "w", **out_kwargs) as out:
        sin = pick(inp)
        sout = out.add_stream_from_template(sin)
        for packet in inp.demux(sin):
            if packet.size:
                packet.stream = sout
                out.mux(packet)
    return dest


def faststart_copy(src: Path, dest: Path) -> Path:
    """A stream copy of ``src`` with the index (moov) at the front, as phones and web uploads have it."""
    return _remux(src, dest, lambda c: c.streams.video[0], options={"movflags": "+faststart"})


def truncated(src: Path, dest: Path, fraction: float = 0.5) -> Path:
    data = src.read_bytes()
    dest.write_bytes(data[: int(len(data) * fraction)])
    return dest


def bit_flipped_header(src: Path, dest: Path, *, offsets: tuple[int, ...] = (4, 5, 6, 7, 40, 41, 60)) -> Path:
    """``src`` with a few bytes of its first atoms inverted (the ``ftyp`` tag and box sizes)."""
    data = bytearray(src.read_bytes())
    for off in offsets:
        data[off] ^= 0xFF
    dest.write_bytes(bytes(data))
    return dest


def broken_audio(folder: Path, *, suffix: str = ".mkv", codec: str = "aac") -> Path:
    """A pattern clip whose audio stream holds random bytes instead of ``codec`` packets."""
    path = folder / f"broken_audio_{codec}{suffix}"
    rng = np.random.default_rng(7)
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        vs.codec_context.options = {"preset": "ultrafast"}
        audio = out.add_stream(codec, rate=48000, layout="stereo")
        vpackets = []
        for i in range(12):
            frame = av.VideoFrame.from_ndarray(gen.pattern(i, 64, 48), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 25)
            vpackets += vs.encode(frame)
        vpackets += vs.encode(None)
        out.mux(vpackets)
        for k in range(24):  # ~0.5 s of "audio" packets of garbage
            packet = av.Packet(rng.integers(0, 256, 200, dtype=np.uint8).tobytes())
            packet.stream = audio
            packet.pts = packet.dts = k * 1024
            packet.time_base = Fraction(1, 48000)
            out.mux(packet)
    return path


def tiny_clip(folder: Path) -> Path:
    """A 1x1-pixel video (FFV1 in MKV: H.264's 4:2:0 cannot store an odd size)."""
    path = folder / "one_pixel.mkv"
    with av.open(str(path), "w") as out:
        vs = out.add_stream("ffv1", rate=25)
        vs.width, vs.height, vs.pix_fmt = 1, 1, "yuv444p"
        for i in range(5):
            frame = av.VideoFrame.from_ndarray(np.full((1, 1, 3), 40 * i, np.uint8), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 25)
            out.mux(vs.encode(frame.reformat(format="yuv444p")))
        out.mux(vs.encode(None))
    return path


def huge_clip(folder: Path, *, frames: int = 2) -> Path:
    """A 7680x4320 (8K) H.264 clip of a couple of flat frames (cheap to encode)."""
    return gen.make_clip(folder / "8k.mp4", width=7680, height=4320, frames=frames, audio=None)


def one_pixel_png(folder: Path) -> Path:
    path = folder / "one_pixel.png"
    Image.new("RGB", (1, 1), (200, 120, 90)).save(path)
    return path


def exif_rotated_photo(src: Path, dest: Path) -> Path:
    """A real photo stored turned 90 degrees counter-clockwise, with EXIF orientation 6 to show it upright."""
    image = Image.open(src).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6
    image.transpose(Image.Transpose.ROTATE_90).save(dest, quality=92, exif=exif.tobytes())
    return dest


def scaled_photo(src: Path, dest: Path, *, side: int = 400) -> Path:
    """A real photo scaled to ``side`` pixels on its longer side (cheaper to analyse)."""
    image = Image.open(src).convert("RGB")
    image.thumbnail((side, side), Image.Resampling.LANCZOS)
    image.save(dest, quality=95)
    return dest


def cmyk_jpeg(src: Path, dest: Path) -> Path:
    Image.open(src).convert("CMYK").save(dest, quality=92)
    return dest


def grey_jpeg(src: Path, dest: Path) -> Path:
    Image.open(src).convert("L").save(dest, quality=92)
    return dest


def alpha_png(src: Path, dest: Path) -> Path:
    """A real photo as RGBA: opaque in the middle, a transparent band around the border."""
    image = Image.open(src).convert("RGBA")
    alpha = np.zeros((image.height, image.width), np.uint8)
    m = max(4, min(image.size) // 10)
    alpha[m:-m, m:-m] = 255
    image.putalpha(Image.fromarray(alpha))
    image.save(dest)
    return dest


def half_out_of_frame(src: Path, dest: Path, *, side: str = "left") -> Path:
    """A real photo cropped through the middle of its face, so the face is cut by the border."""
    image = Image.open(src).convert("RGB")
    w, h = image.size
    box = {"left": (w * 45 // 100, 0, w, h), "top": (0, h * 40 // 100, w, h)}[side]
    image.crop(box).save(dest, quality=92)
    return dest


def small_face(src: Path, dest: Path, *, face_px: int = 40, canvas: int = 640) -> Path:
    """A real portrait scaled so the face is about ``face_px`` wide, pasted on a large plain canvas."""
    image = Image.open(src).convert("RGB")
    scale = face_px * 2.6 / max(image.size)  # the portraits' faces span ~40 % of the photo
    small = image.resize((max(1, int(image.width * scale)), max(1, int(image.height * scale))),
                         Image.Resampling.LANCZOS)
    out = Image.new("RGB", (canvas, canvas), (128, 128, 128))
    out.paste(small, (canvas // 3, canvas // 3))
    out.save(dest, quality=95)
    return dest


def text_named(folder: Path, name: str) -> Path:
    path = folder / name
    path.write_text("definitely not media\n" * 40)
    return path


# --- hostile media (tests/test_hostile.py) ---------------------------------------------------------------

def _png_chunk(kind: bytes, data: bytes) -> bytes:
    import struct
    import zlib

    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(dest: Path, *, width: int = 30000, height: int = 30000, rows: int = 4) -> Path:
    """A PNG whose header claims ``width x height`` RGB pixels but whose data holds only ``rows`` rows."""
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = zlib.compress(b"".join(b"\0" + b"\x80" * (3 * width) for _ in range(rows)), 9)
    dest.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", data)
                     + _png_chunk(b"IEND", b""))
    return dest


def jpeg_bomb(dest: Path, *, width: int = 30000, height: int = 30000) -> Path:
    """A small real JPEG whose frame header (SOF0) is rewritten to claim ``width x height``."""
    import io
    import struct

    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (90, 120, 200)).save(buf, format="JPEG", quality=80)
    data = bytearray(buf.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5: sof + 9] = struct.pack(">HH", height, width)
    dest.write_bytes(bytes(data))
    return dest


def gif_bomb(dest: Path, *, width: int = 30000, height: int = 30000) -> Path:
    """A small real GIF whose logical screen and image descriptor are rewritten to claim ``width x height``."""
    import io
    import struct

    buf = io.BytesIO()
    Image.new("P", (16, 16), 3).save(buf, format="GIF")
    data = bytearray(buf.getvalue())
    data[6:10] = struct.pack("<HH", width, height)
    desc = data.index(b",", 13)  # the image descriptor: ',' x y w h
    data[desc + 5: desc + 9] = struct.pack("<HH", width, height)
    dest.write_bytes(bytes(data))
    return dest


def webp_bomb(dest: Path, *, side: int = 16383) -> Path:
    """A small lossless WebP whose VP8L header is rewritten to claim ``side x side`` (WebP's largest)."""
    import io

    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (90, 120, 200)).save(buf, format="WEBP", lossless=True)
    data = bytearray(buf.getvalue())
    at = data.index(b"VP8L") + 8
    assert data[at] == 0x2F
    bits = int.from_bytes(data[at + 1: at + 5], "little")
    bits = (bits & ~((1 << 28) - 1)) | (side - 1) | ((side - 1) << 14)
    data[at + 1: at + 5] = bits.to_bytes(4, "little")
    dest.write_bytes(bytes(data))
    return dest


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    import struct

    chunks, at = [], 8
    while at < len(data):
        (size,) = struct.unpack(">I", data[at: at + 4])
        chunks.append((data[at + 4: at + 8], data[at + 8: at + 8 + size]))
        at += 12 + size
    return chunks


def many_frame_animation(first: Path, dest: Path, *, frames: int = 3000) -> Path:
    """An animated GIF or APNG (by ``dest``'s suffix): ``first`` (a photo), then 1x1-pixel frames.

    Written byte by byte (Pillow's encoder takes minutes for thousands of frames): each later
    frame redraws one pixel of the canvas, so the file stays small and every frame is valid.
    """
    import io
    import struct
    import zlib

    head = Image.open(first).convert("RGB")
    buf = io.BytesIO()
    if dest.suffix == ".gif":
        head.quantize(256).save(buf, format="GIF")
        data = buf.getvalue()
        assert data[10] & 0x80, "a global colour table is needed by the 1-pixel frames"
        pixel = (b"\x21\xf9\x04\x04\x04\x00\x00\x00"  # graphic control: 40 ms, keep the canvas
                 b"\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00")  # 1x1 at (0, 0)
        dest.write_bytes(data[:-1] + pixel * (frames - 1) + b"\x3b")
        return dest
    head.save(buf, format="PNG")
    chunks = _png_chunks(buf.getvalue())
    ihdr = next(body for kind, body in chunks if kind == b"IHDR")
    idat = b"".join(body for kind, body in chunks if kind == b"IDAT")

    def fctl(seq: int, w: int, h: int) -> bytes:
        return _png_chunk(b"fcTL", struct.pack(">IIIIIHHBB", seq, w, h, 0, 0, 1, 25, 0, 0))

    out = [b"\x89PNG\r\n\x1a\n", _png_chunk(b"IHDR", ihdr), _png_chunk(b"acTL", struct.pack(">II", frames, 0)),
           fctl(0, head.width, head.height), _png_chunk(b"IDAT", idat)]
    one_pixel = zlib.compress(b"\0\x10\x20\x30")
    seq = 1
    for _ in range(frames - 1):
        out += [fctl(seq, 1, 1), _png_chunk(b"fdAT", struct.pack(">I", seq + 1) + one_pixel)]
        seq += 2
    out.append(_png_chunk(b"IEND", b""))
    dest.write_bytes(b"".join(out))
    return dest


def matroska_claiming(src: Path, dest: Path, *, width: int, height: int) -> Path:
    """``src`` (an MKV whose picture is 256..65535 px a side) with its header's PixelWidth/PixelHeight rewritten."""
    data = bytearray(src.read_bytes())
    with av.open(str(src)) as inp:
        w, h = inp.streams.video[0].codec_context.width, inp.streams.video[0].codec_context.height
    for element, old, new in ((b"\xb0\x82", w, width), (b"\xba\x82", h, height)):
        at = data.index(element + old.to_bytes(2, "big"))
        data[at + 2: at + 4] = new.to_bytes(2, "big")
    dest.write_bytes(bytes(data))
    return dest


def bad_exif_orientation(src: Path, dest: Path, value: object = 9) -> Path:
    """A real photo whose EXIF orientation tag holds ``value`` (out of range, or not a number)."""
    image = Image.open(src).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = value
    image.save(dest, quality=92, exif=exif.tobytes())
    return dest


def encoded_clip(dest: Path, *, codec: str, pix_fmt: str, frames: int = 6, width: int = 64, height: int = 48,
                 rate: int = 25, pts_step: int = 1, src: Path | None = None) -> Path:
    """A short clip in a given codec and pixel format, of pattern frames or of ``src``'s frames."""
    with av.open(str(dest), "w") as out:
        vs = out.add_stream(codec, rate=rate)
        vs.width, vs.height, vs.pix_fmt = width, height, pix_fmt
        vs.time_base = Fraction(1, rate)
        if codec.startswith("libx26"):
            vs.codec_context.options = {"preset": "ultrafast"}
        source = av.open(str(src)) if src is not None else None
        decoded = source.decode(source.streams.video[0]) if source is not None else None
        for i in range(frames):
            if decoded is not None:
                rgb = next(decoded).to_ndarray(format="rgb24", width=width, height=height)
            else:
                rgb = gen.pattern(i, width, height)
            if pix_fmt == "pal8":  # swscale cannot quantise: Pillow makes the palette
                quantised = Image.fromarray(rgb).quantize(256)
                rgb_pal = np.array(quantised.getpalette()[:768] + [0] * (768 - len(quantised.getpalette()[:768])),
                                   np.uint8).reshape(256, 3)
                argb = np.concatenate([np.full((256, 1), 255, np.uint8), rgb_pal], axis=1)
                frame = av.VideoFrame.from_ndarray((np.asarray(quantised), argb), format="pal8")
            else:
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=pix_fmt)
            frame.pts, frame.time_base = i * pts_step, Fraction(1, rate)
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
        if source is not None:
            source.close()
    return dest


def corrupted_packets(src: Path, dest: Path, *, which: range) -> Path:
    """A stream copy of ``src`` (MKV) whose video packets in ``which`` are replaced by random bytes."""
    rng = np.random.default_rng(3)
    with av.open(str(src)) as inp, av.open(str(dest), "w") as out:
        vin = inp.streams.video[0]
        vout = out.add_stream_from_template(vin)
        for i, packet in enumerate(p for p in inp.demux(vin) if p.size):
            if i in which:
                bad = av.Packet(rng.integers(0, 256, packet.size, dtype=np.uint8).tobytes())
                bad.pts, bad.dts, bad.time_base, bad.is_keyframe = packet.pts, packet.dts, packet.time_base, \
                    packet.is_keyframe
                packet = bad
            packet.stream = vout
            out.mux(packet)
    return dest


def audio_only(dest: Path) -> Path:
    """A 0.5 s tone, no video stream."""
    with av.open(str(dest), "w") as out:
        stream = out.add_stream("aac", rate=48000, layout="mono")
        t = np.arange(24000) / 48000.0
        samples = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
        for start in range(0, samples.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, start:start + 1024]),
                                               format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 48000, start
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return dest


def data_only(dest: Path) -> Path:
    """An MKV holding only a subtitle stream (no video, no audio)."""
    dest.write_text("1\n00:00:00,000 --> 00:00:01,000\nhello\n\n2\n00:00:01,000 --> 00:00:02,000\nworld\n")
    srt = dest.with_suffix(".srt")
    dest.rename(srt)
    _remux(srt, dest, lambda c: c.streams.subtitles[0], format="matroska")
    srt.unlink()
    return dest


def many_streams(src: Path, dest: Path, *, copies: int = 40) -> Path:
    """MKV with ``copies`` video streams and as many audio streams, all copies of ``src``'s video."""
    with av.open(str(src)) as inp, av.open(str(dest), "w") as out:
        vin = inp.streams.video[0]
        outs = [out.add_stream_from_template(vin) for _ in range(copies)]
        audio = [out.add_stream("pcm_s16le", rate=8000, layout="mono") for _ in range(copies)]
        packets = [p for p in inp.demux(vin) if p.size]
        for packet in packets:
            for stream in outs:
                copy = av.Packet(bytes(packet))
                copy.pts, copy.dts, copy.time_base, copy.is_keyframe = packet.pts, packet.dts, \
                    packet.time_base, packet.is_keyframe
                copy.stream = stream
                out.mux(copy)
        for stream in audio:
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
            frame.sample_rate, frame.pts = 8000, 0
            out.mux(stream.encode(frame))
            out.mux(stream.encode(None))
    return dest
