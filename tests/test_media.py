"""The media engine on generated problem clips and on the real test clips.

Round trips check what the pipeline relies on: frame count in == out, every
pts preserved exactly, audio packets copied byte for byte (or transcoded when
the container cannot hold them), rotation applied, odd sizes kept whole,
atomic outputs, and one-line errors for bad files.
"""

from __future__ import annotations

import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import av
import mediagen as gen
import numpy as np
import pytest
from conftest import shared_file

from facegraft.errors import MediaError
from facegraft.media import (
    SYNTHETIC_COMMENT,
    TMP_MARK,
    VideoReader,
    VideoWriter,
    probe,
)

GENERATED = {
    "vfr": gen.vfr_clip, "rotated": gen.rotated_clip, "odd": gen.odd_size_clip, "no_audio": gen.no_audio_clip,
    "pcm_mov": gen.pcm_mov_clip, "pcm_avi": gen.pcm_avi_clip, "mp3": gen.mp3_clip, "one_frame": gen.one_frame_clip,
}
BAD = {
    "truncated": gen.truncated_clip, "truncated_faststart": gen.truncated_faststart_clip,
    "text_as_mp4": gen.text_as_mp4, "zero_byte": gen.zero_byte_clip, "audio_only": gen.audio_only,
    "unsupported_codec": gen.unsupported_codec_clip,
}
#: Real clips and how many frames to round-trip (None: all; the 512x512 and 640x360 ones are cheap).
REAL = {"lp_drv_d0.mp4": None, "lp_drv_d10.mp4": None, "fr_short_hamilton_clip.mp4": None,
        "retalk_face_1.mp4": 60, "lp_drv_d3.mp4": 45, "facenet_video_crowd_1080p.mp4": 20}


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("mediagen")
    return {name: make(folder) for name, make in {**GENERATED, **BAD}.items()}


def packets(path: Path, kind: str) -> list[tuple[Fraction, bytes]]:
    """(presentation time, payload) of every packet of the first stream of a kind, in file order."""
    with av.open(str(path)) as container:
        streams = getattr(container.streams, kind)
        if not streams:
            return []
        return [(p.pts * p.time_base, bytes(p)) for p in container.demux(streams[0]) if p.size]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def _share_of_audio_in_first_half(path: Path) -> float:
    with av.open(str(path)) as container:
        pos = [(p.pos, p.stream.type) for p in container.demux() if p.size and p.pos is not None and p.pos >= 0]
    middle = sorted(p for p, _ in pos)[len(pos) // 2]
    audio = [p for p, kind in pos if kind == "audio"]
    return sum(p < middle for p in audio) / len(audio)


def roundtrip(src: Path, out: Path, end: int | None = None, **options: object) -> tuple[list, VideoWriter]:
    """Decode ``src`` (frames [0, end)) and re-encode it with its audio; return the input frames and writer."""
    info = probe(src)
    kept = []
    with VideoReader(src, end=end) as reader:
        frames = list(reader)
    span = None
    if end is not None and end < info.frame_count:
        with VideoReader(src, start=end, end=end + 1) as reader:
            span = (float("-inf"), next(iter(reader)).time)
    with VideoWriter(out, like=info, audio_from=src, audio_span=span, preset="ultrafast", **options) as writer:
        for f in frames:
            writer.write(f.image, pts=f.pts, time_base=f.time_base)
            kept.append(f)
    return kept, writer


def check_roundtrip(src: Path, out: Path, end: int | None) -> None:
    info = probe(src)
    frames, writer = roundtrip(src, out, end)
    expected = info.frame_count if end is None else min(end, info.frame_count)
    assert [f.index for f in frames] == list(range(expected))
    result = probe(out)
    assert result.frame_count == expected == writer.frames_written
    # Every timestamp preserved exactly (compared as exact fractions of a second).
    with VideoReader(out) as reader:
        decoded = list(reader)
    assert [f.pts * f.time_base for f in decoded] == [f.pts * f.time_base for f in frames]
    h, w = frames[0].image.shape[:2]
    for i in (0, len(frames) - 1):
        assert psnr(decoded[i].image[:h, :w], frames[i].image) > 32
    assert result.tags.get("comment") == SYNTHETIC_COMMENT and result.tags.get("synthetic") == "1"
    # Audio: none in, none out; copied bit-exact when MP4 can hold it; else AAC.
    audio_in, audio_out = packets(src, "audio"), packets(out, "audio")
    if not info.has_audio:
        assert not result.has_audio and audio_out == []
        return
    frame_s = 1 / info.fps
    if writer.audio_copied:
        kept = audio_in if end is None else audio_in[: len(audio_out)]
        assert audio_out == kept and len(audio_out) > 0
        if end is not None:  # cut at the last video frame, to the packet
            assert audio_out[-1][0] <= frames[-1].pts * frames[-1].time_base + Fraction(1, 1)
    else:
        assert info.audio_codec.startswith("pcm") and result.audio_codec == "aac"
        assert abs(float(audio_out[-1][0] - audio_in[-1][0])) < frame_s + 0.05
    if len(audio_out) > 20:  # interleaved as written: audio spread through the file, not appended at the end
        assert 0.2 < _share_of_audio_in_first_half(out) < 0.8
    if end is None:
        assert abs(result.duration - info.duration) <= frame_s + 1e-6
        assert abs(float(audio_out[-1][0] - audio_in[-1][0])) <= frame_s


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_roundtrip_generated(clips: dict[str, Path], tmp_path: Path, name: str) -> None:
    check_roundtrip(clips[name], tmp_path / "out.mp4", None)


@pytest.mark.parametrize("name", sorted(REAL))
def test_roundtrip_real(tmp_path: Path, name: str) -> None:
    check_roundtrip(shared_file(f"videos/{name}"), tmp_path / "out.mp4", REAL[name])


def test_vfr_gaps_survive(clips: dict[str, Path], tmp_path: Path) -> None:
    roundtrip(clips["vfr"], tmp_path / "vfr.mp4")
    gaps_in = np.diff([t for t, _ in sorted(packets(clips["vfr"], "video"))])
    gaps_out = np.diff([t for t, _ in sorted(packets(tmp_path / "vfr.mp4", "video"))])
    assert len(set(gaps_in)) >= 5
    assert list(gaps_out) == list(gaps_in)


def test_rotated_clip_comes_out_upright(clips: dict[str, Path]) -> None:
    info = probe(clips["rotated"])
    assert (info.rotation, info.width, info.height) == (90, 48, 64)
    with VideoReader(clips["rotated"]) as reader:
        frames = list(reader)
    for f in frames:
        upright = np.rot90(gen.pattern(f.index, 64, 48), k=-1)  # turned 90 degrees clockwise
        assert f.image.shape == (64, 48, 3)
        assert np.abs(f.image.astype(int) - upright).mean() < 4
    # The white block, top-left in the stored picture, is top-right once upright.
    assert frames[0].image[:8, -8:].min() > 230 and frames[0].image[:8, :8].mean() < 150
    if shutil.which("ffmpeg"):  # FFmpeg's own autorotation agrees
        raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(clips["rotated"]), "-frames:v", "1", "-f",
                              "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
        assert np.abs(np.frombuffer(raw, np.uint8).reshape(64, 48, 3).astype(int) - frames[0].image).mean() < 3


def test_odd_size_is_padded_not_cropped(clips: dict[str, Path], tmp_path: Path) -> None:
    frames, writer = roundtrip(clips["odd"], tmp_path / "odd.mp4")
    assert frames[0].image.shape == (241, 321, 3) and writer.encoded_size == (322, 242)
    with VideoReader(tmp_path / "odd.mp4") as reader:
        out = next(iter(reader)).image
    assert out.shape == (242, 322, 3)
    assert psnr(out[:241, :321], frames[0].image) > 32  # the whole picture is there
    assert np.abs(out[:, 321].astype(int) - out[:, 320]).mean() < 3  # padding repeats the edge


def test_vp9_webm_keeps_odd_size_and_opus(clips: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "odd.webm"
    frames, writer = roundtrip(clips["odd"], out, codec="vp9")
    info = probe(out)
    assert (info.video_codec, info.width, info.height, info.frame_count) == ("vp9", 321, 241, len(frames))
    assert writer.audio_copied and packets(out, "audio") == packets(clips["odd"], "audio")


def test_h265_and_fixed_fps(clips: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "fixed.mp4"
    frames, _ = roundtrip(clips["vfr"], out, codec="h265", fps=10)
    info = probe(out)
    assert info.video_codec == "hevc" and info.frame_count == len(frames)
    with VideoReader(out) as reader:
        assert [f.pts * f.time_base for f in reader] == [Fraction(i, 10) for i in range(len(frames))]


def test_segment_equals_same_frames_of_full_decode(clips: dict[str, Path]) -> None:
    for path, (start, end) in ((shared_file("videos/lp_drv_d3.mp4"), (40, 48)), (clips["vfr"], (5, 12))):
        with VideoReader(path, end=end) as reader:
            full = list(reader)[start:]
        with VideoReader(path, start=start, end=end) as reader:
            part = list(reader)
        assert [(f.index, f.pts) for f in part] == [(f.index, f.pts) for f in full]
        assert all(np.array_equal(a.image, b.image) for a, b in zip(part, full, strict=True))


def test_reader_stops_early_without_hanging() -> None:
    with VideoReader(shared_file("videos/lp_drv_d10.mp4"), queue_size=2) as reader:
        for frame in reader:
            if frame.index == 2:
                break
    assert reader._thread is None


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_is_one_clear_line(clips: dict[str, Path], name: str) -> None:
    for open_it in (probe, VideoReader):
        with pytest.raises(MediaError) as err:
            open_it(clips[name])
        line = str(err.value)
        assert line.startswith(str(clips[name])) and "\n" not in line and len(line) < 200


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="file not found"):
        probe(tmp_path / "nope.mp4")


@pytest.mark.parametrize("interrupt", [RuntimeError, KeyboardInterrupt])
def test_failed_write_leaves_nothing(clips: dict[str, Path], tmp_path: Path, interrupt: type) -> None:
    out = tmp_path / "out.mp4"
    with pytest.raises(interrupt), VideoWriter(out, audio_from=clips["vfr"]) as writer:
        for i in range(5):
            writer.write(gen.pattern(i, 64, 48))
        raise interrupt("stop")
    assert list(tmp_path.iterdir()) == []


def test_existing_output_is_never_overwritten(clips: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    out.write_bytes(b"precious")
    with pytest.raises(MediaError, match="already exists") as err:
        VideoWriter(out)
    assert str(out) in str(err.value) and out.read_bytes() == b"precious"
    with VideoWriter(out, overwrite=True) as writer:
        writer.write(gen.pattern(0, 64, 48))
    assert probe(out).frame_count == 1
    assert not [p for p in tmp_path.iterdir() if TMP_MARK in p.name]


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="the ffmpeg command line is not installed")
def test_passthrough_benchmark_smoke() -> None:
    from facegraft.media.bench import passthrough_benchmark

    r = passthrough_benchmark(shared_file("videos/lp_drv_d10.mp4"), seconds=0.5, preset="ultrafast")
    assert abs(r["frames"] - r["ffmpeg_frames"]) <= 1 and 14 <= r["frames"] <= 16
    assert r["ours_fps"] > 0 and r["ffmpeg_fps"] > 0 and r["ratio"] == pytest.approx(r["ours_fps"] / r["ffmpeg_fps"])
    assert r["ours_cpu_ms"] > 0 and r["cpu_ratio"] > 0
