"""``facegraft faces``: list the people in a video, to choose whom to replace."""

from __future__ import annotations

import argparse
import base64
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ..analysis.analyse import VideoAnalysis


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "faces", help="List the people found in a video (ids for --select identity/map).",
        description="Detect, track and identify the faces of a video or image. Prints JSON: one entry per "
                    "person with id (0 = most present), frames present, first frame and a PNG thumbnail.")
    p.add_argument("target", metavar="VIDEO", help="Video (or image) to analyse.")
    p.add_argument("--json", metavar="FILE", help="Also write the JSON to FILE.")
    p.add_argument("--sheet", metavar="PNG", help="Write a contact sheet of the people to PNG.")
    p.add_argument("--detect-every", type=int, default=10, metavar="N",
                   help="Frames between full detections; faces are tracked in between. (default: 10)")
    p.add_argument("--overwrite", action="store_true", help="Replace existing --json/--sheet files.")
    p.set_defaults(run=run)


def _png_data_uri(rgb: np.ndarray) -> str:
    import cv2

    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError("PNG encoding failed")
    return "data:image/png;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def faces_json(analysis: VideoAnalysis) -> dict[str, Any]:
    """The JSON-ready summary of an analysis."""
    return {
        "file": str(analysis.info.path),
        "frames": len(analysis.frames),
        "frames_with_faces": sum(1 for f in analysis.frames if f),
        "scene_cuts": analysis.scene_cuts,
        "seconds": round(analysis.seconds, 3),
        "identities": [{"id": p.id, "frames": p.frames, "first_frame": p.first_frame,
                        "tracks": p.track_ids,
                        "thumbnail": None if p.thumbnail is None else _png_data_uri(p.thumbnail)}
                       for p in analysis.identities],
    }


def contact_sheet(analysis: VideoAnalysis, *, columns: int = 6, size: int = 128) -> np.ndarray:
    """A grid of the identities' thumbnails, each captioned with its id and frame count (RGB)."""
    import cv2

    people = analysis.identities
    cols = max(1, min(columns, len(people)))
    rows = max(1, math.ceil(len(people) / cols))
    cell_h = size + 36
    sheet = np.full((rows * cell_h, cols * size, 3), 255, np.uint8)
    for k, p in enumerate(people):
        y, x = (k // cols) * cell_h, (k % cols) * size
        if p.thumbnail is not None:
            sheet[y:y + size, x:x + size] = cv2.resize(p.thumbnail, (size, size), interpolation=cv2.INTER_AREA)
        cv2.putText(sheet, f"id {p.id}", (x + 4, y + size + 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1,
                    cv2.LINE_AA)
        cv2.putText(sheet, f"{p.frames} fr, from {p.first_frame}", (x + 4, y + size + 30),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4, (60, 60, 60), 1, cv2.LINE_AA)
    return sheet


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..analysis.analyse import analyse_faces
    from ..analysis.models import Models
    from ..errors import FacegraftError
    from ..media import write_image

    for out in (args.json, args.sheet):
        if out and Path(out).exists() and not args.overwrite:
            raise FacegraftError("exists; pass --overwrite to replace it", out)
    with Models() as models, tqdm(desc="analysing", unit="frame", file=sys.stderr, leave=False) as bar:
        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        analysis = analyse_faces(args.target, models=models, progress=progress, detect_every=args.detect_every)
    result = faces_json(analysis)
    text = json.dumps(result, indent=2)
    if args.json:
        Path(args.json).write_text(text + "\n")
    if args.sheet:
        write_image(args.sheet, contact_sheet(analysis), overwrite=args.overwrite)
    sys.stdout.write(text + "\n")
    return 0
