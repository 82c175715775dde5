"""Hostile media: bombs, giant frames, odd streams and names, each with its stated outcome (docs/reliability.md).

Every case below is generated into a temporary folder (tests/badmedia.py) and
run through ``swap_video`` in this process, as a target and where it makes
sense as a source photo; a few go through ``facegraft swap`` in a child
process for the exit status. The outcome is either an output checked against
the input (frame count, size, faces swapped) or one readable line naming the
file, with nothing left in the output folder.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import badmedia as bm
import pytest
from conftest import REPO, shared_file
from test_reliability import assert_one_line_error, leftovers, run_cli

from facegraft.errors import FacegraftError
from facegraft.media import VideoReader, probe

#: What a decoded 30000x30000 bomb would cost (2.7 GB of RGB); none of the refusals may come near it.
BOMB_RSS_GROWTH_LIMIT_MB = 150

#: target -> (outcome, words the error line holds). "ok": an output with the input's frames;
#: "face": and a face replaced in them.
TARGETS: dict[str, tuple[str, str]] = {
    "png_bomb": ("error", "decompression bomb: the header declares 900,000,000 pixels"),
    "jpeg_bomb": ("error", "decompression bomb: the header declares 900,000,000 pixels"),
    "webp_bomb": ("error", "decompression bomb: the header declares 268,402,689 pixels"),
    "gif_bomb": ("error", "cannot decode video"),  # GIF is read as a video: FFmpeg refuses the 30000x30000 frame
    "png_144mp": ("error", "12000x12000 exceeds the limit of 8192 px on a side (raise it with --max-side)"),
    "png_45mp": ("error", "7500x6000 (45.0 megapixels) exceeds the limit of 40 megapixels "
                          "(raise it with --max-megapixels)"),
    "video_9000_wide": ("error", "9000x16 exceeds the limit of 8192 px on a side (raise it with --max-side)"),
    "video_claims_7000x7000": ("error", "(49.0 megapixels) exceeds the limit of 40 megapixels"),
    "apng_3000_frames": ("face", ""),  # a still image: its first frame
    "gif_3000_frames_to_png": ("error", "the target is a video, so the output must be one too"),
    "exif_orientation_0": ("face", ""),
    "exif_orientation_9": ("face", ""),
    "exif_orientation_65535": ("face", ""),
    "yuv420p10le_h264": ("face", ""),
    "yuv444p_h264": ("face", ""),
    "rgb_ffv1": ("face", ""),
    "pal8_png_mov": ("face", ""),
    "first_frames_corrupt": ("error", "cannot decode video"),
    "middle_frames_corrupt": ("error", "decoding failed"),
    "audio_only": ("error", "has no video stream"),
    "subtitles_only": ("error", "has no video stream"),
    "80_streams": ("face", ""),
    "3_frames_over_2_days_to_mkv": ("face", ""),
    "3_frames_over_2_days_to_mp4": ("error", "MP4 cannot hold frames this far apart, MKV can"),
    "video_named_jpg": ("error", "not a readable image"),
    "image_named_mp4": ("face", ""),  # read by content: a one-frame video
    "spaces_quotes_unicode": ("face", ""),
    "leading_dash": ("face", ""),
}

#: source photo -> (outcome, words), swapped into the real clip.
SOURCES: dict[str, tuple[str, str]] = {
    "png_bomb": ("error", "decompression bomb"),
    "jpeg_bomb": ("error", "decompression bomb"),
    "webp_bomb": ("error", "decompression bomb"),
    "gif_bomb": ("error", "decompression bomb: the header declares 900,000,000 pixels"),
    "png_144mp": ("error", "--max-side"),
    "gif_3000_frames": ("face", ""),  # its first frame is the photo
    "apng_3000_frames": ("face", ""),
    "exif_orientation_9": ("face", ""),
    "video_named_jpg": ("error", "not a readable image"),
    "image_named_mp4": ("face", ""),  # Pillow reads it by content
}


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("hostile")
    photo = bm.scaled_photo(shared_file("images/lp_src_s1.jpg"), folder / "face.jpg")
    clip = bm.trim(shared_file("videos/lp_drv_d0.mp4"), folder / "clip.mp4", frames=6, max_side=192)
    square = bm.encoded_clip(folder / "square.mkv", codec="ffv1", pix_fmt="yuv420p", frames=2, width=256,
                             height=256)
    odd = {"codec": "libx264", "src": clip, "width": 192, "height": 192}
    media = {
        "photo": photo,
        "clip": clip,
        "png_bomb": bm.png_bomb(folder / "bomb.png"),
        "jpeg_bomb": bm.jpeg_bomb(folder / "bomb.jpg"),
        "webp_bomb": bm.webp_bomb(folder / "bomb.webp"),
        "gif_bomb": bm.gif_bomb(folder / "bomb.gif"),
        "png_144mp": bm.png_bomb(folder / "144mp.png", width=12000, height=12000),
        "png_45mp": bm.png_bomb(folder / "45mp.png", width=7500, height=6000),
        "video_9000_wide": bm.encoded_clip(folder / "wide.mkv", codec="ffv1", pix_fmt="yuv420p", frames=2,
                                           width=9000, height=16),
        "video_claims_7000x7000": bm.matroska_claiming(square, folder / "claims.mkv", width=7000, height=7000),
        "apng_3000_frames": bm.many_frame_animation(photo, folder / "animated.png"),
        "gif_3000_frames": bm.many_frame_animation(photo, folder / "animated.gif"),
        "exif_orientation_0": bm.bad_exif_orientation(photo, folder / "exif0.jpg", 0),
        "exif_orientation_9": bm.bad_exif_orientation(photo, folder / "exif9.jpg", 9),
        "exif_orientation_65535": bm.bad_exif_orientation(photo, folder / "exif65535.jpg", 65535),
        "yuv420p10le_h264": bm.encoded_clip(folder / "10bit.mkv", pix_fmt="yuv420p10le", **odd),
        "yuv444p_h264": bm.encoded_clip(folder / "444.mp4", pix_fmt="yuv444p", **odd),
        "rgb_ffv1": bm.encoded_clip(folder / "rgb.mkv", pix_fmt="bgr0", **{**odd, "codec": "ffv1"}),
        "pal8_png_mov": bm.encoded_clip(folder / "pal8.mov", pix_fmt="pal8", **{**odd, "codec": "png"}),
        "first_frames_corrupt": bm.corrupted_packets(clip, folder / "bad_start.mkv", which=range(0, 3)),
        "middle_frames_corrupt": bm.corrupted_packets(clip, folder / "bad_middle.mkv", which=range(3, 5)),
        "audio_only": bm.audio_only(folder / "tone.m4a"),
        "subtitles_only": bm.data_only(folder / "subtitles.mkv"),
        "80_streams": bm.many_streams(clip, folder / "streams.mkv", copies=40),
        "3_frames_over_2_days": bm.encoded_clip(folder / "days.mkv", pix_fmt="yuv420p", frames=3,
                                                pts_step=25 * 86400, **odd),
        "video_named_jpg": bm.text_named(folder, "video.jpg"),
        "image_named_mp4": bm.text_named(folder, "image.mp4"),
        "spaces_quotes_unicode": folder / "my clip 'take\" 2' ünïcödé 名前.mp4",
        "leading_dash": folder / "-clip.mp4",
    }
    media["video_named_jpg"].write_bytes(clip.read_bytes())
    media["image_named_mp4"].write_bytes(photo.read_bytes())
    for name in ("spaces_quotes_unicode", "leading_dash"):
        media[name].write_bytes(clip.read_bytes())
    media["gif_3000_frames_to_png"] = media["gif_3000_frames"]
    media["3_frames_over_2_days_to_mkv"] = media["3_frames_over_2_days_to_mp4"] = media["3_frames_over_2_days"]
    return media


def _output(name: str, target: Path, folder: Path) -> Path:
    if name.endswith("_to_png"):
        return folder / "out.png"
    if name.endswith("_to_mkv"):
        return folder / "out.mkv"
    return folder / ("out.png" if target.suffix in (".png", ".jpg", ".webp") else "out.mp4")


def _check(outcome: str, words: str, run: object, culprit: Path, out: Path) -> None:
    """Either one line naming ``culprit`` and holding ``words``, nothing written; or a checked output."""
    assert callable(run)
    if outcome == "error":
        with pytest.raises(FacegraftError) as caught:
            run()
        line = caught.value.line()
        assert "\n" not in line and str(culprit) in line and words in line, line
        assert not out.exists() and not leftovers(out.parent)
        return
    report = run()
    assert report.output == out and not leftovers(out.parent)
    info = probe(out)
    assert info.frame_count == report.frames > 0
    assert report.frames_swapped > 0, report.warnings


def _rss_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize("name", list(TARGETS))
def test_target(name: str, media: dict[str, Path], tmp_path: Path, models: object) -> None:
    from facegraft import swap_video

    outcome, words = TARGETS[name]
    target = media[name]
    out = _output(name, target, tmp_path)
    peak = _rss_peak_mb()
    culprit = out if name.endswith(("_to_png", "_to_mp4")) else target  # there the output is the problem
    _check(outcome, words, lambda: swap_video([media["photo"]], target, out, models=models), culprit, out)
    assert _rss_peak_mb() - peak < BOMB_RSS_GROWTH_LIMIT_MB
    if outcome == "error":
        return
    info_in, info_out = probe(target), probe(out)
    assert (info_out.width, info_out.height) == (info_in.width, info_in.height)
    assert info_out.frame_count == info_in.frame_count
    if name.startswith("3_frames_over_2_days"):  # every timestamp kept, days apart
        with VideoReader(out) as reader:
            assert [round(f.time) for f in reader] == [0, 86400, 172800]


@pytest.mark.parametrize("name", list(SOURCES))
def test_source(name: str, media: dict[str, Path], tmp_path: Path, models: object) -> None:
    from facegraft import swap_video

    outcome, words = SOURCES[name]
    source = media[name]
    out = tmp_path / "out.mp4"
    peak = _rss_peak_mb()
    _check(outcome, words, lambda: swap_video([source], media["clip"], out, models=models), source, out)
    assert _rss_peak_mb() - peak < BOMB_RSS_GROWTH_LIMIT_MB


def test_cli_bomb_source_and_giant_target_exit_2(media: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    result = run_cli("swap", "-q", "-s", media["png_bomb"], "-t", media["clip"], "-o", out)
    assert_one_line_error(result, str(media["png_bomb"]), out)
    assert "decompression bomb" in result.stderr[0]
    result = run_cli("swap", "-q", "-s", media["photo"], "-t", media["video_claims_7000x7000"], "-o", out)
    assert_one_line_error(result, str(media["video_claims_7000x7000"]), out)
    assert "raise it with --max-megapixels" in result.stderr[0]


def test_limits_flags_raise_the_limits(tmp_path: Path, media: dict[str, Path], models: object) -> None:
    """0 turns a limit off; past the frame limits a file still meets Pillow's own bomb ceiling."""
    from facegraft import swap_video
    from facegraft.options import SwapOptions

    wide = bm.png_bomb(tmp_path / "wide.png", width=9000, height=16, rows=16)  # complete, 144 kpixels
    out = tmp_path / "out.png"
    with pytest.raises(FacegraftError, match="raise it with --max-side"):
        swap_video([media["photo"]], wide, out, models=models)
    options = SwapOptions(max_side=0, max_megapixels=0)
    report = swap_video([media["photo"]], wide, out, options, models=models)
    assert (probe(out).width, probe(out).height, report.frames_swapped) == (9000, 16, 0)
    with pytest.raises(FacegraftError, match="decompression bomb"):
        swap_video([media["photo"]], media["png_bomb"], tmp_path / "bomb-out.png", options, models=models)
    assert not (tmp_path / "bomb-out.png").exists() and not leftovers(tmp_path)


def test_cli_odd_names(media: dict[str, Path], tmp_path: Path) -> None:
    """Relative names with a leading dash, spaces, quotes and unicode; ``--flag=value`` keeps a dash a value."""
    (tmp_path / "-me 'ü' \"x\".jpg").write_bytes(media["photo"].read_bytes())
    (tmp_path / "-clip 名前.mp4").write_bytes(media["clip"].read_bytes())
    out = "-out ünï 'q'.mp4"
    proc = subprocess.run([sys.executable, "-m", "facegraft", "swap", "-q", "--source=-me 'ü' \"x\".jpg",
                           "--target=-clip 名前.mp4", f"--output={out}"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {out}: 6 frames, faces replaced in 6" in proc.stdout
    assert probe(tmp_path / out).frame_count == 6


def test_photo_limits_never_tighter_than_the_default(tmp_path: Path) -> None:
    """A 2160 px target cap still takes a 4000 px source photo, 40 MP a 50 MP one; a bomb never (headers only)."""
    from facegraft.options import SwapOptions
    from facegraft.pipeline import check_photo_sizes

    portrait = bm.png_bomb(tmp_path / "portrait.png", width=3000, height=4000, rows=1)
    phone_50mp = bm.png_bomb(tmp_path / "50mp.png", width=8160, height=6120, rows=1)
    check_photo_sizes([portrait, phone_50mp], SwapOptions(max_side=2160))
    with pytest.raises(FacegraftError, match="8192 px"):
        check_photo_sizes([bm.png_bomb(tmp_path / "wide.png", width=9000, height=16)], SwapOptions(max_side=2160))
    with pytest.raises(FacegraftError, match="--max-megapixels"):  # 72 MP: over the 8192 px square's 67
        check_photo_sizes([bm.png_bomb(tmp_path / "huge.png", width=8500, height=8500, rows=1)],
                          SwapOptions(max_side=9000))
