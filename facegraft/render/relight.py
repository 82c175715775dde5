"""The ``relight`` colour mode: the new face in the shot's light and the target's skin tone.

:class:`Relighter` asks :mod:`~facegraft.render.lighting` for the photo's and
the frame's light and turns them into one per-pixel, per-channel gain on the
warped source texture (:meth:`Relighter.gains`):

* **Shading:** the target's SH shading over the source's, each from its own
  mesh's normals, so the photo's shadows leave and the shot's arrive.
* **Skin tone:** a von Kries gain, target skin albedo over source skin albedo
  per channel. A multiplicative transform keeps black black, where the
  additive LAB shift lifted dark brows and tinted them (teal brows on a pale
  target).
* **The eyes keep their hue:** the eye openings take the luminance part only
  (sclera stays white, irises keep their colour: no red/green fringes). Lips and
  brow hairs take the skin's shift (``feature_chroma``; with none of it, a
  neutral brow beside an orange-shifted skin reads blue by eye).
* **Photo marks toned down:** the photo's own tint variation over the skin
  (blush, make-up, tan) is scaled toward the target's spread of skin chroma
  (never amplified), at constant luminance; lips and brow hairs keep theirs
  (brow hairs: the pixels in the brows' hull much darker than skin there; the
  skin between them is skin). Brightness detail (moles, freckles, stubble) is
  untouched.

Gains are computed in linear light and applied to the sRGB pixels as
``gain ** (1 / 2.2)`` (exact for a pure 2.2 power law), so the full-resolution
work is one resize and one multiply; everything else runs on the renderer's
coarse grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from . import detail as dt
from .lighting import (
    GAMMA,
    LINEAR,
    LUMA,
    Lighting,
    SourceLight,
    fit_lighting,
    log_chroma,
    sh_basis,
    skin_vertices,
    vertex_normals,
)
from .topology import MeshTopology
from .warp import texture_maps

if TYPE_CHECKING:
    from .renderer import Layer, TrackState

#: The shading ratio between target and source is kept within these bounds (a grazing normal or a
#: bad fit must not burn a cheek out or black it in).
RATIO_RANGE = (0.4, 2.5)
#: The gains are computed on a grid this many times coarser than the renderer's (they are smooth).
MAP_STEP = 2
#: Default share of the shot's light that replaces the photo's (the exponent on the shading ratio). All of it
#: measured best for realism but cost likeness where the shot's light is strong and one-sided
#: (docs/quality.md): dlib reads a face under a different light as further from its photo.
SHADING = 0.6
#: Faces narrower than this (pixels, at the work scale) take the ``lab`` transfer instead: on a crowd's
#: small faces relighting cost likeness (facenet crowd within 0.6 of the source 72 -> 52 %) for a change
#: too small to see at that size.
MIN_FACE_PX = 100
#: Inside the brows' hull a pixel above this share of the skin's luminance there is skin, under half of it hair.
HAIR_LEVEL = 0.5
#: The eye mask (sclera and iris take no skin-tone shift) is feathered by this fraction of the face size.
FEATURE_BLUR = 0.015


@dataclass(frozen=True, slots=True)
class RelightInputs:
    """What relighting needs from one frame, before the target's light is smoothed over time.

    Attributes:
        target: this frame's fitted light and albedo of the target face.
        basis: (h, w, 9) SH basis of the target's interpolated normals on the coarse grid.
        inv_source: (h, w) one over the source's shading, interpolated from its vertices.
        share: (h, w) share of the skin's chroma gain each pixel takes (1 on skin, 0 in the eye openings,
            :attr:`Relighter.feature_chroma` on lips and brow hairs).
        chroma: (h, w, 2) the warped source's log chromaticity minus its skin's mean, weighted by how much
            the photo's own tint variation (blush, tan) is toned down there (0 on features).
        source: the source's skin light (albedo, chroma spread).
    """

    target: Lighting
    basis: np.ndarray
    inv_source: np.ndarray
    share: np.ndarray
    chroma: np.ndarray
    source: SourceLight


class Relighter:
    """Relighting stage: settings in ``__init__``, one frame's inputs from :meth:`prepare`, gains from :meth:`gains`.

    Args:
        topology: the mesh topology.
        shading: how much of the light moves: the exponent on the target-over-source shading ratio
            (0: the photo's shading stays, 1: all of the shot's).
        feature_chroma: share of the skin's chroma shift that lips and brow hairs take (0: their hue is the
            source's own; the eye openings always take none).
        tone_down: share of the photo's skin tint variation that is scaled to the target's spread (0: kept).
    """

    def __init__(self, topology: MeshTopology, *, shading: float = SHADING, feature_chroma: float = 1.0,
                 tone_down: float = 1.0) -> None:
        self.topology = topology
        self.skin = skin_vertices(topology)
        self.shade = shading
        self.feature_chroma = feature_chroma
        self.tone_down = tone_down

    def prepare(self, target: np.ndarray, warped: np.ndarray, local: np.ndarray, grid: np.ndarray,
                triangles: np.ndarray, tri_ids: np.ndarray, light: SourceLight) -> RelightInputs:
        """This frame's light (fitted on ``target``, the region on the coarse grid) and the per-pixel maps.

        Args:
            target: RGB region on the coarse grid.
            warped: the warped source (RGB or RGBA uint8) on the same grid.
            local: (478, 3) target mesh at the work resolution (its z matches x and y there).
            grid: (478, 2+) the same mesh in ``target``'s pixels.
            triangles: the mesh triangles (as wound for the source).
            tri_ids: (h, w) triangle raster of ``grid``.
            light: the source's light.
        """
        normals = vertex_normals(local, triangles)
        face_w = float(np.ptp(grid[:, 0]))
        fitted = fit_lighting(target, grid, normals, self.skin, face_w)
        # Everything below is smooth (normals, shading) or blurred (masks, tint): on a grid coarser again.
        step = MAP_STEP if min(tri_ids.shape) >= MAP_STEP * 48 else 1
        if step > 1:
            tri_ids = tri_ids[::step, ::step]
            hh, ww = tri_ids.shape
            warped = cv2.resize(warped[: hh * step, : ww * step], (ww, hh), interpolation=cv2.INTER_AREA)
            grid = grid[:, :2] / step
            face_w /= step
        # Normals and the source's shading are smooth over the face: barycentric interpolation (the
        # texture maps' affine per triangle) of (nx, ny) and (nz, 1/shading) gives them per pixel.
        nxy = np.ascontiguousarray(normals[:, :2])
        nz = np.stack([normals[:, 2], 1.0 / np.maximum(light.shading, 0.05)], axis=1)
        map_x, map_y, covered = texture_maps(grid, nxy, triangles, tri_ids)
        map_z, inv, _ = texture_maps(grid, nz, triangles, tri_ids)
        n = np.dstack([map_x, map_y, map_z])
        n[~covered] = (0.0, 0.0, 1.0)
        n /= np.linalg.norm(n, axis=2, keepdims=True) + 1e-6
        inv[~covered] = 1.0
        eyes, lips, brows = self.feature_masks(grid, tri_ids.shape)
        # The photo's own tint variation over the skin, measured on a lightly blurred copy (no pores).
        sigma = max(1.0, 0.015 * face_w)
        lin = LINEAR[cv2.GaussianBlur(np.ascontiguousarray(warped[..., :3]), (0, 0), sigma)]
        # Brow *hairs* are a feature; the skin between and around them is skin: inside the brows' hull,
        # what is much darker than the source's skin would be there under its own light.
        skin_y = float(light.albedo @ LUMA) / inv
        hair = np.clip((HAIR_LEVEL - (lin @ LUMA) / np.maximum(skin_y, 1e-4)) / (0.5 * HAIR_LEVEL), 0.0, 1.0)
        features = np.maximum(lips, brows * hair)
        share = (1.0 - eyes) * (1.0 - features * np.float32(1.0 - self.feature_chroma))
        u, v = log_chroma(lin)
        su, sv = log_chroma(light.albedo)
        tone = (1.0 - np.maximum(eyes, features))[..., None] * np.float32(self.tone_down)
        chroma = np.dstack([u - su, v - sv]) * tone
        return RelightInputs(fitted, sh_basis(n), inv, share, chroma.astype(np.float32), light)

    def feature_masks(self, grid: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Soft weights (float32 HxW on the coarse grid) of the eye openings, the lips and the brows' hull.

        Drawn as three channels of one picture, within the box around the features, and blurred once.
        """
        topo = self.topology
        h, w = shape
        sigma = FEATURE_BLUR * float(max(np.ptp(grid[:, 0]), np.ptp(grid[:, 1])))
        parts = (topo.left_eye, topo.right_eye, topo.mouth_outer, topo.left_brow, topo.right_brow)
        pts = grid[[i for part in parts for i in part], :2]
        pad = int(3 * sigma) + 2
        x0, y0 = max(0, int(pts[:, 0].min()) - pad), max(0, int(pts[:, 1].min()) - pad)
        x1, y1 = min(w, int(pts[:, 0].max()) + pad + 1), min(h, int(pts[:, 1].max()) + pad + 1)
        out = np.zeros((h, w, 3), np.float32)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return out[..., 0], out[..., 1], out[..., 2]
        box = np.zeros((y1 - y0, x1 - x0, 3), np.float32)
        shift = np.array([x0, y0])

        def poly(ring: tuple[int, ...]) -> np.ndarray:
            return np.round((grid[list(ring), :2] - shift) * 16).astype(np.int32)

        cv2.fillPoly(box, [poly(topo.left_eye), poly(topo.right_eye)], (1.0, 0.0, 0.0), cv2.LINE_AA, shift=4)
        lips = np.zeros_like(box)
        cv2.fillPoly(lips, [poly(topo.mouth_outer)], (0.0, 1.0, 0.0), cv2.LINE_AA, shift=4)
        for brow in (topo.left_brow, topo.right_brow):
            cv2.fillConvexPoly(lips, cv2.convexHull(poly(brow)), (0.0, 0.0, 1.0), cv2.LINE_AA, shift=4)
        box += lips
        if sigma >= 0.5:
            box = cv2.GaussianBlur(box, (0, 0), sigma)
        out[y0:y1, x0:x1] = np.minimum(box, 1.0)
        return out[..., 0], out[..., 1], out[..., 2]

    def gains(self, inputs: RelightInputs, target: Lighting) -> np.ndarray:
        """Per-pixel, per-channel gain (h, w, 3) on the sRGB-coded warped source, for the (smoothed) ``target``."""
        src = inputs.source
        shade_t = np.maximum(inputs.basis @ target.coeffs.astype(np.float32), 0.05)
        ratio = np.clip(shade_t * inputs.inv_source, *RATIO_RANGE) ** np.float32(self.shade)
        skin = (target.albedo / np.maximum(src.albedo, 1e-4)).astype(np.float32)
        luma = float(target.albedo @ LUMA / max(float(src.albedo @ LUMA), 1e-4))
        # log gain = log(luminance gain) + share * (the skin's chroma part); then the tint variation toned
        # down toward the target's spread (never amplified), at constant luminance.
        log_gain = np.log(luma) + inputs.share[..., None] * np.log(skin / luma)[None, None, :]
        squeeze = np.minimum(1.0, target.spread / np.maximum(src.spread, 1e-3)).astype(np.float32) - 1.0
        red = np.exp(squeeze[0] * inputs.chroma[..., 0])
        blue = np.exp(squeeze[1] * inputs.chroma[..., 1])
        # The toned-down tint keeps the pixel's luminance (weights: the skin's share of R, G, B in it).
        mix = (LUMA * src.albedo / max(float(src.albedo @ LUMA), 1e-4)).astype(np.float32)
        norm = ratio / (mix[0] * red + mix[1] + mix[2] * blue)
        gain = np.exp(log_gain)
        gain[..., 0] *= red * norm
        gain[..., 1] *= norm
        gain[..., 2] *= blue * norm
        return np.power(np.maximum(gain, 1e-3), np.float32(1.0 / GAMMA), dtype=np.float32)


def lightness_gain(inputs: RelightInputs, target: Lighting) -> float:
    """About how much relighting scales lightness contrast (detail matching aims for the target's energy)."""
    luma = float(target.albedo @ LUMA / max(float(inputs.source.albedo @ LUMA), 1e-4))
    return luma ** (1.0 / 3.0)


def apply_gains(rgb: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """``rgb`` (uint8) times ``gain`` (float32, same size or coarser: resized), saturated to uint8."""
    h, w = rgb.shape[:2]
    if gain.shape[:2] != (h, w):
        gain = cv2.resize(gain, (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.multiply(rgb, gain, dtype=cv2.CV_8U)


def finish(relighter: Relighter, layer: Layer, state: TrackState | None, alpha: float,
           detail_match: float) -> np.ndarray:
    """The ``relight`` mode's stateful part: the target's light smoothed per track (EMA weight ``alpha`` on
    this frame), detail matching, then the gains; RGB uint8 at the work resolution."""
    inputs = layer.light
    assert inputs is not None and layer.full_lab is not None
    light, detail = inputs.target, layer.detail
    if state is not None:
        light = light if state.light is None else state.light.blend(light, alpha)
        state.light = light
        if detail is not None:
            detail = detail if state.detail is None else state.detail.blend(detail, alpha)
            state.detail = detail
    lab = layer.full_lab
    if detail is not None and layer.soft is not None:
        lab = dt.apply(lab, layer.soft, dt.weight(detail, lightness_gain(inputs, light), detail_match), layer.edge)
    return apply_gains(cv2.cvtColor(lab, cv2.COLOR_LAB2RGB), relighter.gains(inputs, light))
