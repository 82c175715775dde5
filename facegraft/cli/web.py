"""``facegraft web``: serve the web page (Gradio) on this machine."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path
from typing import Any


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "web", help="serve the web page",
        description="Serve the web page: upload photos and a target, pick faces, preview, swap, download. "
                    "Opens with a built-in example so one click shows a result.")
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to listen on; 0.0.0.0 exposes it to the network (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860, help="TCP port (default: 7860)")
    parser.add_argument("--concurrency", type=int, default=1,
                        help="swaps running at once, each on a core; others wait in the queue (default: 1)")
    parser.add_argument("--max-upload-mb", type=float, default=200.0,
                        help="largest accepted upload in MB (default: 200)")
    parser.add_argument("--max-duration", type=float, default=120.0,
                        help="longest accepted target video in seconds, 0 for no limit (default: 120)")
    parser.add_argument("--max-side", type=int, default=2160,
                        help="largest accepted longer side of a target in px, 0 for no limit (default: 2160)")
    parser.add_argument("--root", type=Path, default=None,
                        help="folder in which the app makes its own temporary folder, removed at exit "
                             "(default: the system's temporary folder)")
    parser.add_argument("--log-uploads", action="store_true",
                        help="log the names of visitors' files and the messages about them (default: off; "
                             "an unexpected failure is then logged without its message)")
    parser.add_argument("--no-example", dest="example", action="store_false",
                        help="start with empty inputs instead of the built-in example")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..web.config import WebConfig

    config = WebConfig(host=args.host, port=args.port, concurrency=args.concurrency,
                       max_upload_mb=args.max_upload_mb, max_duration=args.max_duration,
                       max_side=args.max_side, example=args.example, root=args.root,
                       log_uploads=args.log_uploads)
    from ..web.app import serve

    # A service manager (or a Space) stops the server with SIGTERM: turn it into the same
    # clean shutdown as Ctrl+C, so running jobs stop and every temporary file is removed.
    signal.signal(signal.SIGTERM, _interrupt)
    print(f"facegraft web: serving on http://{config.host}:{config.port} (Ctrl+C stops)", flush=True)
    serve(config, block=True)
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
