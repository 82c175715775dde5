"""``facegraft live``: swap a camera (or a file played in real time) as it streams."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

from .common import HelpFormatter, add_option_flags, options_from_args

#: Seconds between two status lines.
STATUS_EVERY = 1.0
#: Time base of a recording: the frames' stream times in milliseconds (dropped frames leave gaps).
_MS = Fraction(1, 1000)


def add_parser(sub: Any) -> None:
    p = sub.add_parser("live", help="swap a camera or a file in real time (newest frame wins)",
                       formatter_class=HelpFormatter,
                       description="Swap the face of a camera stream, or of a video file played at its own "
                                   "frame rate, frame by frame with causal smoothing. Frames the machine is "
                                   "too slow for are dropped, never queued, so latency stays bounded. "
                                   "Ctrl-C stops.")
    p.add_argument("-s", "--source", action="append", required=True, metavar="PHOTO",
                   help="photo of the source person (repeat for several photos of the same person)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--camera", type=int, metavar="N", help="camera index (default 0 without --input)")
    where.add_argument("--input", metavar="VIDEO", help="a video file played at its real frame rate")
    p.add_argument("--output", metavar="FILE", help="record the swapped stream to this video file")
    p.add_argument("--virtual-camera", action="store_true",
                   help="send the swapped stream to a virtual camera (needs pyvirtualcam and a device)")
    p.add_argument("-q", "--quiet", action="store_true", help="no status line")
    add_option_flags(p, groups=("select", "look", "render", "time", "output"))
    p.set_defaults(run=run)


def _virtual_camera(width: int, height: int, fps: float) -> Any:
    """A pyvirtualcam camera, or None with one line on stderr when there is none."""
    try:
        import pyvirtualcam  # type: ignore[import-not-found]
    except ImportError:
        print("facegraft: error: --virtual-camera needs the pyvirtualcam package (not installed)",
              file=sys.stderr)
        return None
    try:
        return pyvirtualcam.Camera(width=width, height=height, fps=fps)
    except Exception as exc:  # pyvirtualcam raises RuntimeError and others when no device exists
        print(f"facegraft: error: no virtual camera device ({exc})", file=sys.stderr)
        return None


def run(args: argparse.Namespace) -> int:
    from ..errors import MediaError
    from ..live import LiveFrame, LiveRunner, LiveSwapper
    from ..live.inputs import camera_frames, file_frames
    from ..media import VideoWriter, probe

    options = options_from_args(args)
    info = None
    if args.input is not None:
        info = probe(args.input)  # a bad file is one line and exit 2, before any model loads
        if info.kind != "video":
            raise MediaError("is an image, not a video; live input needs a video or a camera", args.input)
    for photo in [*args.source, *options.references]:
        if not Path(photo).is_file():
            raise MediaError("no such file", photo)
    if args.output and Path(args.output).exists() and not options.overwrite:
        raise MediaError("output exists; pass --overwrite to replace it", args.output)
    if args.virtual_camera:
        import importlib.util

        if importlib.util.find_spec("pyvirtualcam") is None:
            print("facegraft: error: --virtual-camera needs the pyvirtualcam package (not installed)",
                  file=sys.stderr)
            return 2
    sinks: dict[str, Any] = {}
    if args.virtual_camera and info is not None:
        sinks["camera"] = _virtual_camera(info.width, info.height, info.fps or 30.0)
        if sinks["camera"] is None:
            return 2
    if args.output:
        # Made now, so a bad name or codec is one line before any model loads; the file opens on the first frame.
        sinks["writer"] = VideoWriter(args.output, like=info, codec=options.codec, crf=options.crf,
                                      preset=options.preset, overwrite=options.overwrite)
    stop = threading.Event()
    frames = (file_frames(args.input, stop=stop) if args.input is not None
              else camera_frames(args.camera or 0, stop=stop))
    try:
        swapper = LiveSwapper(args.source, options)
    except BaseException:
        if "writer" in sinks:
            sinks["writer"].abort()
        raise
    writer_lock = threading.Lock()

    def on_frame(out: LiveFrame) -> None:
        with writer_lock:
            if "writer" in sinks:
                sinks["writer"].write(out.image, pts=round(out.info.timestamp * 1000), time_base=_MS)
            if args.virtual_camera and "camera" not in sinks:
                h, w = out.image.shape[:2]
                sinks["camera"] = _virtual_camera(w, h, 30.0)
                if sinks["camera"] is None:
                    stop.set()
            if sinks.get("camera") is not None:
                sinks["camera"].send(out.image)

    runner = LiveRunner(swapper, on_frame=on_frame, own=True)
    last = time.perf_counter()
    interrupted = False
    try:
        try:
            for image, timestamp in frames:
                runner.submit(image, timestamp=timestamp)
                now = time.perf_counter()
                if not args.quiet and now - last >= STATUS_EVERY:
                    last = now
                    print(f"\rlive: {runner.stats().line()}", end="", file=sys.stderr, flush=True)
                if stop.is_set():
                    break
            runner.drain()
        except KeyboardInterrupt:
            interrupted = True
        stats = runner.close()
    except BaseException:
        runner.close()
        if "writer" in sinks:
            sinks["writer"].abort()
        raise
    finally:
        stop.set()
    if sinks.get("camera") is not None:
        sinks["camera"].close()
    if args.virtual_camera and sinks.get("camera") is None and "camera" in sinks:
        if "writer" in sinks:
            sinks["writer"].abort()
        return 2
    if "writer" in sinks:
        sinks["writer"].close()
    if not args.quiet:
        print(file=sys.stderr)
    print(f"live: {'stopped' if interrupted else 'done'}: {stats.line()}"
          + (f"; wrote {args.output}" if "writer" in sinks else ""))
    return 0

