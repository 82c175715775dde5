"""What covers a face: hands, microphones, cups, hair. The new face goes behind them.

:class:`Occlusion` gives, per face and frame, a keep-weight over the
renderer's region (1: paint the new face, 0: leave the frame as it is) that
the renderer combines with the face's blend weight by a per-pixel minimum.
Two signals are joined in a *canonical* face space (the mesh laid out as in
the frontal source photo, :data:`GRID` cells across), so that one cell means
the same spot of skin in every frame whatever the head does:

* **Appearance** (:class:`TrackAppearance`, one per track): the running mean
  and spread of the target's own colour at each canonical cell, learnt only
  from cells that match it and lie away from any judged occluder. A cell far
  from its model once a global light offset is taken off is an occluder
  candidate; a morphological opening keeps only blobs (consistent in space)
  and the time filter below only what persists (consistent in time). It sees
  anything that was not there when the face was first seen: a microphone, a
  cup, a strand of hair, a hand. Inside the eye and mouth openings, where
  blinks and teeth change the look legitimately, and where the mesh folds
  away under an occluder, the candidate is filled in from the surroundings.
* **Hands** (:mod:`~facegraft.render.hands`): mediapipe's hand landmarks on a
  crop around the face, run when the appearance says something changed,
  while a hand is there, and every :data:`HAND_EVERY` frames otherwise (the
  model costs several times the rest). It sees a hand present from the
  track's first frame, which the appearance model would learn as face.

The canonical mask is smoothed over time with a fast rise and a slower fall
(an occluder shows at once; its edge does not flicker as it moves) before it
is mapped back to the frame through the target's own mesh.

Glasses are not detected: the appearance model learns them as part of the
face, so they are painted over (docs/occlusion.md says what was tried).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .colour import shrink
from .hands import HandFinder, hand_mask
from .topology import MeshTopology, signed_area
from .warp import raster_triangles, texture_maps, visible_order

#: Cells across the canonical face.
GRID = 96
#: Longest side of the region copy the masks are made on (the mask is smooth; upsampled after).
MAP_SIDE = 128
#: The occluder is grown by this share of the region before the new face goes behind it: its edge
#: blurs in a moving, compressed video, and a fringe of the target's skin reads better than a fringe
#: of new face over a finger.
DILATE = 0.04
#: Below this share of the face's cells judged covered, nothing is (a strand of hair is ~1 %).
MIN_CELLS = 0.006
#: Frames a track's appearance is averaged over before it judges anything.
WARMUP = 4
#: Learning rate of the appearance model once warm (time constant ~25 frames).
RATE = 0.04
#: A cell that deviates from the model is learnt this many times slower.
SLOW = 20
#: Floor of the per-cell spread (opponent colours, 8-bit scale), so a cell seen steady is not flagged by noise.
FLOOR = np.array([9.0, 4.0, 4.0], np.float32)
#: RGB -> opponent colours (lightness, red-green, yellow-blue): LAB's separation of light from
#: chroma at the cost of one small matrix product (a microphone's grey against lips differs
#: mostly in chroma, a hand against a cheek mostly in light).
OPPONENT = np.array([[1 / 3, 0.5, 0.25], [1 / 3, -0.5, 0.25], [1 / 3, 0.0, -0.5]], np.float32)
#: Distance (spreads, over the three channels together) where a cell starts / is fully an occluder
#: candidate: a steady cell passes 4.0 once in a thousand frames (chi-square, 3 degrees of freedom).
Z0, Z1 = 4.5, 3.0
#: Extra spreads allowed next to the eye openings, fading out over 6 % of the face.
SLACK = 1.5
#: Time filter of the canonical mask: share of a rise / fall taken per frame.
RISE, FALL = 0.75, 0.35
#: The hand model runs at least every this many frames per face.
HAND_EVERY = 30
#: ... or this often with ``mode="hands"``, where no change of appearance calls it.
HAND_EVERY_ALONE = 5
#: ... and also when this share of the face's cells changed since the last frame it ran.
HAND_CHANGE = 0.01
#: Frames a found hand keeps the hand model running every frame.
HAND_HOLD = 6
#: A new hand over a known face is believed when the appearance model flags this share of its cells.
HAND_AGREE = 0.15
#: Frames the last hand found is held on the face when the model misses it.
HAND_MISS = 3
#: Longest side of the crop the hand model sees (its palm detector looks at 192 x 192 anyway).
HAND_SIDE = 320.0


@dataclass
class Canonical:
    """The canonical face layout: landmark positions on the grid and the triangle of each cell."""

    points: np.ndarray
    tri_ids: np.ndarray
    inner: np.ndarray   # bool (G, G): eye and mouth openings (appearance changes legitimately)
    slack: np.ndarray   # float32 (G, G): extra spreads allowed around the eyes (lashes move)


def canonical(shape: np.ndarray, topology: MeshTopology, grid: int = GRID) -> Canonical:
    """Lay out ``shape`` (a frontal face's (478, 3) landmarks) on a ``grid``-cell square."""
    pts = shape[:, :2].astype(np.float64)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    scale = (grid - 2) / max(float((hi - lo).max()), 1.0)
    pts = (pts - lo) * scale + 1 + ((grid - 2) - (hi - lo) * scale) / 2
    pts3 = np.column_stack([pts, shape[:, 2] * scale])
    tris = topology.triangles
    ids = raster_triangles(pts3, tris, (grid, grid), visible_order(pts3, tris))
    inner = np.isin(ids, np.concatenate([topology.eye_tris, topology.mouth_tris]))
    eyes = np.isin(ids, topology.eye_tris).view(np.uint8)
    # Only the eyes: lashes and lids move against the mesh; the lips follow it closely.
    dist = cv2.distanceTransform((eyes == 0).view(np.uint8), cv2.DIST_L2, 3)
    slack = (SLACK * np.clip(1.0 - dist / (0.06 * grid), 0.0, 1.0)).astype(np.float32)
    return Canonical(pts3.astype(np.float32), ids, inner, slack)


@dataclass
class TrackAppearance:
    """What one tracked face looks like at each canonical cell, learnt over its track.

    ``update`` feeds a frame's canonical sample, ``mask`` judges one; both take
    the sample in opponent colours (G, G, 3) float32 (:data:`OPPONENT`) with a bool map of the cells
    seen in this frame.
    """

    canon: Canonical
    mean: np.ndarray | None = None
    var: np.ndarray | None = None
    seen: int = 0
    offset: np.ndarray = field(default_factory=lambda: np.zeros(3, np.float32))

    def mask(self, col: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Occluder candidates in [0, 1] (G, G): cells far from the model, as blobs."""
        if self.mean is None or self.var is None or self.seen < WARMUP:
            return np.zeros(valid.shape, np.float32)
        diff = col - self.mean
        sel = valid & ~self.canon.inner
        if np.count_nonzero(sel) > 64:
            # A global change of light is no occluder: take the median offset off (robust to the occluder itself).
            self.offset = np.median(diff[sel][::3], axis=0).astype(np.float32)
        diff -= self.offset
        z = np.sqrt((diff * diff / (self.var + FLOOR * FLOOR)).sum(axis=2))
        raw = np.clip((z - Z0 - self.canon.slack) * (1.0 / Z1), 0.0, 1.0).astype(np.float32)
        raw[~valid] = 0.0
        if not raw.any():
            return raw  # the common case on a clean face: nothing below costs anything
        raw = cv2.morphologyEx(raw, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        if not raw.any():
            return raw
        # ... and gaps under ~5 % of the face between blobs closed (the lips between a microphone's head and handle).
        raw = cv2.morphologyEx(raw, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
        # Openings, and cells the mesh folds away in this frame (it often does under an occluder):
        # what surrounds them (normalised convolution), so a microphone across the mouth stays
        # whole while a blink or the teeth never count.
        gap = self.canon.inner | ~valid
        out = (~gap).astype(np.float32)
        sigma = 0.05 * raw.shape[0]
        fill = cv2.GaussianBlur(raw * out, (0, 0), sigma) / np.maximum(cv2.GaussianBlur(out, (0, 0), sigma), 1e-3)
        fill = np.clip(1.6 * fill, 0.0, 1.0)
        return np.where(gap & (self.canon.tri_ids >= 0), fill, raw).astype(np.float32)

    def update(self, col: np.ndarray, valid: np.ndarray, occluded: np.ndarray, raw: np.ndarray) -> None:
        """Learn from the cells seen in this frame that match the model, away from any occluder.

        ``occluded`` is the smoothed mask and ``raw`` this frame's candidates.
        Cells next to a judged occluder are not learnt at all, so an occluder
        entering slowly is never absorbed; a deviating cell elsewhere is
        learnt :data:`SLOW` times slower, with its deviation clipped at
        :data:`Z0` spreads, so a real and lasting change of the face (a
        shadow moving in) is absorbed over seconds, not a few frames.
        """
        if self.mean is None or self.var is None:
            self.mean = col.copy()
            self.var = np.zeros_like(col)
            self.seen = 1
            return
        rate = 1.0 / (self.seen + 1) if self.seen < WARMUP else RATE
        delta = col - self.offset - self.mean
        w = valid
        if occluded.max() >= 0.1:
            w = w & (cv2.dilate(occluded, np.ones((5, 5), np.uint8)) < 0.1)
        if self.seen >= WARMUP:
            limit = Z0 * np.sqrt(self.var + FLOOR * FLOOR)
            np.clip(delta, -limit, limit, out=delta)
            w = w * np.where(raw > 0, np.float32(rate / SLOW), np.float32(rate)) if raw.any() else w * np.float32(rate)
        else:
            w = w * np.float32(rate)
        w = w[..., None].astype(np.float32)
        self.mean += w * delta
        self.var += w * (delta * delta - self.var)
        self.seen += 1


@dataclass
class FaceOcclusion:
    """Per-track state of :class:`Occlusion`."""

    canon: Canonical
    appearance: TrackAppearance
    prob: np.ndarray
    hands_at: int = -10**9
    hand_seen: int = -10**9
    frames: int = 0
    changed: float = 0.0
    hand_cells: np.ndarray | None = None


class Occlusion:
    """Per face and frame, where the new face must not be painted.

    Args:
        topology: the mesh topology.
        mode: ``auto`` (appearance model and hands), ``hands`` (the hand model only) or ``off``.
        hands: the hand finder to use (built on first use by default).
    """

    def __init__(self, topology: MeshTopology, *, mode: str = "auto", hands: HandFinder | None = None) -> None:
        self.topology, self.mode = topology, mode
        self.hands = hands or HandFinder()
        self._tracks: dict[int, FaceOcclusion] = {}
        #: Frames in which the hand model ran (for benchmarks).
        self.hand_runs = 0

    def close(self) -> None:
        self.hands.close()

    def keep(self, frame: np.ndarray, track_id: int, landmarks: np.ndarray, region: tuple[int, int, int, int],
             reference: np.ndarray) -> np.ndarray | None:
        """The keep-weight float32 (h, w) over ``region`` (None: nothing covers the face).

        Args:
            frame: the RGB frame (read only).
            track_id: the face's track (state is kept per track, frames must come in order).
            landmarks: (478, 3) the target's own landmarks in frame pixels.
            region: the renderer's (x0, y0, x1, y1) for this face.
            reference: (478, 3) a frontal face's landmarks (the source's), laying out the canonical space.
        """
        if self.mode == "off":
            return None
        st = self._tracks.get(track_id)
        if st is None:
            canon = canonical(reference, self.topology)
            st = FaceOcclusion(canon, TrackAppearance(canon), np.zeros(canon.tri_ids.shape, np.float32))
            self._tracks[track_id] = st
        x0, y0, x1, y1 = region
        h, w = y1 - y0, x1 - x0
        # Everything below works on a copy of the region at most MAP_SIDE pixels across.
        step = max(1, -(-max(h, w) // MAP_SIDE))
        # An integer area shrink (OpenCV's fast path; the lost border is under ``step`` pixels).
        small = shrink(frame[y0:y1, x0:x1], step)
        sh, sw = small.shape[:2]
        local = landmarks.astype(np.float64).copy()
        local[:, 0] = (local[:, 0] - x0 + 0.5) / step - 0.5
        local[:, 1] = (local[:, 1] - y0 + 0.5) / step - 0.5
        tris = self.topology.triangles
        canon = st.canon
        front = signed_area(local, tris) > 0
        # Canonical cell -> frame position, and the frame's look there.
        cx, cy, ccov = texture_maps(canon.points, local, tris, canon.tri_ids)
        valid = ccov & front[np.maximum(canon.tri_ids, 0)] & (cx >= 0) & (cy >= 0) & (cx <= sw - 1) & (cy <= sh - 1)
        sample = cv2.remap(small, cx, cy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        col = sample.reshape(-1, 3).astype(np.float32) @ OPPONENT
        col = col.reshape(sample.shape)
        raw = st.appearance.mask(col, valid) if self.mode == "auto" else np.zeros(valid.shape, np.float32)
        held = st.frames - st.hand_seen <= HAND_HOLD
        hands = self._hands(st, frame, region, (sh, sw), raw, valid)
        if hands is not None:
            cells = cv2.remap(hands, cx, cy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT) * valid
            on = cells > 0.5
            # The palm detector sometimes sees a hand in a face looking down. A hand that newly
            # arrives over a face the appearance model knows must also change its look.
            if self.mode == "auto" and not held and st.appearance.seen >= 2 * WARMUP and on.any() \
                    and float(raw[on].mean()) < HAND_AGREE:
                hands, st.hand_seen = None, -10**9
            else:
                st.hand_cells = cells
        elif st.frames - st.hand_seen > HAND_MISS:
            st.hand_cells = None
        if st.hand_cells is not None:
            # A hand the model missed in a frame or two is held where it was on the face.
            raw = np.maximum(raw, st.hand_cells)
        st.prob += (raw - st.prob) * np.where(raw > st.prob, np.float32(RISE), np.float32(FALL))
        if self.mode == "auto":
            st.appearance.update(col, valid, np.maximum(st.prob, raw).astype(np.float32), raw)
        st.frames += 1
        occ = st.prob
        if np.count_nonzero(occ > 0.2) < MIN_CELLS * max(np.count_nonzero(valid), 1):
            return None  # nothing, or a speck of noise: the frame is painted as without occlusion
        # Frame pixel -> canonical cell, through the target's visible mesh.
        ids = raster_triangles(local, tris, (sh, sw), visible_order(local, tris))
        fx, fy, _ = texture_maps(local, canon.points, tris, ids)
        cover = cv2.remap(occ, fx, fy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
        if hands is not None:
            cover = np.maximum(cover, hands)  # the hand past the mesh's edge (the feather reaches there)
        # A cell judged a little occluded is kept whole: the new face behind a hand must not show through it.
        cover = np.clip((cover - 0.2) * (1.0 / 0.3), 0.0, 1.0)
        k = max(3, int(DILATE * max(sh, sw)) | 1)
        cover = cv2.dilate(cover, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
        cover = cv2.GaussianBlur(cover, (0, 0), 0.006 * max(sh, sw) + 0.5)
        keep = 1.0 - cover
        if step > 1:
            keep = cv2.resize(keep, (w, h), interpolation=cv2.INTER_LINEAR)
        return keep.astype(np.float32)

    def _hands(self, st: FaceOcclusion, frame: np.ndarray, region: tuple[int, int, int, int],
               size: tuple[int, int], raw: np.ndarray, valid: np.ndarray) -> np.ndarray | None:
        """The hand mask on the small region grid, when the hand model is due (None otherwise)."""
        changed = float(np.count_nonzero(raw > 0.5)) / max(np.count_nonzero(valid), 1)
        every = HAND_EVERY if self.mode == "auto" else HAND_EVERY_ALONE
        due = (st.frames - st.hands_at >= every or st.frames - st.hand_seen <= HAND_HOLD
               or changed - st.changed > HAND_CHANGE)
        if not due:
            return None
        st.changed = changed
        st.hands_at = st.frames
        self.hand_runs += 1
        x0, y0, x1, y1 = region
        fh, fw = frame.shape[:2]
        pad = 0.5 * max(x1 - x0, y1 - y0)
        cx0, cy0 = int(max(0, x0 - pad)), int(max(0, y0 - pad))
        cx1, cy1 = int(min(fw, x1 + pad)), int(min(fh, y1 + pad))
        crop = frame[cy0:cy1, cx0:cx1]
        scale = min(1.0, HAND_SIDE / max(crop.shape[:2]))
        if scale < 1.0:
            crop = cv2.resize(crop, (round(crop.shape[1] * scale), round(crop.shape[0] * scale)),
                              interpolation=cv2.INTER_AREA)
        found = self.hands.find(crop)
        if not found:
            return None
        sh, sw = size
        sx, sy = sw / (x1 - x0), sh / (y1 - y0)
        pts = [np.column_stack([(p[:, 0] / scale + cx0 - x0) * sx, (p[:, 1] / scale + cy0 - y0) * sy]) for p in found]
        mask = hand_mask(pts, size)
        if mask.any():
            st.hand_seen = st.frames
        return mask
