"""Swap-quality evaluation and benchmarks.

:func:`evaluate_swap` measures one output (identity, pose, expression,
temporal stability, fidelity outside the face, container integrity);
:mod:`facegraft.evaluate.bench` times the pipeline on standard cases.
Metric functions on plain arrays live in :mod:`facegraft.evaluate.metrics`.
"""

from __future__ import annotations

from .evaluate import evaluate_swap, make_passthrough
from .identity import GalleryEntry, build_gallery, default_gallery_dir, source_embeddings

__all__ = ["GalleryEntry", "build_gallery", "default_gallery_dir", "evaluate_swap", "make_passthrough",
           "source_embeddings"]
