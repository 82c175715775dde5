"""Realism figures along edges and in fine detail: the seam, ghost brows and grain.

Like :mod:`facegraft.evaluate.realism_figures` (regions, colour, shading),
these work on L*a*b* crops and 478-point meshes in crop pixels and return
numbers. Each compares the output with the original at the same place, so
what the shot itself has (hair lines at the outline, a dark brow, skin
texture) reads 0 and only what the swap adds or leaves behind counts.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from ..render.topology import MeshTopology
from .realism_figures import face_size

#: Seam profile: offsets across the face outline, as fractions of the face
#: size (negative = inside). The renderer's feathered edge lies in about
#: [-0.08, +0.04] with the default erosion 0.02 and feather 0.06.
SEAM_INSIDE, SEAM_OUTSIDE, SEAM_STEP, SEAM_SEGMENTS = 0.12, 0.06, 0.02, 8


# ------------------------------------------------------------------ seam
def _outline_samples(landmarks: np.ndarray, topology: MeshTopology, spacing: float = 1.5,
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points every ``spacing`` px along the face outline, their outward normals and arc position in [0, 1)."""
    ring = np.asarray(landmarks[list(topology.face_oval), :2], np.float64)
    centre = ring.mean(axis=0)
    edges = np.roll(ring, -1, axis=0) - ring
    length = np.linalg.norm(edges, axis=1)
    keep = length > 1e-6
    ring, edges, length = ring[keep], edges[keep], length[keep]
    tangent = edges / length[:, None]
    normal = np.stack([tangent[:, 1], -tangent[:, 0]], axis=1)
    outward = np.einsum("ij,ij->i", normal, ring + edges / 2 - centre) >= 0
    normal[~outward] *= -1
    steps = np.maximum(1, (length / spacing).astype(int))
    edge = np.repeat(np.arange(len(ring)), steps)
    frac = np.concatenate([np.arange(k) / k for k in steps])
    start = np.concatenate([[0.0], np.cumsum(length)[:-1]])
    pts = ring[edge] + edges[edge] * frac[:, None]
    arc = (start[edge] + length[edge] * frac) / max(float(length.sum()), 1e-6)
    return pts, normal[edge], arc


def seam_profiles(lab: np.ndarray, landmarks: np.ndarray, topology: MeshTopology, light_grad: np.ndarray,
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean L*a*b* and |∇L*| across the outline, per outline segment.

    Returns:
        (colour (K, D, 3), gradient (K, D), valid (K, D)) for K segments of the
        outline and D offsets from :data:`SEAM_INSIDE` inside to
        :data:`SEAM_OUTSIDE` outside, one pixel apart. Averaging along each
        segment cancels skin texture and keeps what runs along the outline,
        such as a seam.
    """
    size = face_size(landmarks)
    pts, nrm, arc = _outline_samples(landmarks, topology)
    offsets = np.arange(-round(SEAM_INSIDE * size), round(SEAM_OUTSIDE * size) + 1, dtype=np.float64)
    mx = (pts[:, None, 0] + nrm[:, None, 0] * offsets[None]).astype(np.float32)
    my = (pts[:, None, 1] + nrm[:, None, 1] * offsets[None]).astype(np.float32)
    h, w = lab.shape[:2]
    valid = (mx >= 0) & (my >= 0) & (mx <= w - 1) & (my <= h - 1)
    colour = cv2.remap(lab, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    grad = cv2.remap(light_grad, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    seg = np.minimum((arc * SEAM_SEGMENTS).astype(int), SEAM_SEGMENTS - 1)
    k_col = np.zeros((SEAM_SEGMENTS, len(offsets), 3))
    k_grad = np.zeros((SEAM_SEGMENTS, len(offsets)))
    k_valid = np.zeros((SEAM_SEGMENTS, len(offsets)), bool)
    for k in range(SEAM_SEGMENTS):
        rows = seg == k
        v = valid[rows]
        count = v.sum(axis=0)
        ok = count >= max(3, 0.8 * rows.sum())
        k_valid[k] = ok
        with np.errstate(invalid="ignore", divide="ignore"):
            k_col[k] = (colour[rows] * v[..., None]).sum(axis=0) / np.maximum(count, 1)[:, None]
            k_grad[k] = (grad[rows] * v).sum(axis=0) / np.maximum(count, 1)
    return k_col, k_grad, k_valid


def gradient_magnitude(lab: np.ndarray) -> np.ndarray:
    """|∇L*| per pixel (Sobel, L* units per pixel)."""
    light = lab[..., 0]
    gx = cv2.Sobel(light, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(light, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    return np.sqrt(gx * gx + gy * gy)


def seam_error(out: tuple[np.ndarray, np.ndarray, np.ndarray], ref: tuple[np.ndarray, np.ndarray, np.ndarray],
               size: float) -> dict[str, float]:
    """Colour and gradient jump across the outline that the output adds to the original's.

    ``colour``: per segment, the largest ΔE76 change of (output − original)
    over any 2 % of the face size across the outline, averaged over
    segments. A feathered seam spreads a colour mismatch over its feather
    width and reads a fraction of it; a hard seam shows the whole mismatch.
    ``gradient``: per segment, the highest peak of the output's extra
    |∇L*| across the outline above its own median across it (a line running
    along the edge), averaged over segments.
    """
    col_o, grad_o, ok_o = out
    col_r, grad_r, ok_r = ref
    ok = ok_o & ok_r
    step = max(2, round(SEAM_STEP * size))
    jumps, peaks = [], []
    for k in range(col_o.shape[0]):
        v = ok[k]
        if v.sum() < step + 3:
            continue
        d = (col_o[k] - col_r[k])[v]
        jumps.append(float(np.linalg.norm(d[step:] - d[:-step], axis=1).max()))
        g = (grad_o[k] - grad_r[k])[v]
        peaks.append(float(g.max() - np.median(g)))
    if not jumps:
        return {"colour": float("nan"), "gradient": float("nan")}
    return {"colour": float(np.mean(jumps)), "gradient": float(np.mean(peaks))}


# ------------------------------------------------------------------ ghosts and grain
#: Brow profiles: columns along each brow, samples across it from below the
#: brow (toward the eye) to the forehead, in units of 7 % of the face size.
BROW_COLUMNS, BROW_SPAN, BROW_UNIT, DARK_MIN = 8, (-0.4, 1.8), 0.07, 3.0
#: Samples this far above the brow centre (in brow units) give each column's skin level.
BROW_FOREHEAD = 1.2


def brow_frames(landmarks: np.ndarray, topology: MeshTopology) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per brow: (centre, along-brow unit vector, across unit vector pointing away from the eye)."""
    frames = []
    for brow, eye in ((topology.right_brow, topology.right_eye), (topology.left_brow, topology.left_eye)):
        pts = np.asarray(landmarks[list(brow), :2], np.float64)
        centre = pts.mean(axis=0)
        _, _, vt = np.linalg.svd(pts - centre)
        along = vt[0]
        across = np.array([-along[1], along[0]])
        if across @ (centre - np.asarray(landmarks[list(eye), :2], np.float64).mean(axis=0)) < 0:
            across = -across
        frames.append((centre, along, across))
    return frames


def brow_darkness(lab: np.ndarray, landmarks: np.ndarray, topology: MeshTopology,
                  frame_from: np.ndarray | None = None) -> np.ndarray:
    """(2, columns, samples) darkness across both brows: the forehead's L* minus L*, ≥ 0.

    Each column's skin level is the median L* of its forehead end (above
    :data:`BROW_FOREHEAD`), so the face's overall shading and a forehead
    darker or lighter than the cheeks do not read as brow.

    The profiles are placed by ``frame_from``'s brows (default: the same
    face's), so the output can be read exactly where the original's brows were.
    """
    lm = landmarks if frame_from is None else frame_from
    size = face_size(lm)
    light = cv2.GaussianBlur(lab[..., 0], (0, 0), max(0.8, 0.01 * size))
    units = np.linspace(*BROW_SPAN, 23)
    t = units * BROW_UNIT * size
    out = []
    for (centre, along, across), brow in zip(brow_frames(lm, topology), (topology.right_brow, topology.left_brow),
                                             strict=True):
        proj = (np.asarray(lm[list(brow), :2], np.float64) - centre) @ along
        cols = np.linspace(proj.min(), proj.max(), BROW_COLUMNS + 2)[1:-1]
        pts = centre + cols[:, None, None] * along + t[None, :, None] * across
        mx, my = pts[..., 0].astype(np.float32), pts[..., 1].astype(np.float32)
        sampled = cv2.remap(light, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        level = np.median(sampled[:, units >= BROW_FOREHEAD], axis=1, keepdims=True)
        out.append(np.maximum(0.0, level - sampled))
    return np.array(out)


def _runs(profile: np.ndarray) -> list[np.ndarray]:
    """Boolean masks of the contiguous dark runs of a profile (at least half its peak and DARK_MIN)."""
    peak = float(profile.max())
    dark = profile >= max(DARK_MIN, 0.5 * peak)
    runs, start = [], None
    for i, d in enumerate([*dark, False]):
        if d and start is None:
            start = i
        elif not d and start is not None:
            run = np.zeros(len(profile), bool)
            run[start:i] = True
            runs.append(run)
            start = None
    return runs


def _main_run(profile: np.ndarray) -> np.ndarray:
    runs = _runs(profile)
    arg = int(np.argmax(profile))
    return next((r for r in runs if r[arg]), np.zeros(len(profile), bool))


def ghost_brows(out_dark: np.ndarray, ref_dark: np.ndarray, src_dark: Sequence[np.ndarray],
                ) -> tuple[float, float]:
    """Faint remains of the original's brows outside the source's brows, and the original's brow total.

    Per column across a brow, the original's brow is its main dark run and
    the source photo's brow its main run at the same place relative to its
    own brows (where the renderer puts the new brow). On the original's
    brow outside the source's, the output keeps a share ``r`` of the
    original's darkness; a person sees a ghost when that share is partial,
    a brow shining through the new skin. The count is the original's
    darkness times ``4 r (1 - r)``: 0 where the new face shows clean skin
    (``r = 0``), 0 where the output still is the original (``r = 1``, a
    re-encode), largest for a half-transparent remnant.
    """
    survived = total = 0.0
    for side in range(ref_dark.shape[0]):
        for col in range(ref_dark.shape[1]):
            o, x = ref_dark[side, col], out_dark[side, col]
            old = _main_run(o)
            if not old.any():
                continue
            keep = old.copy()
            for s in src_dark:
                keep &= ~_main_run(s[side, col])
            r = np.clip(x[keep] / np.maximum(o[keep], 1e-6), 0.0, 1.0)
            survived += float((o[keep] * 4.0 * r * (1.0 - r)).sum())
            total += float(o[old].sum())
    return survived, total


def high_frequency_energy(lab: np.ndarray, mask: np.ndarray) -> float:
    """Mean squared fine L*a*b* detail (σ 1 px blur minus σ 2 px blur, all three channels) inside ``mask``.

    Grain, including the chroma speckle a per-channel histogram match
    leaves, lives at this scale. The band starts above the single-pixel
    scale that the video encoder smooths most, so a plain re-encode reads
    close to the original. The mask is eroded by 3 px so the blur does not
    mix in what lies outside the patch.
    """
    inner = cv2.erode(mask.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    if not inner.any():
        return float("nan")
    energy = 0.0
    for c in range(3):
        channel = lab[..., c]
        detail = cv2.GaussianBlur(channel, (0, 0), 1.0) - cv2.GaussianBlur(channel, (0, 0), 2.0)
        energy += float(np.mean(detail[inner] ** 2))
    return energy
