"""Which target people get replaced, and by which source (``SwapOptions.select``).

Rules:
    * ``auto``: one person in the video -> that person; several -> the most
      present one (identity 0), with a warning saying so.
    * ``all``: every identity.
    * ``identity``: the ids in ``options.identities`` (from ``facegraft faces``).
    * ``reference``: identities whose embedding is within
      ``options.match_threshold`` of a reference photo's.
    * ``map``: source ``i`` replaces identity ``options.identities[i]``.

With one source every selected identity gets source 0; with ``reference`` and
as many sources as reference photos, reference ``i`` selects for source ``i``.

Example:
    >>> sel = select_identities(analysis, SwapOptions(select="all"), [src.embedding])  # doctest: +SKIP
    >>> sel.mapping, sel.warnings  # doctest: +SKIP
    ({0: 0, 1: 0}, [])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..errors import OptionsError
from ..options import SwapOptions
from .embedder import embedding_distance

if TYPE_CHECKING:
    from .analyse import VideoAnalysis


@dataclass(frozen=True, slots=True)
class Selection:
    """The outcome of a selection rule.

    Attributes:
        mapping: identity id -> index of the source that replaces it.
        warnings: plain-language notes for the user (nothing found, a choice made).
    """

    mapping: dict[int, int]
    warnings: list[str] = field(default_factory=list)


def select_identities(analysis: VideoAnalysis, options: SwapOptions, source_embeddings: Sequence[np.ndarray | None],
                      *, reference_embeddings: Sequence[np.ndarray] = ()) -> Selection:
    """Apply ``options.select`` to the people found in the target.

    Args:
        analysis: the target's analysis.
        options: uses ``select``, ``identities`` and ``match_threshold``.
        source_embeddings: one per source (person); only their number is used
            except by ``reference``'s one-to-one case.
        reference_embeddings: embeddings of ``options.references`` photos
            (select=reference), in the same order.

    Returns:
        The :class:`Selection`.

    Raises:
        OptionsError: an identity id does not exist, or ``map`` pairs a
            different number of sources and identities.
    """
    people = analysis.identities
    ids = [p.id for p in people]
    n_sources = max(1, len(source_embeddings))
    if not people:
        return Selection({}, ["no face was found in the target; nothing to replace"])
    mode = options.select
    if mode == "auto":
        if len(people) == 1:
            return Selection({people[0].id: 0})
        top = people[0]
        return Selection({top.id: 0}, [
            f"{len(people)} people found; replacing the most present one (identity {top.id}, "
            f"{top.frames} frames). Choose others with select=identity, all, reference or map."])
    if mode == "all":
        return Selection({i: 0 for i in ids})
    if mode in ("identity", "map"):
        unknown = [i for i in options.identities if i not in ids]
        if unknown:
            raise OptionsError(f"identity {', '.join(map(str, unknown))} not found; the target has "
                               f"identities {', '.join(map(str, ids))}")
        if mode == "identity":
            return Selection({i: 0 for i in options.identities})
        if len(options.identities) != len(source_embeddings):
            raise OptionsError(f"select=map pairs sources with identities one to one: got "
                               f"{len(source_embeddings)} sources and {len(options.identities)} identities")
        return Selection({ident: i for i, ident in enumerate(options.identities)})
    # reference
    if not reference_embeddings:
        raise OptionsError("select=reference needs the embeddings of the reference photos")
    one_to_one = len(reference_embeddings) == n_sources > 1
    mapping: dict[int, int] = {}
    for person in people:
        if person.embedding is None:
            continue
        dists = [embedding_distance(person.embedding, ref) for ref in reference_embeddings]
        best = int(np.argmin(dists))
        if dists[best] < options.match_threshold:
            mapping[person.id] = best if one_to_one else 0
    warnings = [] if mapping else [
        f"no one in the target matches the reference photo(s) within {options.match_threshold}; nothing replaced"]
    return Selection(mapping, warnings)
