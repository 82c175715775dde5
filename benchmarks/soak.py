"""Soak and memory benchmark: RSS over many jobs in one process, peak RSS vs video length.

    .venv/bin/python benchmarks/soak.py soak --jobs 20          # RSS after each of 20 swaps, one process
    .venv/bin/python benchmarks/soak.py length --seconds 10 60  # peak RSS of a swap per clip length

Clips are made from the real 512x512 ``lp_drv_d0.mp4`` (looped with PyAV to the
requested length) in a temporary folder; results print as Markdown rows for
docs/reliability.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
SOURCE = DATA / "images" / "lp_src_s1.jpg"
CLIP = DATA / "videos" / "lp_drv_d0.mp4"


def looped_clip(dest: Path, seconds: float) -> Path:
    """``CLIP`` played forwards and backwards until ``seconds`` long (512x512, 25 fps, H.264)."""
    with av.open(str(CLIP)) as inp:
        frames = [f.to_ndarray(format="rgb24") for f in inp.decode(video=0)]
    cycle = frames + frames[-2:0:-1]
    with av.open(str(dest), "w") as out:
        vs = out.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = 512, 512, "yuv420p"
        vs.codec_context.options = {"preset": "ultrafast", "crf": "18"}
        for i in range(int(seconds * 25)):
            frame = av.VideoFrame.from_ndarray(cycle[i % len(cycle)], format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 25)
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
    return dest


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) / 1024 for line in fh if line.startswith("VmRSS:"))


def soak(jobs: int, seconds: float) -> None:
    from facegraft import swap_video
    from facegraft.analysis.models import Models

    with tempfile.TemporaryDirectory() as tmp, Models() as models:
        clip = looped_clip(Path(tmp) / "clip.mp4", seconds)
        print("| job | seconds | RSS after (MB) |\n|---|---|---|")
        for i in range(jobs):
            t = time.perf_counter()
            report = swap_video([SOURCE], clip, Path(tmp) / f"out{i}.mp4", models=models)
            assert report.frames == int(seconds * 25)
            print(f"| {i + 1} | {time.perf_counter() - t:.1f} | {rss_mb():.0f} |", flush=True)


def length(seconds: list[float]) -> None:
    print("| clip | frames | wall (s) | peak RSS (MB) |\n|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for s in seconds:
            clip = looped_clip(Path(tmp) / f"clip{s:g}.mp4", s)
            out = Path(tmp) / f"out{s:g}.mp4"
            t = time.perf_counter()
            child = subprocess.Popen([sys.executable, "-m", "facegraft", "swap", "-q", "-s", str(SOURCE), "-t",
                                      str(clip), "-o", str(out)], cwd=REPO)
            # wait4: this child's own peak (RUSAGE_CHILDREN would be the largest of all children so far).
            _, status, usage = os.wait4(child.pid, 0)
            child.returncode = os.waitstatus_to_exitcode(status)
            if child.returncode:
                raise subprocess.CalledProcessError(child.returncode, child.args)
            print(f"| {s:g} s | {int(s * 25)} | {time.perf_counter() - t:.0f} | {usage.ru_maxrss / 1024:.0f} |",
                  flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("soak")
    p.add_argument("--jobs", type=int, default=20)
    p.add_argument("--seconds", type=float, default=1.0)
    p = sub.add_parser("length")
    p.add_argument("--seconds", type=float, nargs="+", default=[10.0, 60.0])
    args = parser.parse_args()
    if args.mode == "soak":
        soak(args.jobs, args.seconds)
    else:
        length(sorted(args.seconds))


if __name__ == "__main__":
    main()
