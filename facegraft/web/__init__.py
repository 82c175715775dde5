"""The web page: a Gradio front end over :func:`facegraft.swap_video`.

Start it with ``facegraft web`` (see ``docs/web.md``). Gradio is imported
only when the page is built, so the rest of the package does not need it.
"""

from __future__ import annotations

from .config import WebConfig

__all__ = ["WebConfig", "build_app", "serve"]


def __getattr__(name: str) -> object:
    if name in ("build_app", "serve"):
        from . import app

        return getattr(app, name)
    raise AttributeError(name)
