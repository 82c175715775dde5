"""One record per (frame, selected target face), and matching output faces to target faces."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..types import Face

#: Least box overlap for an output face to be "the face at the target face's place".
MATCH_IOU = 0.3


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match_faces(targets: Sequence[Face], found: Sequence[Face]) -> list[tuple[Face, Face | None]]:
    """Pair each target face with the output face at the same place (greedy by overlap).

    The swap keeps the target's pose and position, so the replaced face sits
    where the original was; an output face overlapping less than
    :data:`MATCH_IOU` is not the same face.
    """
    candidates = sorted(((_iou(t.bbox, f.bbox), ti, fi) for ti, t in enumerate(targets)
                         for fi, f in enumerate(found)), reverse=True)
    used_t: dict[int, int] = {}
    used_f: set[int] = set()
    for score, ti, fi in candidates:
        if score < MATCH_IOU:
            break
        if ti not in used_t and fi not in used_f:
            used_t[ti] = fi
            used_f.add(fi)
    return [(t, found[used_t[ti]] if ti in used_t else None) for ti, t in enumerate(targets)]


@dataclass(slots=True)
class FrameRecord:
    """Measurements of one selected target face in one frame of the output.

    Attributes:
        frame: frame index.
        identity: the target person's identity id.
        output_found: a face was found in the output where the target face is.
        sampled: embeddings were computed in this frame.
        dist_source / dist_target: output-face embedding distance to the source
            person (mean of the photos) and to the original face in this frame.
        target_to_source: distance of the original face to the source (the
            starting point the swap had to cover).
        nearest: label of the nearest gallery identity ("source", "target", a file).
        pose: (yaw, pitch, roll) of the output face relative to the target face, degrees.
        inside_mad: mean absolute pixel difference to the pass-through inside the face hull.
        unchanged: the face pixels are those of the pass-through (not swapped).
    """

    frame: int
    identity: int
    output_found: bool
    sampled: bool = False
    dist_source: float | None = None
    dist_target: float | None = None
    target_to_source: float | None = None
    nearest: str | None = None
    pose: tuple[float, float, float] | None = None
    mouth_target: float | None = None
    mouth_output: float | None = None
    eye_target: float | None = None
    eye_output: float | None = None
    inside_mad: float | None = None
    unchanged: bool = False
    landmarks_target: np.ndarray | None = None
    landmarks_output: np.ndarray | None = None

    def is_fallback(self) -> bool:
        """The output shows the original person here: no face, or closer to the original than the source."""
        if not self.output_found or self.dist_source is None or self.dist_target is None:
            return True
        return self.dist_target <= self.dist_source

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields (landmarks left out)."""
        out: dict[str, Any] = {}
        for name in self.__slots__:  # type: ignore[attr-defined]
            if name.startswith("landmarks"):
                continue
            value = getattr(self, name)
            if isinstance(value, float) and not math.isfinite(value):
                value = None
            out[name] = list(value) if isinstance(value, tuple) else value
        return out
