"""``facegraft bench``: swap speed on standard cases against a plain ffmpeg transcode."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from ..evaluate.bench import CASES

    names = [c.name for c in CASES]
    p = subparsers.add_parser(
        "bench", help="Benchmark the swap on standard clips (fps, × ffmpeg, memory, stage times).",
        description="Run facegraft.swap_video on standard cases made from ../shared/data and write "
                    "JSON, a markdown table and a plot.")
    p.add_argument("--cases", nargs="+", choices=names, default=names, metavar="CASE",
                   help=f"Cases to run: {', '.join(names)} (default: all).")
    p.add_argument("--out", default="docs", metavar="DIR",
                   help="Folder for benchmarks-swap.json, benchmarks.png and the bench section of "
                        "benchmarks.md. (default: docs)")
    p.add_argument("--eval", action="store_true", help="Also run `facegraft eval` metrics on each output.")
    p.add_argument("--work", metavar="DIR", help="Keep the clips and outputs here (default: a temp folder).")
    p.add_argument("--live", action="store_true",
                   help="Run the live benchmark instead (640x480 played in real time; docs/live.md).")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..evaluate.bench import CASES, run_case
    from ..evaluate.benchdocs import machine, write_bench

    if args.live:
        return _run_live(args)
    cases = [c for c in CASES if c.name in args.cases]
    models = gallery = None
    if args.eval:
        from ..analysis.models import Models
        from ..evaluate import build_gallery, default_gallery_dir

        models = Models()
        gallery_dir = default_gallery_dir()
        gallery = build_gallery(gallery_dir, models) if gallery_dir else None
    rows = []
    with tempfile.TemporaryDirectory(prefix="facegraft-bench-") as tmp:
        work = Path(args.work) if args.work else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for case in cases:
            print(f"bench: {case.name} ...", file=sys.stderr, flush=True)
            rows.append(run_case(case, work, evaluate=args.eval, models=models, gallery=gallery))
            r = rows[-1]
            print(f"bench: {case.name}: {r['fps']:.1f} fps, {r['ratio_to_ffmpeg']:.1f}x ffmpeg, "
                  f"{r['peak_rss_mb']:.0f} MB", file=sys.stderr, flush=True)
    meta = {"machine": machine(), "date": time.strftime("%Y-%m-%d"),
            "command": "facegraft bench " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["bench"]
            else "facegraft bench"}
    paths = write_bench(rows, meta, args.out)
    print(json.dumps({k: str(v) for k, v in paths.items()}, indent=2))
    return 0


def _run_live(args: argparse.Namespace) -> int:
    from ..evaluate.benchdocs import machine
    from ..evaluate.livebench import run_live_bench, write_live_docs

    with tempfile.TemporaryDirectory(prefix="facegraft-bench-") as tmp:
        work = Path(args.work) if args.work else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        print("bench: live-640x480 (played in real time) ...", file=sys.stderr, flush=True)
        load = os.getloadavg()[0]
        row = run_live_bench(work)
    # A real-time figure depends on what else the machine runs: its load average is part of the figure.
    meta = {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "command": "facegraft bench --live",
            "load_before": round(load, 2), "load_after": round(os.getloadavg()[0], 2)}
    paths = write_live_docs(row, meta, args.out)
    print(f"bench: live: {row['fps']:.1f} fps, p95 {row['latency_p95_ms']:.0f} ms, dropped {row['dropped']}, "
          f"fall-back {row['fallback_in_view']}", file=sys.stderr, flush=True)
    print(json.dumps({k: str(v) for k, v in paths.items()}, indent=2))
    return 0
