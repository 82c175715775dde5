"""Identity measures: who does the output face look like?

The source person is the mean dlib embedding of the source photos; the
original person is the target face's embedding in the same frame. Retrieval
asks a harder question than a threshold: among a gallery of other people
(every face in ``../shared/data/images``), plus the source and the original
target person, is the source the nearest identity?
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import NoFaceError
from ..types import Face

#: dlib's usual same-person distance; also the "within 0.6 of the source" share.
SAME_PERSON = 0.6
#: Gallery faces closer than this to the source or target are the same person
#: (another photo of them) and are counted as that identity, not as a rival.
ALIAS_DISTANCE = 0.5
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


@dataclass(frozen=True, slots=True)
class GalleryEntry:
    """One face of the retrieval gallery: ``label`` is "source", "target" or ``file#index``."""

    label: str
    embedding: np.ndarray


def largest_face(faces: Sequence[Face]) -> Face | None:
    """The biggest face of a list (the subject of a portrait), None when empty."""
    return max(faces, key=lambda f: f.area) if faces else None


def load_image(source: str | Path | np.ndarray) -> np.ndarray:
    """An RGB image from a path (through :mod:`facegraft.media`) or an array as given."""
    if isinstance(source, np.ndarray):
        return source
    from ..media import read_image

    return read_image(source)


def source_embeddings(sources: Sequence[str | Path | np.ndarray], models: object) -> list[np.ndarray]:
    """The embedding of the largest face in each source photo.

    Raises:
        NoFaceError: a source photo has no face.
    """
    out = []
    for i, src in enumerate(sources):
        image = load_image(src)
        face = largest_face(models.detector.detect(image))  # type: ignore[attr-defined]
        if face is None:
            name = src if not isinstance(src, np.ndarray) else f"source #{i}"
            raise NoFaceError("no face found in the source photo", name)
        out.append(np.asarray(models.embedder.embed(image, face), np.float64))  # type: ignore[attr-defined]
    return out


def default_gallery_dir(repo_root: Path | None = None) -> Path | None:
    """``../shared/data/images`` beside the project when it exists, else None."""
    root = repo_root or Path(__file__).resolve().parents[2]
    path = root.parent / "shared" / "data" / "images"
    return path if path.is_dir() else None


def build_gallery(directory: str | Path, models: object, *,
                  exclude: Sequence[str | Path] = ()) -> list[GalleryEntry]:
    """One entry per face in every photo of ``directory`` (sorted, so runs agree).

    Args:
        directory: folder of photos of other people.
        models: the loaded :class:`~facegraft.analysis.models.Models`.
        exclude: files to leave out (the source photos themselves).
    """
    skip = {Path(p).resolve() for p in exclude}
    entries = []
    for path in sorted(Path(directory).iterdir()):
        if path.suffix.lower() not in IMAGE_SUFFIXES or path.resolve() in skip:
            continue
        image = load_image(path)
        for i, face in enumerate(models.detector.detect(image)):  # type: ignore[attr-defined]
            emb = np.asarray(models.embedder.embed(image, face), np.float64)  # type: ignore[attr-defined]
            entries.append(GalleryEntry(f"{path.name}#{i}", emb))
    return entries


def with_subjects(gallery: Sequence[GalleryEntry], source: np.ndarray,
                  target: np.ndarray | None) -> tuple[list[GalleryEntry], int]:
    """The gallery plus the source and target people, with look-alike photos relabelled.

    A gallery photo of the source person (e.g. a second photo of them) would
    otherwise count as a wrong retrieval, so faces within
    :data:`ALIAS_DISTANCE` of the source (or target) take its label.

    Returns:
        (entries, number of gallery faces relabelled as source or target).
    """
    entries = [GalleryEntry("source", np.asarray(source, np.float64))]
    if target is not None:
        entries.append(GalleryEntry("target", np.asarray(target, np.float64)))
    aliased = 0
    for entry in gallery:
        label = entry.label
        if distance(entry.embedding, source) < ALIAS_DISTANCE:
            label, aliased = "source", aliased + 1
        elif target is not None and distance(entry.embedding, target) < ALIAS_DISTANCE:
            label, aliased = "target", aliased + 1
        entries.append(GalleryEntry(label, entry.embedding))
    return entries, aliased


def distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance of two embeddings (dlib's metric)."""
    return float(np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64)))


def nearest(embedding: np.ndarray, entries: Sequence[GalleryEntry]) -> str | None:
    """Label of the gallery entry nearest to ``embedding`` (None for an empty gallery)."""
    if not entries:
        return None
    dists = [distance(embedding, e.embedding) for e in entries]
    return entries[int(np.argmin(dists))].label
