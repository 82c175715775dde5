"""Pass-through benchmark: our decode -> RGB numpy -> encode against the ``ffmpeg`` command line.

The swap pipeline cannot be faster than its media engine, so this measures
the engine alone: every frame is decoded by :class:`VideoReader` into an RGB
array and re-encoded by :class:`VideoWriter` (audio copied), and the same
transcode is run with the ``ffmpeg`` CLI (same encoder, crf, preset,
``-pix_fmt yuv420p``, ``-c:a copy``) on the same clip in the same run. FFmpeg
never leaves YUV, so the ratio shows what the two RGB conversions and Python
cost us.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from ..errors import MediaError
from .probe import probe
from .reader import VideoReader
from .writer import _VP9_SPEED, ENCODERS, VideoCodec, VideoWriter, output_suffix


def ffmpeg_command(clip: Path, output: Path, *, seconds: float | None, codec: str, crf: int,
                   preset: str) -> list[str]:
    """The ``ffmpeg`` CLI line doing the same transcode as our pass-through."""
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-y", "-i", str(clip)]
    if seconds is not None:
        cmd += ["-t", f"{seconds:g}"]
    cmd += ["-map", "0:v:0", "-map", "0:a:0?", "-c:v", ENCODERS[codec], "-crf", str(crf), "-pix_fmt", "yuv420p"]
    if codec == "vp9":
        cmd += ["-b:v", "0", "-deadline", "good", "-row-mt", "1", "-cpu-used", str(_VP9_SPEED.get(preset, 4)),
                "-c:a", "libopus"]
    else:
        cmd += ["-preset", preset, "-c:a", "copy", "-movflags", "+faststart"]
    return [*cmd, str(output)]


def _ours(clip: Path, output: Path, *, end: int | None, seconds: float | None, codec: VideoCodec, crf: int,
          preset: str) -> tuple[float, float, int]:
    info = probe(clip)
    span = None if seconds is None else (float("-inf"), info.start_time + seconds)
    c0 = time.process_time()  # all threads of this process
    t0 = time.perf_counter()
    with VideoReader(clip, end=end) as reader, VideoWriter(
            output, like=info, codec=codec, crf=crf, preset=preset, audio_from=clip, audio_span=span,
            overwrite=True) as writer:
        for frame in reader:
            writer.write(frame.image, pts=frame.pts, time_base=frame.time_base)
    return time.perf_counter() - t0, time.process_time() - c0, writer.frames_written


def _ffmpeg(clip: Path, output: Path, *, seconds: float | None, codec: str, crf: int,
            preset: str) -> tuple[float, float, int]:
    cmd = ffmpeg_command(clip, output, seconds=seconds, codec=codec, crf=crf, preset=preset)
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime
    if done.returncode != 0:
        raise MediaError(f"ffmpeg failed: {done.stderr.strip().splitlines()[-1:] or done.returncode}", clip)
    return elapsed, cpu, probe(output).frame_count


def ffmpeg_version() -> str:
    """First line of ``ffmpeg -version`` (or "" when ffmpeg is missing)."""
    if shutil.which("ffmpeg") is None:
        return ""
    out = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, check=False).stdout
    return out.splitlines()[0] if out else ""


def passthrough_benchmark(clip: str | Path, *, seconds: float | None = None, codec: VideoCodec = "h264",
                          crf: int = 18, preset: str = "veryfast", repeats: int = 1,
                          workdir: str | Path | None = None) -> dict[str, Any]:
    """Time our decode -> RGB -> encode against ``ffmpeg`` doing the same transcode.

    Both run ``repeats`` times, alternating (so a busy neighbour hurts both
    alike); the fastest run of each counts. Wall-clock fps is what a user
    sees, but on a shared machine it swings with other processes, so CPU time
    per frame (all threads, children included for ffmpeg) is reported too.

    Example:
        >>> r = passthrough_benchmark("clip720.mp4", seconds=5)  # doctest: +SKIP
        >>> round(r["ratio"], 2)  # doctest: +SKIP
        0.95

    Args:
        clip: the input video.
        seconds: only the first N seconds (both sides), or None for all of it.
        codec, crf, preset: encoder settings, the same for both.
        repeats: runs of each side.
        workdir: where outputs go (a temporary folder by default, removed after).

    Returns:
        ``clip, width, height, frames, ffmpeg_frames, codec, crf, preset, ours_s,
        ffmpeg_s, ours_fps, ffmpeg_fps, ratio`` (ours_fps / ffmpeg_fps, wall clock),
        ``ours_cpu_ms, ffmpeg_cpu_ms`` (CPU milliseconds per frame, all threads),
        ``cpu_ratio`` (ffmpeg's CPU per frame / ours: the throughput ratio to
        expect when both saturate otherwise idle cores), ``load_before`` (the
        1-minute load average before the runs), ``cpus`` and ``ffmpeg`` (its
        version line).

    Raises:
        MediaError: ffmpeg is not installed or fails; the clip is unreadable.
    """
    clip = Path(clip)
    if shutil.which("ffmpeg") is None:
        raise MediaError("the ffmpeg command is needed for the comparison (apt-get install ffmpeg)", clip)
    info = probe(clip)
    end = None
    if seconds is not None:
        with VideoReader(clip) as reader:  # frames inside the first `seconds`, as ffmpeg -t counts them
            end = sum(1 for f in reader if f.time < info.start_time + seconds)
    with tempfile.TemporaryDirectory(dir=workdir, prefix="facegraft-bench-") as tmp:
        suffix = output_suffix(codec)
        ours_s = ffmpeg_s = ours_cpu = ffmpeg_cpu = float("inf")
        frames = ffmpeg_frames = 0
        load = os.getloadavg()[0]
        for _ in range(max(1, repeats)):
            t, cpu, ffmpeg_frames = _ffmpeg(clip, Path(tmp) / f"ffmpeg{suffix}", seconds=seconds, codec=codec,
                                            crf=crf, preset=preset)
            ffmpeg_s, ffmpeg_cpu = min(ffmpeg_s, t), min(ffmpeg_cpu, cpu)
            t, cpu, frames = _ours(clip, Path(tmp) / f"ours{suffix}", end=end, seconds=seconds, codec=codec,
                                   crf=crf, preset=preset)
            ours_s, ours_cpu = min(ours_s, t), min(ours_cpu, cpu)
    ours_fps, ffmpeg_fps = frames / ours_s, ffmpeg_frames / ffmpeg_s
    return {"clip": clip.name, "width": info.width, "height": info.height, "frames": frames,
            "ffmpeg_frames": ffmpeg_frames, "codec": codec, "crf": crf, "preset": preset, "ours_s": ours_s,
            "ffmpeg_s": ffmpeg_s, "ours_fps": ours_fps, "ffmpeg_fps": ffmpeg_fps, "ratio": ours_fps / ffmpeg_fps,
            "ours_cpu_ms": 1000 * ours_cpu / frames, "ffmpeg_cpu_ms": 1000 * ffmpeg_cpu / ffmpeg_frames,
            "cpu_ratio": (ffmpeg_cpu / ffmpeg_frames) / (ours_cpu / frames), "load_before": load,
            "cpus": os.cpu_count(), "ffmpeg": ffmpeg_version()}
