"""``facegraft swap``: replace faces in a video or image."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from typing import Any

from .common import HelpFormatter, add_option_flags, options_from_args


def add_parser(sub: Any) -> None:
    p = sub.add_parser("swap", help="replace faces in a video or image", formatter_class=HelpFormatter,
                       description="Replace faces in a video or image with the face from one or more photos. "
                                   "Every input timestamp and the audio are kept.")
    files = p.add_argument_group("files")
    files.add_argument("-s", "--source", action="append", required=True, metavar="PHOTO",
                       help="Photo of the new face (repeat: more photos, or one per person with --select map).")
    files.add_argument("-t", "--target", required=True, metavar="VIDEO", help="Video or image to change.")
    files.add_argument("-o", "--output", required=True, metavar="FILE", help="Output file: .mp4, .webm, .png, .jpg.")
    files.add_argument("--report", metavar="JSON", help="Also write the swap report as JSON.")
    files.add_argument("-q", "--quiet", action="store_true", help="No progress bar.")
    add_option_flags(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..pipeline import Progress, swap_video

    options = options_from_args(args)
    bars: dict[str, tqdm] = {}

    def progress(p: Progress) -> None:
        if args.quiet:
            return
        bar = bars.get(p.stage)
        if bar is None:
            for other in bars.values():
                other.close()
            bar = bars[p.stage] = tqdm(total=p.total or None, desc=p.stage, unit="frame", file=sys.stderr)
        bar.n = p.done
        bar.refresh()

    cancel = threading.Event()
    try:
        report = swap_video(args.source, args.target, args.output, options, progress=progress, cancel=cancel)
    finally:
        for bar in bars.values():
            bar.close()
    for warning in report.warnings:
        print(f"facegraft: warning: {warning}", file=sys.stderr)
    summary = {"output": str(report.output), "frames": report.frames, "frames_swapped": report.frames_swapped,
               "identities": report.identities, "timings": {k: round(v, 3) for k, v in report.timings.items()},
               "mouth_rise": {str(k): v for k, v in report.mouth_rise.items()}}
    if args.report:
        with open(args.report, "w") as fh:
            json.dump(summary, fh, indent=2)
    print(f"wrote {report.output}: {report.frames} frames, faces replaced in {report.frames_swapped}")
    return 0
