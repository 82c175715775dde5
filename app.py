"""Entry point of the Hugging Face Space (``sdk: gradio``, ``app_file: app.py``).

A Space runs ``python app.py`` from the repository root and expects the page on
0.0.0.0:7860. The limits are tighter than the CLI's defaults because a free
Space has 2 shared CPU cores; change them with the environment variables
below (Space settings -> Variables). See docs/web.md.
"""

from __future__ import annotations

import os
import signal

from facegraft.web import WebConfig, serve


def config_from_env() -> WebConfig:
    """The Space's settings, overridable by FACEGRAFT_* variables."""
    env = os.environ.get
    return WebConfig(
        host=env("GRADIO_SERVER_NAME", "0.0.0.0"),
        port=int(env("GRADIO_SERVER_PORT", env("PORT", "7860"))),
        concurrency=int(env("FACEGRAFT_CONCURRENCY", "1")),
        max_upload_mb=float(env("FACEGRAFT_MAX_UPLOAD_MB", "100")),
        max_duration=float(env("FACEGRAFT_MAX_DURATION", "30")),
        max_side=int(env("FACEGRAFT_MAX_SIDE", "1280")),
        example=env("FACEGRAFT_EXAMPLE", "1") != "0",
    )


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # a stopping Space sends SIGTERM: shut down cleanly, removing temp files


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _interrupt)
    serve(config_from_env())
