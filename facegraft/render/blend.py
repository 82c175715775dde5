"""Blending the rendered face into the frame: multi-band, Poisson or feather.

Multi-band (Laplacian pyramid) blending joins low frequencies over a wide band
and fine detail over a narrow one, so the seam disappears without Poisson's
habit of dragging the surrounding colours into the whole face (which pulls the
result back toward the target's look) and at a fraction of its cost.
"""

from __future__ import annotations

import cv2
import numpy as np


def feather(base: np.ndarray, overlay: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Plain alpha blend; ``alpha`` float32 HxW in [0, 1] (OpenCV's vectorised blendLinear)."""
    a = np.ascontiguousarray(alpha, dtype=np.float32)
    return cv2.blendLinear(overlay, base, a, 1.0 - a)


def multiband(base: np.ndarray, overlay: np.ndarray, alpha: np.ndarray, levels: int = 4) -> np.ndarray:
    """Laplacian-pyramid blend of ``overlay`` over ``base`` with a soft ``alpha``."""
    h, w = alpha.shape
    levels = max(1, min(levels, int(np.log2(max(2, min(h, w) // 8)))))
    a = base.astype(np.float32)
    b = overlay.astype(np.float32)
    m = alpha.astype(np.float32)
    ga, gb, gm = [a], [b], [m]
    for _ in range(levels):
        ga.append(cv2.pyrDown(ga[-1]))
        gb.append(cv2.pyrDown(gb[-1]))
        gm.append(cv2.pyrDown(gm[-1]))
    out = gb[-1] * gm[-1][..., None] + ga[-1] * (1 - gm[-1][..., None])
    for i in range(levels - 1, -1, -1):
        size = (ga[i].shape[1], ga[i].shape[0])
        la = ga[i] - cv2.pyrUp(ga[i + 1], dstsize=size)
        lb = gb[i] - cv2.pyrUp(gb[i + 1], dstsize=size)
        mi = gm[i][..., None]
        out = cv2.pyrUp(out, dstsize=size) + lb * mi + la * (1 - mi)
    # Outside the mask the frame must stay exactly as it was.
    out = np.where(alpha[..., None] > 0, out, a)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def poisson(base: np.ndarray, overlay: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """OpenCV seamless clone (gradient-domain), then the feathered alpha on top."""
    mask = (alpha > 0.5).astype(np.uint8) * 255
    if mask.sum() == 0:
        return base
    ys, xs = np.nonzero(mask)
    centre = (int((xs.min() + xs.max() + 1) // 2), int((ys.min() + ys.max() + 1) // 2))
    # seamlessClone needs the mask away from the image border.
    pad = 2
    b = cv2.copyMakeBorder(base, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    o = cv2.copyMakeBorder(overlay, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    mk = cv2.copyMakeBorder(mask, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    cloned = cv2.seamlessClone(o, b, mk, (centre[0] + pad, centre[1] + pad), cv2.NORMAL_CLONE)
    cloned = cloned[pad:-pad, pad:-pad]
    return feather(base, cloned, alpha)


BLENDERS = {"multiband": multiband, "poisson": poisson, "feather": feather}
