"""Hostile and unusual inputs, through the CLI and the library (docs/reliability.md).

Each input must give a correct output or one readable line naming the file:
``facegraft swap`` exits 2 with exactly one stderr line, the library raises a
FacegraftError subclass; never a stack trace, a hang (every run has a
timeout) or a half-written output (no output and no ``.facegraft-tmp`` file
left in the output folder).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import badmedia as bm
import mediagen as gen
import numpy as np
import pytest
from conftest import REPO, shared_file

from facegraft.errors import FacegraftError, MediaError, NoFaceError
from facegraft.media import TMP_MARK, VideoReader, probe, read_image

TIMEOUT_S = 120


@dataclass(frozen=True)
class CliResult:
    rc: int
    stdout: str
    stderr: list[str]


def run_cli(*args: str | Path, timeout: float = TIMEOUT_S) -> CliResult:
    """Run ``facegraft`` in a fresh process (a hang fails the test through the timeout)."""
    proc = subprocess.run([sys.executable, "-m", "facegraft", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)
    lines = [line for line in proc.stderr.replace("\r", "\n").splitlines() if line.strip()]
    return CliResult(proc.returncode, proc.stdout, lines)


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if TMP_MARK in p.name]


def assert_one_line_error(result: CliResult, name: str, out: Path) -> None:
    assert result.rc == 2, (result.rc, result.stderr)
    assert len(result.stderr) == 1, result.stderr
    assert result.stderr[0].startswith("facegraft: error: ") and name in result.stderr[0], result.stderr
    assert not out.exists()
    assert not leftovers(out.parent)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The bad-media corpus: generated once per session from two real files and mediagen patterns."""
    folder = tmp_path_factory.mktemp("badmedia")
    clip = bm.trim(shared_file("videos/lp_drv_d0.mp4"), folder / "real.mp4", frames=10, max_side=256)
    faststart = bm.faststart_copy(clip, folder / "real_faststart.mp4")
    photo = bm.scaled_photo(shared_file("images/fr_obama.jpg"), folder / "obama.jpg")
    return {
        "real": clip,
        "source": bm.scaled_photo(shared_file("images/lp_src_s1.jpg"), folder / "source.jpg"),
        "truncated": bm.truncated(clip, folder / "truncated.mp4"),
        "truncated_faststart": bm.truncated(faststart, folder / "truncated_faststart.mp4", 0.7),
        "bit_flipped_header": bm.bit_flipped_header(faststart, folder / "flipped.mp4"),
        "zero_byte": gen.zero_byte_clip(folder),
        "text_as_mp4": gen.text_as_mp4(folder),
        "text_as_jpg": bm.text_named(folder, "photo.jpg"),
        "broken_audio_copied": bm.broken_audio(folder),
        "broken_audio_transcoded": bm.broken_audio(folder, codec="mp2"),
        "one_pixel_video": bm.tiny_clip(folder),
        "one_pixel_png": bm.one_pixel_png(folder),
        "one_frame_0.04s": bm.trim(shared_file("videos/lp_drv_d0.mp4"), folder / "short.mp4", frames=1),
        "exif_rotated": bm.exif_rotated_photo(photo, folder / "exif6.jpg"),
        "cmyk_jpeg": bm.cmyk_jpeg(photo, folder / "cmyk.jpg"),
        "grey_jpeg": bm.grey_jpeg(photo, folder / "grey.jpg"),
        "alpha_png": bm.alpha_png(photo, folder / "alpha.png"),
    }


#: target -> (expected outcome, words the error line must hold); "ok" = output with the input's frame count.
TARGETS: dict[str, tuple[str, str]] = {
    "truncated": ("error", "damaged, truncated or not media"),
    "truncated_faststart": ("error", "truncated"),
    "bit_flipped_header": ("error", ""),
    "zero_byte": ("error", "empty"),
    "text_as_mp4": ("error", "not a readable media file"),
    "text_as_jpg": ("error", "not a readable image"),
    "broken_audio_transcoded": ("error", "audio"),
    "broken_audio_copied": ("ok", ""),
    "one_pixel_video": ("ok", ""),
    "one_pixel_png": ("ok", ""),
    "one_frame_0.04s": ("ok", ""),
    "exif_rotated": ("ok", ""),
    "cmyk_jpeg": ("ok", ""),
    "grey_jpeg": ("ok", ""),
    "alpha_png": ("ok", ""),
}
#: Targets that hold a face the swap must replace.
WITH_FACE = {"one_frame_0.04s", "exif_rotated", "cmyk_jpeg", "grey_jpeg", "alpha_png"}
#: Unusual photos used as the *source* of the ok image swaps (each one is read as a source too).
SOURCE_FOR = {"exif_rotated": "cmyk_jpeg", "cmyk_jpeg": "grey_jpeg", "grey_jpeg": "alpha_png",
              "alpha_png": "exif_rotated"}


def _output_for(target: Path, folder: Path) -> Path:
    return folder / (target.stem + ("-out.png" if target.suffix in (".jpg", ".png") else "-out.mp4"))


def _check_ok_output(target: Path, out: Path) -> None:
    info_in, info_out = probe(target), probe(out)
    assert info_out.frame_count == info_in.frame_count
    # Upright size kept (odd sizes padded by at most one pixel for 4:2:0).
    assert 0 <= info_out.width - info_in.width <= 1 and 0 <= info_out.height - info_in.height <= 1


def _source(name: str, corpus: dict[str, Path]) -> Path:
    return corpus[SOURCE_FOR.get(name, "source")]


@pytest.mark.parametrize("name", list(TARGETS))
def test_cli_target(name: str, corpus: dict[str, Path], tmp_path: Path) -> None:
    expected, words = TARGETS[name]
    target = corpus[name]
    out = _output_for(target, tmp_path)
    result = run_cli("swap", "-q", "-s", _source(name, corpus), "-t", target, "-o", out)
    if expected == "error":
        assert_one_line_error(result, target.name, out)
        assert words in result.stderr[0]
        return
    assert result.rc == 0, result.stderr
    assert not any("Traceback" in line or "error" in line for line in result.stderr), result.stderr
    assert not leftovers(tmp_path)
    _check_ok_output(target, out)
    swapped = int(result.stdout.rsplit("faces replaced in ", 1)[1].split()[0])
    if name in WITH_FACE:
        assert swapped == probe(target).frame_count
    else:
        assert swapped == 0
        assert any("warning: no face" in line for line in result.stderr), result.stderr


@pytest.mark.parametrize("name", list(TARGETS))
def test_library_target(name: str, corpus: dict[str, Path], tmp_path: Path, models: object) -> None:
    from facegraft import swap_video

    expected, _ = TARGETS[name]
    target = corpus[name]
    out = _output_for(target, tmp_path)
    if expected == "error":
        with pytest.raises(FacegraftError) as caught:
            swap_video([_source(name, corpus)], target, out, models=models)
        assert target.name in caught.value.line() and "\n" not in caught.value.line()
        assert not out.exists() and not leftovers(tmp_path)
        return
    report = swap_video([_source(name, corpus)], target, out, models=models)
    assert report.frames == probe(target).frame_count and not leftovers(tmp_path)
    assert (report.frames_swapped > 0) == (name in WITH_FACE)
    if name not in WITH_FACE:
        assert report.warnings
        if target.suffix == ".png":  # a lossless image with no face comes back pixel for pixel
            assert np.array_equal(read_image(out), read_image(target))


@pytest.mark.parametrize("name, error", [("text_as_jpg", MediaError), ("one_pixel_png", NoFaceError),
                                         ("text_as_mp4", MediaError)])
def test_bad_source_photo(name: str, error: type[FacegraftError], corpus: dict[str, Path], tmp_path: Path,
                          models: object) -> None:
    from facegraft import swap_video

    out = tmp_path / "out.mp4"
    result = run_cli("swap", "-q", "-s", corpus[name], "-t", corpus["real"], "-o", out)
    assert_one_line_error(result, corpus[name].name, out)
    with pytest.raises(error):
        swap_video([corpus[name]], corpus["real"], out, models=models)
    assert not out.exists() and not leftovers(tmp_path)


def test_8k_clip_reads_and_is_refused_over_max_side(tmp_path: Path) -> None:
    clip = bm.huge_clip(tmp_path)
    info = probe(clip)
    assert (info.width, info.height, info.frame_count) == (7680, 4320, 2)
    with VideoReader(clip, queue_size=1) as reader:
        shapes = [frame.image.shape for frame in reader]
    assert shapes == [(4320, 7680, 3)] * 2
    out = tmp_path / "out.mp4"
    result = run_cli("swap", "-q", "-s", shared_file("images/lp_src_s1.jpg"), "-t", clip, "-o", out,
                     "--max-side", "3840")
    assert_one_line_error(result, clip.name, out)
    assert "7680x4320 exceeds the limit of 3840" in result.stderr[0]


def test_max_duration_flag_refuses_long_clip(corpus: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    result = run_cli("swap", "-q", "-s", corpus["source"], "-t", corpus["real"], "-o", out,
                     "--max-duration", "0.2")
    assert_one_line_error(result, corpus["real"].name, out)
    assert "exceeds the limit" in result.stderr[0]


