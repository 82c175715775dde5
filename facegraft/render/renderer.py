"""The face renderer: the source face on the target's head, in the target's light.

:class:`FaceRenderer` is one stage with settings in ``__init__`` and data in
one call: ``render(frame, landmarks, source, state)`` paints one face into the
frame in place. It works only on the face's bounding region. Per-track
:class:`TrackState` carries the colour statistics smoothed over time, so the
colour of a face cannot flicker from frame to frame.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from ..options import SwapOptions
from . import colour as col
from . import detail as dt
from . import lighting as lt
from . import relight as rl
from .blend import BLENDERS, feather
from .masks import face_mask, mask_holes
from .source import PreparedSource
from .topology import MeshTopology, mesh_topology
from .warp import raster_triangles, texture_maps, visible_order, warp_texture

#: Smallest work scale: below it a tiny source photo would make the mask and mesh edges coarse.
MIN_WORK_SCALE = 0.3
#: The texture maps, mask and colour statistics are computed on a grid this many times coarser...
MAP_STEP = 2
#: ...when the face region is at least this many grid cells across.
MIN_GRID = 96
#: Share of the target's colour spread taken by the ``lab`` transfer (the rest is the source's identity).
SPREAD = 0.5
#: Detail matching softens the photo's texture further toward the mask's edge: this much more of the
#: smoothed copy right where the blend weight starts to fall (times ``detail_match``)...
EDGE_SOFTEN = 0.3
#: ...fading to nothing this far inside (fraction of the face size). The default mask reaches the
#: outer face (temples, forehead edge, cheeks), where a photo's texture moving over the target's
#: smooth skin showed as flicker (lp_drv_d10 raw 1.044 -> 1.075); softened there it measured 1.044
#: again while the likeness the wider mask brings stayed (docs/quality.md).
EDGE_BAND = 0.08


def downscale(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` shrunk to ``size`` (w, h): an integer area shrink to within 2x, then bilinear.

    OpenCV's area filter is fast only at integer ratios: at the ~0.7 a 720p face
    over its photo typically needs it cost 1.6 ms against 0.27 ms for bilinear,
    which at ratios of 0.5-1 reads the 2x2 pixels that area averaging would
    (tests/test_render.py checks the render against the full-resolution one).
    """
    h, w = image.shape[:2]
    factor = int(min(w / size[0], h / size[1]) // 2)
    if factor >= 2:
        image = col.shrink(image, factor)
    return cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)


def colour_weight(smoothing: float) -> float:
    """Weight of a new frame's colour statistics in the per-track moving average (1: no smoothing)."""
    return 1.0 - 0.85 * smoothing


@dataclass
class Layer:
    """A face prepared for painting (:meth:`FaceRenderer.prepare`): everything but colour and blend.

    Attributes:
        small: RGBA warped texture on the coarse grid (colour statistics).
        full: RGBA warped texture at the work resolution (painted).
        alpha: blend weight on the coarse grid.
        alpha_full: blend weight at frame resolution over ``region``.
        target: the frame region on the coarse grid.
        covered: uint8 coverage of the mesh on the coarse grid (255 = covered).
        region: (x0, y0, x1, y1) frame rectangle.
        hole: weight of the kept mouth/eyes over ``box`` (None: none).
        box: (x0, y0, x1, y1) of ``hole`` in region pixels.
        kept: the region with the target's mouth warped to the new lips (None: the frame's own).
        rgb: the colour-corrected texture when no per-track state is involved (``histogram``, ``none``).
        lab: the ``lab`` transfer's per-frame inputs, finished with the track's smoothed statistics.
        full_lab: ``full`` in 8-bit LAB (``lab`` colour mode).
        soft: the lightness of ``full_lab`` smoothed (edges kept), and ``detail`` the energies that
            decide how much of it is mixed in (:mod:`~facegraft.render.detail`; None: no detail matching).
        edge: extra share of ``soft`` toward the mask's edge, at the work resolution (None: none).
        light: the ``relight`` mode's per-frame inputs (:mod:`~facegraft.render.lighting`).
    """

    small: np.ndarray
    full: np.ndarray
    alpha: np.ndarray
    alpha_full: np.ndarray
    target: np.ndarray
    covered: np.ndarray
    region: tuple[int, int, int, int] = (0, 0, 0, 0)
    hole: np.ndarray | None = None
    box: tuple[int, int, int, int] = (0, 0, 0, 0)
    kept: np.ndarray | None = None
    rgb: np.ndarray | None = None
    lab: col.LabInputs | None = None
    full_lab: np.ndarray | None = None
    soft: np.ndarray | None = None
    detail: dt.DetailStats | None = None
    edge: np.ndarray | None = None
    light: rl.RelightInputs | None = None


@dataclass
class TrackState:
    """What the renderer remembers about one tracked face between frames."""

    source_stats: col.ColourStats | None = None
    target_stats: col.ColourStats | None = None
    detail: dt.DetailStats | None = None
    light: lt.Lighting | None = None


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
        #: Lighting below this fraction of the face size is taken from the target. At 0.08 it also
        #: copied the target's own small-scale features (make-up contouring); 0.15 brought lp_drv_d10
        #: from 87 to 92 % of frames closer to the source at no flicker cost (docs/design.md).
        self.shading_sigma = 0.15
        #: Coarse-grid step for maps, mask and colour statistics (1: all at full resolution).
        self.map_step = MAP_STEP
        #: Build the new face at the source photo's resolution when the target face is larger.
        self.match_source_detail = True
        self._relight = rl.Relighter(self.topology)

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
        layer = self.prepare(frame, landmarks, source, base=base)
        return layer is not None and self.finish(frame, layer, state)

    def prepare(self, frame: np.ndarray, landmarks: np.ndarray, source: PreparedSource, *,
                base: np.ndarray | None = None) -> Layer | None:
        """The stateless part of :meth:`render`: geometry, texture, mask (None when nothing to paint).

        It only reads ``frame``, so a pipeline can prepare the next frame
        while the current one is finished (see :func:`~facegraft.render.job.render_range`).
        """
        region = self.region(landmarks, frame.shape)
        if region is None:
            return None
        x0, y0, x1, y1 = region
        h, w = y1 - y0, x1 - x0
        target = frame[y0:y1, x0:x1]
        face_w = float(np.ptp(landmarks[:, 0]))
        scale = self.work_scale(source, face_w)
        local = landmarks.astype(np.float64).copy()
        local[:, 0] -= x0
        local[:, 1] -= y0
        if scale < 1.0:
            # The new face has no more detail than its source photo: build it
            # at that resolution and upsample once, so a large target face
            # costs what the photo's face costs. The frame stays full resolution.
            ws, hs = max(8, round(w * scale)), max(8, round(h * scale))
            small = downscale(target, (ws, hs))
            layer = self._layer(small, local * np.array([ws / w, hs / h, scale]), source, face_w * scale)
        else:
            layer = self._layer(target, local, source, face_w)
        if layer is None:
            return None
        layer.region = region
        if scale < 1.0:
            layer.alpha_full = cv2.resize(layer.alpha_full, (w, h), interpolation=cv2.INTER_LINEAR)
        layer.hole, layer.box = mask_holes(local, self.topology, (h, w), blur_px=self.options.mask_blur * max(w, h),
                                           keep_eyes=self.options.keep_eyes)
        if layer.hole is not None and base is not None:
            layer.kept = self._kept(target, base, landmarks, region, source.triangles)
        self._prepare_colour(layer)
        return layer

    def finish(self, frame: np.ndarray, layer: Layer, state: TrackState | None = None, *,
               occlusion: np.ndarray | None = None) -> bool:
        """The stateful part of :meth:`render`: colour (smoothed per track), blend, paint into ``frame``.

        ``occlusion`` is a keep-weight over ``layer.region`` (:mod:`~facegraft.render.occlusion`):
        the blend weight is its per-pixel minimum with it, so what covers the face stays in front.
        """
        x0, y0, x1, y1 = layer.region
        h, w = y1 - y0, x1 - x0
        target = frame[y0:y1, x0:x1]
        if layer.light is not None:
            warped = rl.finish(self._relight, layer, state, self._colour_alpha, self.options.detail_match)
        else:
            warped = layer.rgb if layer.lab is None else self._finish_colour(layer, state)
        if warped.shape[:2] != (h, w):
            warped = cv2.resize(warped, (w, h), interpolation=cv2.INTER_LINEAR)
        alpha = layer.alpha_full if occlusion is None else np.minimum(layer.alpha_full, occlusion)
        if self.options.blend != "feather":
            # Outside the mesh the overlay is the frame itself, so the pyramid's
            # coarse levels never mix black (or uncorrected texture) into the seam.
            # Only pixels whose coarse neighbours are all covered count: the maps are undefined past the mesh edge.
            covered = cv2.resize(layer.covered, (w, h), interpolation=cv2.INTER_LINEAR) > 250
            np.copyto(warped, target, where=~covered[..., None])
        hole, box = layer.hole, layer.box
        if hole is not None:
            # The mouth (and eyes if kept) is the target's: cut from the new face's weight, and
            # composited back sharply after blending (a pyramid would leak into a narrow hole).
            sub = (slice(box[1], box[3]), slice(box[0], box[2]))
            in_face = alpha[sub] > 0
            np.minimum(alpha[sub], 1.0 - hole, out=alpha[sub])
        blended = self._blend(target, warped, alpha)
        if hole is not None:
            kept = target if layer.kept is None else layer.kept
            blended[sub] = feather(blended[sub], kept[sub], hole * in_face)
        frame[y0:y1, x0:x1] = blended
        return True

    def work_scale(self, source: PreparedSource, face_width: float) -> float:
        """Scale at which the new face is built: the source photo's face width over the target's (<= 1)."""
        if not self.match_source_detail:
            return 1.0
        photo_w = max(levels[0].face_width for levels in source.levels)
        scale = photo_w / max(face_width, 1.0)
        return 1.0 if scale >= 0.9 else max(MIN_WORK_SCALE, scale)

    def _layer(self, target: np.ndarray, local: np.ndarray, source: PreparedSource, face_w: float) -> Layer | None:
        """The warped new face over ``target`` (before colour), its blend weight and coverage.

        The triangle raster, texture maps, mask and colour statistics are
        smooth or piecewise-linear, so they are computed on a grid ``step``
        times coarser and interpolated; only the texture sampling, the colour
        look-up and the blend run at full resolution. The texture maps are
        continuous across shared triangle edges, so interpolating them is
        exact inside a triangle and off by well under a pixel elsewhere.
        """
        h, w = target.shape[:2]
        step = self.map_step if min(h, w) >= self.map_step * MIN_GRID else 1
        hg, wg = h // step, w // step
        grid = local.copy()
        grid[:, 0] = (local[:, 0] + 0.5) * (wg / w) - 0.5
        grid[:, 1] = (local[:, 1] + 0.5) * (hg / h) - 0.5
        tris = source.triangles
        tri_ids = raster_triangles(grid, tris, (hg, wg), visible_order(grid, tris))
        if np.count_nonzero(tri_ids >= 0) < 64 // (step * step):
            return None
        photos = np.unique(source.owner)
        small = np.zeros((hg, wg, 4), np.uint8)
        full = small if step == 1 else np.zeros((h, w, 4), np.uint8)
        covered = np.zeros((hg, wg), bool)
        for photo in photos:
            # Each triangle takes its texture from the photo that sees it best. The maps span the
            # whole mesh (continuous, so safe to interpolate); the first photo fills everything and
            # the others overwrite what they own, so no pixel at an owner switch is left unset.
            texture, tex_pts = source.texture_for(int(photo), face_w)
            map_x, map_y, mine = texture_maps(grid, tex_pts, tris, tri_ids)
            covered |= mine
            if len(photos) > 1:
                mine &= source.owner[np.maximum(tri_ids, 0)] == photo
            part = cv2.remap(texture, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            np.copyto(small, part, where=mine[..., None])
            if step > 1:
                map_x = cv2.resize(map_x, (w, h), interpolation=cv2.INTER_LINEAR)
                map_y = cv2.resize(map_y, (w, h), interpolation=cv2.INTER_LINEAR)
                # remap turns float maps into these fixed-point ones block by block anyway (same
                # rounding); converted in one pass first, the full-resolution remap is ~20 % cheaper.
                map_xy, map_a = cv2.convertMaps(map_x, map_y, cv2.CV_16SC2)
                part = cv2.remap(texture, map_xy, map_a, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                if photo == photos[0]:
                    full = part
                else:
                    sel = cv2.resize(mine.view(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
                    np.copyto(full, part, where=sel[..., None].view(bool))
        size = max(wg, hg)
        alpha = face_mask(grid, self.topology, (hg, wg), covered, erode_px=self.options.mask_erode * size,
                          blur_px=self.options.mask_blur * size)
        # Where the source photo shows hair or a hand instead of face, the target's own face stays.
        alpha *= small[..., 3].astype(np.float32) * (1.0 / 255.0)
        if step > 1:
            target_g = cv2.resize(target[: hg * step, : wg * step], (wg, hg), interpolation=cv2.INTER_AREA)
            alpha_full = cv2.resize(alpha, (w, h), interpolation=cv2.INTER_LINEAR)
        else:
            # A copy: a pipeline paints the frame while this layer waits to be finished.
            target_g, alpha_full = target.copy(), alpha
        layer = Layer(small, full, alpha, alpha_full, target_g, covered.view(np.uint8) * np.uint8(255))
        if self.options.colour == "relight" and source.light is not None and face_w >= rl.MIN_FACE_PX:
            layer.light = self._relight.prepare(target_g, small, local, grid, tris, tri_ids, source.light)
        if self.options.colour in ("lab", "relight"):
            layer.full_lab = cv2.cvtColor(full, cv2.COLOR_RGB2LAB)
            if self.options.detail_match > 0:
                # Measured here, where the target is at the texture's (work) resolution.
                layer.soft = dt.soften(layer.full_lab, dt.radius_for(face_w))
                light = cv2.cvtColor(target, cv2.COLOR_RGB2LAB)[..., 0]
                layer.detail = dt.measure(layer.full_lab, layer.soft, light, alpha_full > 0.5)
                layer.edge = self._edge_softening(alpha, size, (w, h))
        return layer

    def _edge_softening(self, alpha: np.ndarray, size: int, shape: tuple[int, int]) -> np.ndarray | None:
        """Extra detail-softening share by pixel: :data:`EDGE_SOFTEN` where the blend weight leaves 1,
        fading linearly to 0 at :data:`EDGE_BAND` of the face inside (``alpha`` on the coarse grid of
        ``size`` cells across; returned at ``shape`` (w, h))."""
        strength = EDGE_SOFTEN * self.options.detail_match
        if strength <= 0:
            return None
        depth = cv2.distanceTransform((alpha >= 0.999).astype(np.uint8), cv2.DIST_L2, 3)
        edge = np.clip(1.0 - depth / max(EDGE_BAND * size, 1.0), 0.0, 1.0) * np.float32(strength)
        return cv2.resize(edge, shape, interpolation=cv2.INTER_LINEAR)

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

    def _prepare_colour(self, layer: Layer) -> None:
        """The per-frame part of the colour transfer, learnt on the coarse grid (sets ``rgb`` or ``lab``)."""
        mode = self.options.colour
        inside = layer.alpha > 0.5
        if layer.light is not None:
            return
        if mode == "none" or np.count_nonzero(inside) < 32:
            layer.rgb = cv2.cvtColor(layer.full, cv2.COLOR_RGBA2RGB)
            return
        warped = cv2.cvtColor(layer.small, cv2.COLOR_RGBA2RGB)
        if mode == "histogram":
            layer.rgb = col.match_histograms(warped, layer.target, inside, inside, apply_to=layer.full)
            return
        sigma = self.shading_sigma * float(max(inside.shape))
        layer.lab = col.prepare_lab(warped, layer.target, inside, sigma=sigma, full=layer.full,
                                    full_lab=layer.full_lab)

    def _finish_colour(self, layer: Layer, state: TrackState | None) -> np.ndarray:
        """The ``lab`` transfer with the track's moving-average statistics (this frame's without a state)."""
        lab = layer.lab
        assert lab is not None
        s_stats, t_stats, detail = lab.source, lab.target, layer.detail
        if state is not None:
            a = self._colour_alpha
            s_stats = s_stats if state.source_stats is None else state.source_stats.blend(s_stats, a)
            t_stats = t_stats if state.target_stats is None else state.target_stats.blend(t_stats, a)
            state.source_stats, state.target_stats = s_stats, t_stats
            if detail is not None:
                detail = detail if state.detail is None else state.detail.blend(detail, a)
                state.detail = detail
        if detail is not None and layer.soft is not None:
            # The transfer scales lightness by the spread ratio, and detail with it.
            gain = float((t_stats.std[0] / s_stats.std[0]) ** SPREAD)
            lab = replace(lab, lab=dt.apply(lab.lab, layer.soft, dt.weight(detail, gain, self.options.detail_match),
                                            layer.edge))
        return col.apply_lab(lab, s_stats, t_stats, spread=SPREAD)

