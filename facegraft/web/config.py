"""Settings of one web server: where it listens and what it accepts.

One frozen record, built by ``facegraft web`` (or the Space's ``app.py``) and
handed to :func:`facegraft.web.app.build_app`, so that no handler reads
settings from globals or the environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import OptionsError


@dataclass(frozen=True, kw_only=True)
class WebConfig:
    """How the page runs and which uploads it accepts.

    Attributes:
        host: interface to listen on (127.0.0.1 keeps it local).
        port: TCP port.
        concurrency: how many swaps (and previews, and analyses: they share
            one limit because each one keeps a CPU core busy) run at once;
            the rest wait in Gradio's queue.
        max_upload_mb: largest accepted upload, in MB (Gradio refuses bigger
            files before they reach the disk).
        max_duration: longest accepted target video in seconds (0: no limit).
        max_side: largest accepted longer side of a target, in pixels (0: no limit).
        example: preload the built-in example (Grace Hopper onto the astronaut).
        root: folder in which the app makes its own folder for all of its
            files (examples, session folders); the system's temporary folder
            when None.
        log_uploads: write the names of visitors' files and the messages about
            them to the server log (off: an unexpected failure is logged with its
            stack frames but without its message, which may name a file).
    """

    host: str = "127.0.0.1"
    port: int = 7860
    concurrency: int = 1
    max_upload_mb: float = 200.0
    max_duration: float = 120.0
    max_side: int = 2160
    example: bool = True
    root: Path | None = None
    log_uploads: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.concurrency <= 64:
            raise OptionsError(f"concurrency={self.concurrency} is outside [1, 64]")
        if self.max_upload_mb <= 0:
            raise OptionsError(f"max-upload-mb={self.max_upload_mb} must be positive")
        if self.max_duration < 0 or self.max_side < 0:
            raise OptionsError("max-duration and max-side must be >= 0 (0: no limit)")
        if not 0 < self.port < 65536:
            raise OptionsError(f"port={self.port} is not a TCP port")

    @property
    def max_file_size(self) -> int:
        """The upload limit in bytes, as Gradio's ``launch(max_file_size=...)`` takes it."""
        return int(self.max_upload_mb * 1024 * 1024)
