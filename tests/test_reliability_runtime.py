"""Interruptions, a full disk, awkward faces and a short soak (docs/reliability.md)."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import badmedia as bm
import pytest
from conftest import REPO, shared_file
from test_reliability import assert_one_line_error, leftovers, run_cli

from facegraft.errors import FacegraftError
from facegraft.media import TMP_MARK, VideoReader, probe
from facegraft.media.atomic import STALE_AFTER_S


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("runtime")
    return {
        "clip": bm.trim(shared_file("videos/lp_drv_d0.mp4"), folder / "clip.mp4", frames=60, max_side=256),
        # Long enough (~10 s of work on 2 cores) that an interrupt always lands mid-render.
        "long": bm.trim(shared_file("videos/lp_drv_d3.mp4"), folder / "long.mp4", frames=300, max_side=256),
        "source": bm.scaled_photo(shared_file("images/lp_src_s1.jpg"), folder / "source.jpg"),
        "photo": bm.scaled_photo(shared_file("images/lp_src_s1.jpg"), folder / "photo.jpg", side=600),
    }


def _start_swap(media: dict[str, Path], out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "facegraft", "swap", "-s", str(media["source"]), "-t",
                             str(media["long"]), "-o", str(out)], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def _wait_for_render(proc: subprocess.Popen[bytes], out: Path, timeout: float = 60) -> None:
    """Block until the render has written part of the temporary output."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if [p for p in out.parent.iterdir() if TMP_MARK in p.name and p.stat().st_size > 0]:
            return
        assert proc.poll() is None, "the swap ended before it could be interrupted"
        time.sleep(0.05)
    raise AssertionError("the render never started")


def test_ctrl_c_cleans_its_temp_file_and_writes_nothing(media: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    proc = _start_swap(media, out)
    _wait_for_render(proc, out)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    lines = [ln for ln in err.decode().replace("\r", "\n").splitlines() if ln.strip() and "%|" not in ln]
    assert proc.returncode == 130, lines
    assert lines == ["facegraft: interrupted; no output was written"]
    assert not out.exists() and not leftovers(tmp_path)


def test_sigkill_leaves_no_output_and_stale_temp_is_swept(media: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    proc = _start_swap(media, out)
    _wait_for_render(proc, out)
    proc.kill()
    proc.communicate(timeout=30)
    assert not out.exists()
    stale = [tmp_path / name for name in leftovers(tmp_path)]
    assert stale, "SIGKILL cannot clean up: a temporary file is expected beside the output"
    old = time.time() - STALE_AFTER_S - 60
    for path in stale:
        os.utime(path, (old, old))
    result = run_cli("swap", "-q", "-s", media["source"], "-t", media["clip"], "-o", out)
    assert result.rc == 0, result.stderr
    assert probe(out).frame_count == probe(media["clip"]).frame_count
    assert not leftovers(tmp_path)  # the killed run's leftover, older than the limit, was removed


def _small_disk(tmp_path: Path) -> tuple[Path, dict[str, object]]:
    """A 64 KB tmpfs when we may mount (root), else a 64 KB file-size limit on the child process."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.geteuid() == 0 and subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)],
                                            capture_output=True).returncode == 0:
        return mnt, {}

    def limit() -> None:  # Python ignores SIGXFSZ, so writes past the limit fail with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    return mnt, {"preexec_fn": limit}


@pytest.mark.parametrize("suffix", [".mp4", ".png"])
def test_disk_full_is_one_line(media: dict[str, Path], tmp_path: Path, suffix: str) -> None:
    mnt, extra = _small_disk(tmp_path)
    out = mnt / f"out{suffix}"
    target = media["clip"] if suffix == ".mp4" else media["photo"]
    try:
        proc = subprocess.run([sys.executable, "-m", "facegraft", "swap", "-q", "-s", str(media["source"]),
                               "-t", str(target), "-o", str(out), "--crf", "0"], cwd=REPO, capture_output=True,
                              text=True, timeout=120, **extra)  # type: ignore[call-overload]
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        assert proc.returncode == 2, lines
        assert len(lines) == 1 and out.name in lines[0], lines
        assert "No space left on device" in lines[0] or "File too large" in lines[0]
        assert not out.exists() and not leftovers(mnt)
    finally:
        if not extra:
            subprocess.run(["umount", str(mnt)], check=False)


# --- faces ------------------------------------------------------------------------------------------
def test_face_sliding_out_of_frame(media: dict[str, Path], tmp_path: Path, models: object) -> None:
    """The face leaves through the left edge (half out at the end): no error, swapped while detected."""
    from facegraft import swap_video

    clip = bm.sliding_out_clip(shared_file("videos/lp_drv_d0.mp4"), tmp_path / "slide.mp4", frames=16)
    report = swap_video([media["source"]], clip, tmp_path / "out.mp4", models=models)
    assert report.frames == 16 and report.frames_swapped >= 8


def test_small_and_turned_faces(media: dict[str, Path], tmp_path: Path, models: object) -> None:
    """A ~45 px face is swapped; a 30 px one is simply not found; a turned head works as source and target."""
    from facegraft import swap_video

    small = bm.small_face(shared_file("images/lp_src_s1.jpg"), tmp_path / "small.jpg", face_px=60)
    tiny = bm.small_face(shared_file("images/lp_src_s1.jpg"), tmp_path / "tiny.jpg", face_px=40)
    assert swap_video([media["source"]], small, tmp_path / "small.png", models=models).frames_swapped == 1
    report = swap_video([media["source"]], tiny, tmp_path / "tiny.png", models=models)
    assert report.frames_swapped == 0 and report.warnings
    # lp_drv_d3 frames 264-285: the head turned furthest (nose near the outer eye corner).
    turned = bm.trim(shared_file("videos/lp_drv_d3.mp4"), tmp_path / "turned.mp4", frames=286, max_side=256,
                     skip=264)
    with VideoReader(turned, end=1) as reader:
        side_view = next(iter(reader)).image
    report = swap_video([side_view], turned, tmp_path / "turned-out.mp4", models=models)
    assert report.frames == 22 and report.frames_swapped >= 18


def test_source_without_face_is_one_line(media: dict[str, Path], tmp_path: Path) -> None:
    blank = bm.one_pixel_png(tmp_path)
    out = tmp_path / "out.mp4"
    result = run_cli("swap", "-q", "-s", blank, "-t", media["clip"], "-o", out)
    assert_one_line_error(result, blank.name, out)
    assert "no face found" in result.stderr[0]


# --- soak -------------------------------------------------------------------------------------------
def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise FacegraftError("no VmRSS in /proc/self/status")


def test_repeated_swaps_do_not_grow_memory(media: dict[str, Path], tmp_path: Path, models: object) -> None:
    from facegraft import swap_image

    rss = []
    for i in range(8):
        swap_image([media["source"]], media["photo"], tmp_path / f"out{i}.png", models=models)
        rss.append(_rss_mb())
    growth = max(rss[3:]) - rss[2]
    assert growth < 40, f"RSS after each swap (MB): {[round(r) for r in rss]}"
