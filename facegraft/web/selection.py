"""Who gets replaced, with which photo: the page's choices turned into a swap request.

The page keeps one small dict, ``assignments``: person id -> what replaces
them (``"all"`` for every uploaded photo fused into one person, ``"photo:k"``
for the k-th photo alone, ``"keep"`` or absent for nobody). This module turns
it into the ``sources`` list and ``select``/``identities`` options of
:func:`facegraft.swap_video`, lists the gallery, and checks uploads against the
server's limits, all without Gradio so that it is unit-tested directly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FacegraftError, MediaError

KEEP = "keep"
ALL = "all"


def photo_choice(k: int) -> str:
    """The assignment value meaning "the k-th uploaded photo" (0-based)."""
    return f"photo:{k}"


def source_choices(source_names: Sequence[str]) -> list[tuple[str, str]]:
    """(label, value) pairs for the "replace with" dropdown."""
    choices = [("Keep the original face", KEEP)]
    if len(source_names) != 1:
        choices.append(("All photos (one person)", ALL))
    else:
        choices.append((f"Photo: {source_names[0]}", ALL))
    if len(source_names) > 1:
        choices += [(f"Photo {k + 1}: {name}", photo_choice(k)) for k, name in enumerate(source_names)]
    return choices


@dataclass(frozen=True)
class SwapPlan:
    """A swap request: photos in order, and the options that pick the target people.

    Attributes:
        sources: the photo paths handed to the pipeline.
        select: ``"identity"`` (every photo is one person, replacing all the
            listed people) or ``"map"`` (photo i replaces person identities[i]).
        identities: person ids, see ``select``.
        groups: for previews, one entry per distinct replacement: the photos and
            the people they replace.
    """

    sources: tuple[str, ...]
    select: str
    identities: tuple[int, ...]
    groups: tuple[tuple[tuple[str, ...], tuple[int, ...]], ...]


def plan_swap(assignments: Mapping[int, str], sources: Sequence[str], known_ids: Sequence[int]) -> SwapPlan:
    """Turn the page's assignments into a :class:`SwapPlan`.

    Raises:
        FacegraftError: no photo, no person picked, a person unknown in this
            target, a photo index out of range, or "all photos" mixed with
            single photos (the pipeline maps single photos or fuses all, not both).
    """
    if not sources:
        raise FacegraftError("upload at least one source photo (the face to put in)")
    chosen = {int(pid): value for pid, value in assignments.items() if value and value != KEEP}
    if not chosen:
        raise FacegraftError("pick at least one person to replace in the face gallery")
    unknown = sorted(set(chosen) - set(known_ids))
    if unknown:
        raise FacegraftError(f"person {unknown[0]} is not in this target; analyse it again")
    ids = tuple(sorted(chosen))
    values = {chosen[i] for i in ids}
    if values == {ALL}:
        paths = tuple(str(s) for s in sources)
        return SwapPlan(paths, "identity", ids, ((paths, ids),))
    if ALL in values:
        raise FacegraftError("either every chosen person gets all photos, or each gets one photo; "
                             "not a mix")
    mapped: list[str] = []
    for i in ids:
        k = int(chosen[i].removeprefix("photo:"))
        if not 0 <= k < len(sources):
            raise FacegraftError(f"photo {k + 1} was removed; choose again for person {i}")
        mapped.append(str(sources[k]))
    groups: dict[str, list[int]] = {}
    for path, i in zip(mapped, ids, strict=True):
        groups.setdefault(path, []).append(i)
    return SwapPlan(tuple(mapped), "map", ids,
                    tuple(((path,), tuple(people)) for path, people in groups.items()))


def default_assignments(identity_ids: Sequence[int]) -> dict[int, str]:
    """The starting choice: replace the most present person (id 0) with all photos."""
    return {int(identity_ids[0]): ALL} if identity_ids else {}


def toggle(assignments: Mapping[int, str], person: int) -> dict[int, str]:
    """Gallery click: pick a person (with all photos) or un-pick them."""
    changed = dict(assignments)
    if changed.get(person, KEEP) == KEEP:
        changed[person] = ALL
    else:
        changed.pop(person)
    return changed


def describe(assignments: Mapping[int, str], source_names: Sequence[str]) -> str:
    """One Markdown line per chosen person, e.g. "Person 0 ← all photos"."""
    labels = dict((value, label) for label, value in source_choices(source_names))
    lines = [f"- **Person {pid}** ← {labels.get(value, value)}"
             for pid, value in sorted(assignments.items()) if value != KEEP]
    return "\n".join(lines) if lines else "_Nobody is selected: click a face above._"


def gallery_items(identities: Sequence[Any], total_frames: int,
                  assignments: Mapping[int, str]) -> list[tuple[np.ndarray, str]]:
    """(thumbnail, caption) per person found; picked people are marked with ✓.

    The caption says in which share of the video's frames the person appears,
    which tells the main person from a passer-by at a glance.
    """
    items = []
    for ident in identities:
        thumb = ident.thumbnail if ident.thumbnail is not None else np.full((64, 64, 3), 128, np.uint8)
        mark = "✓ " if assignments.get(ident.id, KEEP) != KEEP else ""
        share = f" · {100 * ident.frames / total_frames:.0f}%" if total_frames > 1 else ""
        items.append((thumb, f"{mark}Person {ident.id}{share}"))
    return items


def check_target(info: Any, *, max_duration: float, max_side: int, name: str) -> None:
    """Refuse a target beyond the server's limits, with a message saying which and how much.

    Args:
        info: the target's ``MediaInfo`` (from ``facegraft.media.probe``).
        max_duration: longest accepted video in seconds (0: no limit).
        max_side: largest accepted longer side in pixels (0: no limit).
        name: the file name shown to the visitor.

    Raises:
        MediaError: the target is too long or too large.
    """
    side = max(info.width, info.height)
    if max_side and side > max_side:
        raise MediaError(f"{info.width}x{info.height} is larger than this server accepts "
                         f"(longer side at most {max_side} px); scale it down first", name)
    if info.kind == "video" and max_duration and info.duration > max_duration:
        raise MediaError(f"the video lasts {info.duration:.1f} s, longer than this server accepts "
                         f"({max_duration:g} s); trim it first", name)


def upload_name(path: str | Path) -> str:
    """The file name a visitor recognises (not the server's temporary path)."""
    return Path(path).name


def composite_preview(frame: np.ndarray, swapped: np.ndarray, boxes: Sequence[tuple[float, ...]],
                      *, margin: float = 0.25) -> np.ndarray:
    """Keep ``swapped`` only inside the (enlarged, feathered) boxes of the chosen faces.

    The preview runs the single-image swap on the whole frame and then keeps
    only the chosen people's faces, so a frame with several people shows the
    others unchanged, as the video render will.
    """
    import cv2

    h, w = frame.shape[:2]
    mask = np.zeros((h, w), np.float32)
    feather = 1.0
    for x0, y0, x1, y1 in boxes:
        bw, bh = x1 - x0, y1 - y0
        feather = max(feather, 0.1 * max(bw, bh))
        xa, ya = int(max(0, x0 - margin * bw)), int(max(0, y0 - margin * bh))
        xb, yb = int(min(w, x1 + margin * bw)), int(min(h, y1 + margin * bh))
        mask[ya:yb, xa:xb] = 1.0
    if not mask.any():
        return frame.copy()
    k = int(feather) * 2 + 1
    mask = cv2.GaussianBlur(mask, (k, k), 0)[..., None]
    out = frame.astype(np.float32) * (1 - mask) + swapped.astype(np.float32) * mask
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
