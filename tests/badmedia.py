"""Hostile and unusual inputs for the reliability tests, generated into a folder.

Built on :mod:`mediagen` (synthetic pattern clips) and on short trims of the
real clips in ../shared/data (so that a swap has a face to work on). Every
function writes one small file and returns its path; nothing here is kept in
the repository.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

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


def faststart_copy(src: Path, dest: Path) -> Path:
    """A stream copy of ``src`` with the index (moov) at the front, as phones and web uploads have it."""
    with av.open(str(src)) as inp, av.open(str(dest), "w", options={"movflags": "+faststart"}) as out:
        vin = inp.streams.video[0]
        vout = out.add_stream_from_template(vin)
        for packet in inp.demux(vin):
            if packet.size:
                packet.stream = vout
                out.mux(packet)
    return dest


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
