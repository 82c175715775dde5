"""The face renderer: the source face on the target's head, in the target's light.

:class:`FaceRenderer` is one stage with settings in ``__init__`` and data in
one call: ``render(frame, landmarks, source, state)`` paints one face into the
frame in place. It works only on the face's bounding region. Per-track
:class:`TrackState` carries the colour statistics smoothed over time, so the
colour of a face cannot flicker from frame to frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..options import SwapOptions
from . import colour as col
from .blend import BLENDERS, feather
from .masks import face_mask
from .source import PreparedSource
from .topology import MeshTopology, mesh_topology
from .warp import raster_triangles, visible_order, warp_texture


def colour_weight(smoothing: float) -> float:
    """Weight of a new frame's colour statistics in the per-track moving average (1: no smoothing)."""
    return 1.0 - 0.85 * smoothing


@dataclass
class TrackState:
    """What the renderer remembers about one tracked face between frames."""

    source_stats: col.ColourStats | None = None
    target_stats: col.ColourStats | None = None


class FaceRenderer:
    """Renders a prepared source face onto target landmarks.

    Args:
        options: rendering options (colour, blend, mask, eyes).
        topology: mesh topology; defaults to mediapipe's.
    """

    def __init__(self, options: SwapOptions | None = None, topology: MeshTopology | None = None) -> None:
        self.options = options or SwapOptions()
        self.topology = topology or mesh_topology()
        self._blend = BLENDERS[self.options.blend]
        # EMA weight of a new frame's colour statistics: smoothing 0 -> 1 (off).
        self._colour_alpha = colour_weight(self.options.smoothing)
        #: Lighting below this fraction of the face size is taken from the target.
        self.shading_sigma = 0.08

    def region(self, landmarks: np.ndarray, frame_shape: tuple[int, ...]) -> tuple[int, int, int, int] | None:
        """The frame rectangle the face is rendered in (face box + feather margin)."""
        h, w = frame_shape[:2]
        x0, y0 = landmarks[:, 0].min(), landmarks[:, 1].min()
        x1, y1 = landmarks[:, 0].max(), landmarks[:, 1].max()
        pad = 0.1 * max(x1 - x0, y1 - y0) + 4
        r = (int(max(0, x0 - pad)), int(max(0, y0 - pad)), int(min(w, x1 + pad + 1)), int(min(h, y1 + pad + 1)))
        if r[2] - r[0] < 8 or r[3] - r[1] < 8:
            return None
        return r

    def render(self, frame: np.ndarray, landmarks: np.ndarray, source: PreparedSource,
               state: TrackState | None = None, *, base: np.ndarray | None = None) -> bool:
        """Paint the source face onto ``frame`` (RGB, modified in place) at ``landmarks``.

        Args:
            frame: the RGB frame.
            landmarks: (478, 3) target landmarks, already smoothed and shaped.
            source: the prepared source person.
            state: per-track state for temporal colour smoothing (None: no memory).
            base: the target's own landmarks before the identity shape moved
                them; the kept mouth interior (and eyes) is warped from there
                to the reshaped lips, so teeth stay inside the new mouth.

        Returns:
            True when a face was painted (False if it was off-frame or degenerate).
        """
        region = self.region(landmarks, frame.shape)
        if region is None:
            return False
        x0, y0, x1, y1 = region
        h, w = y1 - y0, x1 - x0
        local = landmarks.astype(np.float64).copy()
        local[:, 0] -= x0
        local[:, 1] -= y0
        tris = source.triangles
        tri_ids = raster_triangles(local, tris, (h, w), visible_order(local, tris))
        face_w = float(np.ptp(landmarks[:, 0]))
        photos = np.unique(source.owner)
        if len(photos) == 1:
            texture, tex_pts = source.texture_for(int(photos[0]), face_w)
            warped, tri_ids = warp_texture(texture, tex_pts, landmarks, tris, region, tri_ids=tri_ids)
        else:
            warped = np.zeros((h, w, 4), np.uint8)
            for photo in photos:
                # Each triangle takes its texture from the photo that sees it best.
                texture, tex_pts = source.texture_for(int(photo), face_w)
                ids = np.where(source.owner[np.maximum(tri_ids, 0)] == photo, tri_ids, -1)
                part, ids_out = warp_texture(texture, tex_pts, landmarks, tris, region, tri_ids=ids)
                sel = ids_out >= 0
                warped[sel] = part[sel]
        covered = tri_ids >= 0
        if np.count_nonzero(covered) < 64:
            return False
        size = max(w, h)
        alpha, hole = face_mask(local, self.topology, (h, w), covered, erode_px=self.options.mask_erode * size,
                                blur_px=self.options.mask_blur * size, keep_eyes=self.options.keep_eyes)
        # Where the source photo shows hair or a hand instead of face, the target's own face stays.
        alpha *= warped[..., 3].astype(np.float32) * (1.0 / 255.0)
        warped = np.ascontiguousarray(warped[..., :3])
        target = frame[y0:y1, x0:x1]
        warped = self._colour(warped, target, alpha, state)
        # Outside the mesh the overlay is the frame itself, so the pyramid's
        # coarse levels never mix black (or uncorrected texture) into the seam.
        np.copyto(warped, target, where=~covered[..., None])
        blended = self._blend(target, warped, alpha)
        if hole.any():
            kept = target if base is None else self._kept(target, base, landmarks, region, tris)
            blended = feather(blended, kept, np.minimum(hole, 1.0) * (alpha > 0))
        frame[y0:y1, x0:x1] = blended
        return True

    def _kept(self, target: np.ndarray, base: np.ndarray, landmarks: np.ndarray,
              region: tuple[int, int, int, int], tris: np.ndarray) -> np.ndarray:
        """The target's mouth interior (and eyes if kept), warped from ``base`` to ``landmarks``.

        Only the box around those few triangles is rasterised and resampled.
        """
        x0, y0 = region[:2]
        h, w = target.shape[:2]
        idx = self.topology.mouth_tris
        if self.options.keep_eyes:
            idx = np.concatenate([self.topology.eye_tris, idx])
        sub = tris[idx]
        pts = landmarks[np.unique(sub), :2]
        bx0, by0 = max(0, int(pts[:, 0].min()) - x0 - 2), max(0, int(pts[:, 1].min()) - y0 - 2)
        bx1, by1 = min(w, int(pts[:, 0].max()) - x0 + 3), min(h, int(pts[:, 1].max()) - y0 + 3)
        out = target.copy()
        if bx1 - bx0 < 2 or by1 - by0 < 2:
            return out
        local = base.copy()
        local[:, 0] -= x0
        local[:, 1] -= y0
        box = (x0 + bx0, y0 + by0, x0 + bx1, y0 + by1)
        warped, ids = warp_texture(target, local, landmarks, sub, box)
        view = out[by0:by1, bx0:bx1]
        np.copyto(view, warped, where=(ids >= 0)[..., None])
        return out

    def _colour(self, warped: np.ndarray, target: np.ndarray, alpha: np.ndarray,
                state: TrackState | None) -> np.ndarray:
        mode = self.options.colour
        inside = alpha > 0.5
        if mode == "none" or np.count_nonzero(inside) < 32:
            return warped
        if mode == "histogram":
            return col.match_histograms(warped, target, inside, inside)
        smooth = None
        if state is not None:
            a = self._colour_alpha

            def smooth(s_stats: col.ColourStats, t_stats: col.ColourStats) -> tuple[col.ColourStats, col.ColourStats]:
                state.source_stats = s_stats if state.source_stats is None else state.source_stats.blend(s_stats, a)
                state.target_stats = t_stats if state.target_stats is None else state.target_stats.blend(t_stats, a)
                return state.source_stats, state.target_stats

        sigma = self.shading_sigma * float(max(alpha.shape))
        return col.correct(warped, target, inside, sigma=sigma, spread=0.5, smooth=smooth)
