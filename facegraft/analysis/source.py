"""Source photos -> :class:`~facegraft.types.SourceFace`, analysed once.

Example:
    >>> notes: list[str] = []
    >>> source = prepare_source(["me.jpg", "me2.jpg"], models, notes=notes)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import NoFaceError
from ..types import Face, SourceFace
from ._io import load_image

if TYPE_CHECKING:
    from .models import Models


def prepare_source(sources: Sequence[str | Path | np.ndarray] | str | Path | np.ndarray, models: Models, *,
                   face_index: int | None = None, notes: list[str] | None = None,
                   name: str | None = None, embed: bool = True) -> SourceFace:
    """Find the face in each photo of one source person and embed it.

    Args:
        sources: photo paths or RGB arrays of the same person.
        models: loaded models.
        face_index: which face to take when a photo holds several (0 =
            largest); default: the largest, with a note.
        notes: list to append plain-language notes to (several faces...).
        name: label for messages; default: the first file's name.
        embed: compute the identity embedding (dlib, ~100 ms a photo); a
            swap never reads it (the selection rules only count the sources),
            so :func:`~facegraft.pipeline.load_sources` turns it off.

    Returns:
        The :class:`SourceFace` (embedding: mean over the photos; None when not ``embed``).

    Raises:
        NoFaceError: a photo has no face (or fewer than ``face_index + 1``).
        MediaError: a photo cannot be read.
    """
    if isinstance(sources, str | Path | np.ndarray):
        sources = [sources]
    images, faces, vectors = [], [], []
    for k, src in enumerate(sources):
        label = str(src) if not isinstance(src, np.ndarray) else f"source image {k}"
        image = np.ascontiguousarray(src if isinstance(src, np.ndarray) else load_image(src))
        found = models.detector.detect(image)
        if not found:
            raise NoFaceError("no face found in this photo", label)
        face = _pick(found, face_index, label, notes)
        images.append(image)
        faces.append(face)
        if embed:
            vectors.append(models.embedder.embed(image, face))
    embedding = np.mean(vectors, axis=0).astype(np.float32) if embed else None
    faces = [f.with_(embedding=v) for f, v in zip(faces, vectors, strict=True)] if embed else faces
    first = sources[0]
    label = name or (Path(first).name if not isinstance(first, np.ndarray) else "source")
    return SourceFace(images=tuple(images), faces=tuple(faces), embedding=embedding, name=label)


def _pick(found: list[Face], face_index: int | None, label: str, notes: list[str] | None) -> Face:
    """The chosen face of a photo (``found`` is sorted largest first)."""
    if face_index is not None:
        if face_index >= len(found):
            raise NoFaceError(f"face {face_index} requested but only {len(found)} found", label)
        return found[face_index]
    if len(found) > 1 and notes is not None:
        notes.append(f"{label}: {len(found)} faces found; using the largest")
    return found[0]
