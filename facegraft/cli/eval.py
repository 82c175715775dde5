"""``facegraft eval``: measure a swap output against its target and sources."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .common import add_option_flags, options_from_args


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "eval", help="Measure a swap: identity, pose, expression, flicker, fidelity, realism, container.",
        description="Evaluate a swap output against the target video it came from. Prints JSON.")
    p.add_argument("--source", action="append", required=True, metavar="PHOTO",
                   help="Source photo the swap used (repeat for several photos of one person).")
    p.add_argument("--target", required=True, help="The original target video.")
    p.add_argument("--output", required=True, help="The swap output to evaluate.")
    p.add_argument("--json", metavar="FILE", help="Also write the JSON result to FILE.")
    p.add_argument("--markdown", metavar="FILE", help="Write a markdown summary table to FILE.")
    p.add_argument("--plot", metavar="FILE", help="Write a PNG plot of per-frame metrics to FILE.")
    p.add_argument("--sample-every", type=int, default=5, metavar="N",
                   help="Compute identity embeddings every N frames (dlib is ~70 ms a face). (default: 5)")
    p.add_argument("--gallery", metavar="DIR", default="auto",
                   help="Photos of other people for ID retrieval (default: ../shared/data/images when "
                        "present); 'none' skips retrieval.")
    p.add_argument("--frames", action="store_true", help="Include per-frame records in the printed JSON.")
    p.add_argument("--occluder-mask", metavar="VIDEO",
                   help="Grayscale video of an occluder's ground-truth mask (255 on it, frame for frame with the "
                        "target): adds the 'occlusion' section (docs/occlusion.md).")
    p.add_argument("--realism-frames", type=int, default=16, metavar="N",
                   help="Frames sampled for the 'realism' section (skin tone, shading, feature colour, seam, "
                        "ghosts, grain; docs/eval.md); 0 leaves it out. (default: 16)")
    add_option_flags(p, groups=("select", "output"))
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..analysis.models import Models
    from ..evaluate import build_gallery, default_gallery_dir, evaluate_swap
    from ..evaluate.report import eval_markdown, eval_plot, jsonable, write_json

    options = options_from_args(args)
    models = Models()
    gallery_dir = default_gallery_dir() if args.gallery == "auto" else (
        None if args.gallery == "none" else Path(args.gallery))
    gallery = build_gallery(gallery_dir, models, exclude=args.source) if gallery_dir else None
    result = evaluate_swap(args.source, args.target, args.output, options=options, models=models,
                           gallery=gallery, sample_every=args.sample_every, occluder_mask=args.occluder_mask,
                           realism_frames=max(0, args.realism_frames))
    result["inputs"]["gallery"] = str(gallery_dir) if gallery_dir else None
    if args.json:
        write_json(args.json, result)
    if args.markdown:
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text(eval_markdown(result))
    if args.plot:
        eval_plot(result, args.plot)
    shown = result if args.frames else {k: v for k, v in result.items() if k != "frames"}
    json.dump(jsonable(shown), sys.stdout, indent=2, allow_nan=False)
    sys.stdout.write("\n")
    return 0
