"""Piecewise-affine warping of a source texture onto a target mesh.

The target face's bounding region is rasterised once into a triangle-id
image (triangles drawn far-to-near so the nearest wins, back-facing ones
culled); every pixel then maps through its triangle's affine transform to
source coordinates, and a single ``cv2.remap`` samples the texture. Cost is
one small raster pass plus one remap per face: no per-pixel Python.
"""

from __future__ import annotations

import cv2
import numpy as np

from .topology import signed_area


def triangle_affines(dst: np.ndarray, src: np.ndarray, triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Affine maps dst->src for every triangle (closed form, vectorised).

    Returns:
        (T, 3, 2) matrices ``M`` with ``[x, y, 1] @ M = [u, v]``, and a (T,)
        mask of triangles that are well conditioned (non-degenerate).
    """
    d = dst[triangles, :2].astype(np.float64)  # (T,3,2)
    s = src[triangles, :2].astype(np.float64)
    x0, y0 = d[:, 0, 0], d[:, 0, 1]
    ex1, ey1 = d[:, 1, 0] - x0, d[:, 1, 1] - y0
    ex2, ey2 = d[:, 2, 0] - x0, d[:, 2, 1] - y0
    det = ex1 * ey2 - ex2 * ey1
    ok = np.abs(det) > 1e-3
    inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
    du1, du2 = s[:, 1] - s[:, 0], s[:, 2] - s[:, 0]  # (T,2)
    # [u,v] = s0 + a*(du1) + b*(du2), with (a, b) the coordinates of (x-x0, y-y0) in the edge basis.
    ax, ay = ey2 * inv, -ex2 * inv  # a = ax*(x-x0) + ay*(y-y0)
    bx, by = -ey1 * inv, ex1 * inv
    m = np.empty((len(triangles), 3, 2))
    m[:, 0] = ax[:, None] * du1 + bx[:, None] * du2
    m[:, 1] = ay[:, None] * du1 + by[:, None] * du2
    m[:, 2] = s[:, 0] - x0[:, None] * m[:, 0] - y0[:, None] * m[:, 1]
    return m, ok


def raster_triangles(dst: np.ndarray, triangles: np.ndarray, size: tuple[int, int],
                     order: np.ndarray | None = None) -> np.ndarray:
    """Triangle index per pixel (-1 outside), drawn in ``order`` (last wins).

    Args:
        dst: (N, 2+) vertex positions in the raster's pixel coordinates.
        triangles: (T, 3) vertex indices.
        size: (height, width) of the raster.
        order: triangle indices to draw, back to front; defaults to all.
    """
    h, w = size
    ids = np.full((h, w), -1, np.int32)
    pts = np.round(dst[:, :2] * 16).astype(np.int32)  # 4 bits of sub-pixel precision
    order = np.arange(len(triangles)) if order is None else order
    # One gather for all polygons: the loop then only calls OpenCV (~900 calls a face). The call's
    # own overhead is most of its cost, so arguments go by position (keywords cost ~1 us a call to
    # parse) and the polygons as a list (iterating the array makes a view per step): half the time.
    fill, line = cv2.fillConvexPoly, cv2.LINE_8
    for t, poly in zip(order.tolist(), list(pts[triangles[order]]), strict=True):
        fill(ids, poly, t, line, 4)
    return ids


def visible_order(dst3: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Front-facing triangles sorted far-to-near by mean depth (mediapipe: smaller z is nearer)."""
    front = signed_area(dst3, triangles) > 0
    idx = np.nonzero(front)[0]
    depth = dst3[triangles[idx], 2].mean(axis=1)
    return idx[np.argsort(-depth)]


def warp_texture(src_image: np.ndarray, src_pts: np.ndarray, dst_pts: np.ndarray, triangles: np.ndarray,
                 region: tuple[int, int, int, int], tri_ids: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Warp ``src_image`` so that ``src_pts`` land on ``dst_pts`` inside ``region``.

    Args:
        src_image: texture, HxWxC uint8.
        src_pts: (N, 2+) vertex positions in the texture.
        dst_pts: (N, 3) vertex positions in frame pixels (z used for depth order).
        triangles: (T, 3) consistently wound triangles.
        region: (x0, y0, x1, y1) frame rectangle to render.
        tri_ids: optional precomputed triangle raster for this region.

    Returns:
        The warped texture for the region (h, w, C) uint8, and the triangle-id
        raster (-1 where no front-facing triangle covers the pixel).
    """
    x0, y0, x1, y1 = region
    h, w = y1 - y0, x1 - x0
    local = dst_pts.astype(np.float64).copy()
    local[:, 0] -= x0
    local[:, 1] -= y0
    if tri_ids is None:
        tri_ids = raster_triangles(local, triangles, (h, w), visible_order(local, triangles))
    map_x, map_y, covered = texture_maps(local, src_pts, triangles, tri_ids)
    warped = cv2.remap(src_image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return warped, np.where(covered, tri_ids, -1)


def texture_maps(dst_pts: np.ndarray, src_pts: np.ndarray, triangles: np.ndarray, tri_ids: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-pixel texture coordinates (``cv2.remap`` maps) of a triangle raster.

    Args:
        dst_pts: (N, 2+) vertex positions in the raster's pixels.
        src_pts: (N, 2+) vertex positions in the texture.
        triangles: (T, 3) triangles.
        tri_ids: (h, w) triangle raster (-1 where none).

    Returns:
        (map_x, map_y, covered): float32 maps (-1 outside) and where a
        well-conditioned triangle covers the pixel. The map is continuous
        across shared triangle edges, so it can be computed on a coarse grid
        and interpolated (see the renderer).
    """
    h, w = tri_ids.shape
    mats, ok = triangle_affines(dst_pts, src_pts, triangles)
    covered = tri_ids >= 0
    ids = np.where(covered, tri_ids, 0)
    covered &= ok[ids]
    # Per-pixel affine coefficients by table look-up (np.take on a T-entry
    # table is far cheaper than gathering (P, 3, 2) matrices per pixel).
    lut = mats.reshape(len(mats), 6).astype(np.float32)
    xs = np.arange(w, dtype=np.float32)[None, :]
    ys = np.arange(h, dtype=np.float32)[:, None]
    map_x = np.take(lut[:, 0], ids) * xs + np.take(lut[:, 2], ids) * ys + np.take(lut[:, 4], ids)
    map_y = np.take(lut[:, 1], ids) * xs + np.take(lut[:, 3], ids) * ys + np.take(lut[:, 5], ids)
    map_x[~covered] = -1.0
    map_y[~covered] = -1.0
    return map_x, map_y, covered
