"""facegraft: replace a face in a video with a face from photos, on a plain CPU.

The public API is small and every front end (CLI, web page, benchmarks, tests)
goes through it:

Example:
    >>> import facegraft
    >>> report = facegraft.swap_video(["me.jpg"], "clip.mp4", "out.mp4",
    ...                               facegraft.SwapOptions(crf=20))  # doctest: +SKIP
    >>> report.frames_swapped  # doctest: +SKIP
    312
"""

from __future__ import annotations

from .errors import FacegraftError, MediaError, NoFaceError, OptionsError
from .options import SwapOptions
from .types import Face, Identity, SourceFace

__version__ = "0.2.0"

__all__ = [
    "Face",
    "FacegraftError",
    "Identity",
    "MediaError",
    "Models",
    "NoFaceError",
    "OptionsError",
    "SourceFace",
    "SwapOptions",
    "__version__",
    "analyse_faces",
    "swap_image",
    "swap_video",
]


def __getattr__(name: str) -> object:
    # Heavy modules (mediapipe, dlib, PyAV) load on first use so that
    # `facegraft --help` and option validation stay instant.
    if name in ("swap_video", "swap_image"):
        from . import pipeline

        return getattr(pipeline, name)
    if name == "analyse_faces":
        from .analysis.analyse import analyse_faces

        return analyse_faces
    if name == "Models":
        from .analysis.models import Models

        return Models
    raise AttributeError(name)
