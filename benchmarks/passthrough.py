"""Pass-through benchmark of the media engine against the ffmpeg CLI; writes a section of docs/benchmarks.md.

No real 720p clip exists in the test media, so one is made by upscaling
``lp_drv_d10.mp4`` (512x512, 30 fps, 15 s, AAC) to 1280x720 into a temporary
folder; the 1080p crowd clip is used as it is.

Usage:
    .venv/bin/python benchmarks/passthrough.py [--repeats 3] [--seconds 10] [--no-docs]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from datetime import date
from pathlib import Path

import cv2

from facegraft.media import VideoReader, VideoWriter, probe
from facegraft.media.bench import ffmpeg_command, passthrough_benchmark

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "videos"
DOC = REPO / "docs" / "benchmarks.md"
START, END = "<!-- passthrough:start -->", "<!-- passthrough:end -->"


def make_720p(source: Path, folder: Path) -> Path:
    """``source`` resized to 1280x720 (audio copied), high quality so the benchmark input is clean."""
    out = folder / f"{source.stem}_720p.mp4"
    info = probe(source)
    with VideoReader(source) as reader, VideoWriter(out, like=info, crf=16, preset="fast", audio_from=source,
                                                    overwrite=True) as writer:
        for frame in reader:
            image = cv2.resize(frame.image, (1280, 720), interpolation=cv2.INTER_CUBIC)
            writer.write(image, pts=frame.pts, time_base=frame.time_base)
    return out


def table(rows: list[dict]) -> str:
    lines = ["| clip | size | frames | ours fps | ffmpeg fps | wall ratio | ours CPU ms/frame | "
             "ffmpeg CPU ms/frame | CPU ratio | load before |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['clip']} | {r['width']}x{r['height']} | {r['frames']} | {r['ours_fps']:.1f} | "
                     f"{r['ffmpeg_fps']:.1f} | **{r['ratio']:.2f}x** | {r['ours_cpu_ms']:.1f} | "
                     f"{r['ffmpeg_cpu_ms']:.1f} | **{r['cpu_ratio']:.2f}x** | {r['load_before']:.1f} |")
    return "\n".join(lines)


def section(rows: list[dict], args: argparse.Namespace) -> str:
    r0 = rows[0]
    cmd = " ".join(ffmpeg_command(Path("IN.mp4"), Path("OUT.mp4"), seconds=args.seconds, codec="h264",
                                  crf=r0["crf"], preset=r0["preset"]))
    return f"""{START}
## Media engine pass-through (decode -> RGB numpy -> encode)

Measured {date.today().isoformat()} with `.venv/bin/python benchmarks/passthrough.py --repeats {args.repeats}`
on {r0['cpus']} CPU cores; {r0['ffmpeg']}. Ours: `VideoReader` (decode thread, frames as RGB numpy)
-> `VideoWriter` (encode thread, libx264 crf {r0['crf']} preset {r0['preset']}, yuv420p, audio packets
copied). FFmpeg: `{cmd}` (never leaves YUV). Best of {args.repeats} alternating runs each; fps = frames / wall
seconds including opening and closing the files; CPU ms/frame = user+system time of all threads (ffmpeg:
its child process) per frame, which is what sets throughput once the cores are saturated and is far less
sensitive than wall time to other processes on a shared machine (the load average before the runs is shown).
The 720p clip is lp_drv_d10.mp4 upscaled to 1280x720 (crf 16) in a temporary folder.

{table(rows)}

Target: >= 0.9x FFmpeg's throughput at 720p.
{END}"""


def write_doc(text: str) -> None:
    DOC.parent.mkdir(exist_ok=True)
    old = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    if START in old and END in old:
        new = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: text, old, flags=re.S)
    else:
        new = old.rstrip("\n") + "\n\n" + text + "\n"
    DOC.write_text(new)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=None, help="only the first N seconds of each clip")
    parser.add_argument("--preset", default="veryfast")
    parser.add_argument("--crf", type=int, default=18)
    parser.add_argument("--no-docs", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        print(f"test media not found at {DATA}", file=sys.stderr)
        return 2
    rows = []
    with tempfile.TemporaryDirectory(prefix="facegraft-720p-") as tmp:
        clips = [make_720p(DATA / "lp_drv_d10.mp4", Path(tmp)), DATA / "facenet_video_crowd_1080p.mp4"]
        for clip in clips:
            r = passthrough_benchmark(clip, seconds=args.seconds, crf=args.crf, preset=args.preset,
                                      repeats=args.repeats)
            rows.append(r)
            print(f"{r['clip']}: {r['width']}x{r['height']} {r['frames']} frames  ours {r['ours_fps']:.1f} fps  "
                  f"ffmpeg {r['ffmpeg_fps']:.1f} fps  ratio {r['ratio']:.3f}  cpu ms/frame ours "
                  f"{r['ours_cpu_ms']:.1f} ffmpeg {r['ffmpeg_cpu_ms']:.1f}  cpu ratio {r['cpu_ratio']:.3f}",
                  flush=True)
    text = section(rows, args)
    print(text)
    if not args.no_docs:
        write_doc(text)
        print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
