"""The face-mesh topology: triangles and named regions of the 478-point mesh.

mediapipe ships the mesh only as edge sets (``FACEMESH_TESSELATION`` and the
contour sets); the triangles are recovered once as the 3-cliques of the edge
graph, and each contour is walked into an ordered polygon. Everything here is
computed once per process and is read-only afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

#: Inner-lip ring (the mouth opening), in order.
MOUTH_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191)
#: Outer-lip ring, in order.
MOUTH_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
#: Points that move little with expression: used to fit head pose.
RIGID_POINTS = (1, 4, 5, 6, 168, 197, 195, 33, 133, 263, 362, 10, 151, 9, 8, 234, 454, 127, 356, 152,
                61, 291, 98, 327, 2, 129, 358)
#: Points on the face's midline: each is its own mirror image.
MIDLINE = (0, 1, 2, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 94, 151, 152, 164, 168, 175, 195, 197,
           199, 200)
#: Mirror images of the iris points 468-477 (centre, then the ring: the inner and outer points swap).
IRIS_MIRROR = (473, 476, 475, 474, 477, 468, 471, 470, 469, 472)


def _ordered_ring(edges: frozenset[tuple[int, int]]) -> tuple[int, ...]:
    """Walk a closed contour given as an undirected edge set."""
    adj: dict[int, list[int]] = {}
    for a, b in edges:
        adj.setdefault(a, []).append(b)
        adj.setdefault(b, []).append(a)
    start = min(adj)
    ring, prev, cur = [start], -1, start
    while True:
        nxt = next((n for n in adj[cur] if n != prev), None)
        if nxt is None or nxt == start:
            break
        ring.append(nxt)
        prev, cur = cur, nxt
        if len(ring) > len(adj):
            break
    return tuple(ring)


#: Index of the lips in :attr:`MeshTopology.parts` (after the two eyes).
LIPS_PART = 2


@dataclass(frozen=True)
class MeshTopology:
    """Triangles and regions of mediapipe's face mesh.

    Attributes:
        triangles: (T, 3) int32 vertex indices, wound consistently so that a
            front-facing triangle has positive signed area in image space.
        face_oval: ordered outline of the face (forehead, temples, jaw).
        mouth_inner: ordered inner-lip ring.
        left_eye, right_eye: ordered eyelid rings.
        left_brow, right_brow, mouth_outer, nose: eyebrow points, the outer-lip ring, nose points.
        identity_weight: (478,) weights in [0, 1] of how much each point may
            move toward the source's shape (0 on the outline, 1 on the eyes,
            nose and mouth), smooth in between so the warp stays continuous.
        parts: (corner_a, corner_b, weight) of the expressive parts (eyes, lips).
        eye_tris, mouth_tris: indices into ``triangles`` of the fans closing
            the eye and mouth openings.
        mirror: (478,) the left/right mirror image of each point (an
            involution; midline points map to themselves), see :func:`mirror_pairs`.
    """

    triangles: np.ndarray
    face_oval: tuple[int, ...]
    mouth_inner: tuple[int, ...]
    left_eye: tuple[int, ...]
    right_eye: tuple[int, ...]
    left_iris: tuple[int, ...]
    right_iris: tuple[int, ...]
    identity_weight: np.ndarray
    parts: tuple[tuple[int, int, np.ndarray], ...] = ()
    left_brow: tuple[int, ...] = ()
    right_brow: tuple[int, ...] = ()
    mouth_outer: tuple[int, ...] = ()
    nose: tuple[int, ...] = ()
    eye_tris: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    mouth_tris: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    mirror: np.ndarray = field(default_factory=lambda: mirror_pairs())

    @property
    def side(self) -> np.ndarray:
        """(478,) -1 on the person's right half (image left), +1 on the left half, 0 on the midline."""
        return np.sign(np.arange(len(self.mirror)) - self.mirror).astype(np.int8)


def mirror_pairs() -> np.ndarray:
    """The left/right mirror image of each of the 478 points.

    mediapipe's canonical face model is symmetric and numbered so that the
    points of the person's right half (those below 248 that are not on the
    midline) and of the left half (248-467) come in the same order: the k-th
    of one is the mirror of the k-th of the other. Checked against real
    frontal faces (reflected, aligned, matched point to point) in the tests;
    the tessellation itself is not exactly symmetric (6 of 1322 edges are
    split the other way), so the pairing is not derived from the edge graph.
    """
    midline = set(MIDLINE)
    right = [i for i in range(248) if i not in midline]
    mirror = np.arange(478, dtype=np.int32)
    mirror[right] = np.arange(248, 468)
    mirror[248:468] = right
    mirror[468:] = IRIS_MIRROR
    return mirror


def _hops(adj: dict[int, set[int]], seeds: tuple[int, ...] | list[int]) -> np.ndarray:
    """Graph distance (in mesh edges) of every point from a set of seed points."""
    hops = np.full(478, 99, np.int32)
    frontier = list(seeds)
    hops[frontier] = 0
    level = 0
    while frontier:
        level += 1
        nxt = {n for v in frontier for n in adj.get(v, ()) if hops[n] > level}
        for n in nxt:
            hops[n] = level
        frontier = list(nxt)
    return hops


def _triangles(edges: frozenset[tuple[int, int]]) -> np.ndarray:
    pairs = {tuple(sorted(e)) for e in edges}
    adj: dict[int, set[int]] = {}
    for a, b in pairs:
        adj.setdefault(a, set()).add(b)
        adj.setdefault(b, set()).add(a)
    tris = {tuple(sorted((a, b, c))) for a, b in pairs for c in adj[a] & adj[b]}
    # A clique whose three edges all belong to other triangles too spans a
    # fold (two occur beside the nostrils): it is not a face of the mesh.
    count: dict[tuple[int, int], int] = {}
    for a, b, c in tris:
        for e in ((a, b), (b, c), (a, c)):
            count[e] = count.get(e, 0) + 1
    faces = [t for t in tris if not all(count[e] > 2 for e in ((t[0], t[1]), (t[1], t[2]), (t[0], t[2])))]
    return np.array(sorted(faces), dtype=np.int32)


def _fan(ring: tuple[int, ...], hub: int | None = None) -> np.ndarray:
    """Triangles closing a hole: a fan from ``hub`` (or from the ring's first point)."""
    if hub is None:
        return np.array([(ring[0], ring[i], ring[i + 1]) for i in range(1, len(ring) - 1)], np.int32)
    return np.array([(hub, ring[i], ring[(i + 1) % len(ring)]) for i in range(len(ring))], np.int32)


@lru_cache(maxsize=1)
def mesh_topology() -> MeshTopology:
    """The topology, built once (mediapipe's connection sets are pure data)."""
    from mediapipe.python.solutions import face_mesh_connections as fmc

    right_eye, left_eye = _ordered_ring(fmc.FACEMESH_RIGHT_EYE), _ordered_ring(fmc.FACEMESH_LEFT_EYE)
    # The tessellation leaves the eyes and mouth open; close them (eyes as fans
    # from the iris centres 468/473, so the warp follows the target's gaze) so
    # the source's eyes are rendered and the mouth can be masked explicitly.
    base = _triangles(fmc.FACEMESH_TESSELATION)
    fans = [_fan(right_eye, 468), _fan(left_eye, 473), _fan(MOUTH_INNER)]
    tris = _consistent_winding(np.concatenate([base, *fans]))
    first = len(base)
    eye_tris = np.arange(first, first + len(fans[0]) + len(fans[1]))
    mouth_tris = np.arange(eye_tris[-1] + 1, len(tris))
    oval = _ordered_ring(fmc.FACEMESH_FACE_OVAL)
    weight = np.zeros(478, np.float32)
    # Distance (in graph hops) from the outline gives a smooth 0..1 ramp.
    adj: dict[int, set[int]] = {}
    for a, b in fmc.FACEMESH_TESSELATION:
        adj.setdefault(a, set()).add(b)
        adj.setdefault(b, set()).add(a)
    hops = _hops(adj, oval)
    weight[:468] = np.clip((hops[:468] - 1) / 3.0, 0.0, 1.0)
    weight[468:] = 1.0  # iris points follow the eyes
    # Eyelids and lips carry expression (blinks, smiles) as much as identity:
    # they take the source's part only as a whole (position and size, from
    # the two corners), never its opening or curvature.
    for centre in (468, 473):
        adj.setdefault(centre, set()).update(range(centre + 1, centre + 5))
    parts = []
    for ring, corners, extra in ((right_eye, (33, 133), tuple(range(468, 473))),
                                 (left_eye, (263, 362), tuple(range(473, 478))),
                                 (tuple(sorted({v for e in fmc.FACEMESH_LIPS for v in e})), (61, 291), ())):
        h = _hops(adj, list(ring) + list(extra))
        part_weight = np.clip(1.0 - (h - 1) / 2.0, 0.0, 1.0).astype(np.float32)
        parts.append((corners[0], corners[1], part_weight))
    return MeshTopology(
        triangles=tris,
        face_oval=oval,
        mouth_inner=MOUTH_INNER,
        left_eye=left_eye,
        right_eye=right_eye,
        left_iris=_ordered_ring(fmc.FACEMESH_LEFT_IRIS),
        right_iris=_ordered_ring(fmc.FACEMESH_RIGHT_IRIS),
        identity_weight=weight,
        parts=tuple(parts),
        left_brow=tuple(sorted({v for e in fmc.FACEMESH_LEFT_EYEBROW for v in e})),
        right_brow=tuple(sorted({v for e in fmc.FACEMESH_RIGHT_EYEBROW for v in e})),
        mouth_outer=MOUTH_OUTER,
        nose=tuple(sorted({v for e in fmc.FACEMESH_NOSE for v in e})),
        eye_tris=eye_tris,
        mouth_tris=mouth_tris,
        mirror=mirror_pairs(),
    )


def orient_triangles(triangles: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Flip the whole (consistently wound) mesh so its visible side has positive area.

    Winding is made consistent once, topologically; only the global sign is
    decided here, from the majority of a real face's triangles. Afterwards a
    negative signed area means the triangle faces away (back-face culling).
    """
    return triangles if signed_area(points, triangles).sum() >= 0 else triangles[:, [0, 2, 1]].copy()


def _consistent_winding(triangles: np.ndarray) -> np.ndarray:
    """Orient all triangles alike: neighbours traverse their shared edge in opposite directions."""
    tris = triangles.copy()
    edge_tris: dict[tuple[int, int], list[int]] = {}
    for t, (a, b, c) in enumerate(tris):
        for u, v in ((a, b), (b, c), (c, a)):
            edge_tris.setdefault((min(u, v), max(u, v)), []).append(t)
    done = np.zeros(len(tris), bool)
    for seed in range(len(tris)):
        if done[seed]:
            continue
        done[seed] = True
        stack = [seed]
        while stack:
            t = stack.pop()
            a, b, c = tris[t]
            for u, v in ((a, b), (b, c), (c, a)):
                shared = edge_tris[(min(u, v), max(u, v))]
                if len(shared) != 2:
                    continue
                n = shared[0] if shared[1] == t else shared[1]
                if done[n]:
                    continue
                x, y, z = tris[n]
                # n must run the edge as v -> u; if it runs u -> v, flip it.
                if (x, y) == (u, v) or (y, z) == (u, v) or (z, x) == (u, v):
                    tris[n] = (x, z, y)
                done[n] = True
                stack.append(n)
    return tris


def signed_area(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Signed 2-D area of each triangle (image y axis points down)."""
    p = points[triangles, :2]
    a, b, c = p[:, 0], p[:, 1], p[:, 2]
    return 0.5 * ((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (b[:, 1] - a[:, 1]))
