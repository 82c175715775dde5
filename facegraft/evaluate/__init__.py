"""Swap-quality evaluation and benchmarks.

:func:`evaluate_swap` measures one output (identity, pose, expression,
temporal stability, fidelity outside the face, container integrity);
:mod:`facegraft.evaluate.bench` times the pipeline on standard cases;
:func:`measure_realism` says whether the new face looks lit, coloured and cut
like the shot (skin tone, shading, feature colour, seam, ghosts, grain).
Metric functions on plain arrays live in :mod:`facegraft.evaluate.metrics`.
"""

from __future__ import annotations

from .evaluate import evaluate_swap, make_passthrough
from .identity import GalleryEntry, build_gallery, default_gallery_dir, source_embeddings

__all__ = ["GalleryEntry", "RealismReport", "build_gallery", "default_gallery_dir", "evaluate_swap",
           "make_passthrough", "measure_realism", "source_embeddings"]


def __getattr__(name: str) -> object:
    # Imported on first use, so `python -m facegraft.evaluate.realism` runs the module only once.
    if name in ("RealismReport", "measure_realism"):
        from . import realism

        return getattr(realism, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
