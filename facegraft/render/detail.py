"""Detail matching: the new face no sharper than the video it is painted into.

A still photo is sharper than a video frame (no motion blur, no compression,
often more light), and a textured face (stubble, wrinkles) pasted onto a
smooth one carries more fine contrast than the face it replaces. Both show:
the face looks pasted on, and as the head moves, every pixel of fine texture
changes from frame to frame, so the swapped region "boils" more than the
original did (measured: raw frame-to-frame change 1.13-1.25x the original's on
the talking clips, although per pixel of apparent motion it was 1.02-1.07x).

So the fine gradient energy of the warped source (mean |Sobel| of lightness
inside the face) is matched to the target's, as colour statistics are: the
lightness is mixed with an edge-preserving smoothed copy of itself (a
self-guided filter, He et al. 2010: box filters only, ~1 ms a face), which
flattens skin texture but keeps eyes, brows and lips crisp (a plain Gaussian
low-pass reached the same energy only by blurring the eyes), until its energy,
after the colour transfer's lightness gain, equals the target's. It only ever
softens (a blurry video never makes the photo sharper than it is, and noise
is never amplified), and the energies are smoothed over time per track with
the colour statistics, so the level of detail cannot pump.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: Window radius (work-resolution pixels) of the smoothing: fine texture only...
RADIUS_PX = 3
#: ...scaled down to about this fraction of the face's width (never under 1 px; :func:`radius_for`).
#: On a small face (a crowd, a wide shot) 3 px is no longer fine texture: it spans an eyelid or a
#: nostril, and smoothing it cost likeness (1080p crowd: within dlib's same-person distance in 78 % of
#: sampled faces at 3 px, 84 % with the radius scaled; docs/quality.md).
RADIUS_SHARE = 1 / 64
#: Local contrast (standard deviation, 8-bit lightness levels) above which edges are kept: eyes, brows, lips.
EDGE_LEVELS = 30.0
#: Largest share of the smoothed copy in the mix.
MAX_WEIGHT = 1.0


@dataclass(frozen=True, slots=True)
class DetailStats:
    """Fine gradient energies (8-bit lightness levels per pixel) inside the face.

    Attributes:
        source: of the warped source texture.
        soft: of its low-passed copy.
        target: of the target frame's face.
    """

    source: float
    soft: float
    target: float

    def blend(self, other: DetailStats, alpha: float) -> DetailStats:
        """Exponential moving average step: ``alpha`` weight on ``other``."""
        return DetailStats(self.source + alpha * (other.source - self.source),
                           self.soft + alpha * (other.soft - self.soft),
                           self.target + alpha * (other.target - self.target))


def energy(light: np.ndarray, mask: np.ndarray) -> float:
    """Mean gradient magnitude (``|d/dx| + |d/dy|``, Sobel) of a lightness channel inside ``mask``."""
    # 8-bit input: exact in 16-bit integers (|Sobel| <= 1020 a direction), and ~2x faster than float.
    depth = cv2.CV_16S if light.dtype == np.uint8 else cv2.CV_32F
    gx = cv2.Sobel(light, depth, 1, 0, ksize=3)
    gy = cv2.Sobel(light, depth, 0, 1, ksize=3)
    mag = cv2.add(cv2.absdiff(gx, 0), cv2.absdiff(gy, 0))
    m = mask.view(np.uint8) if mask.dtype == bool else mask
    return float(cv2.mean(mag, mask=m)[0]) / 8.0 if cv2.countNonZero(m) else 0.0


def radius_for(face_width: float) -> int:
    """Smoothing window radius for a face ``face_width`` pixels wide at the work resolution (1 to :data:`RADIUS_PX`)."""
    return int(min(RADIUS_PX, max(1, round(face_width * RADIUS_SHARE))))


def soften(lab: np.ndarray, radius: int = RADIUS_PX) -> np.ndarray:
    """The smoothed lightness that :func:`apply` mixes in (float32, HxW), from 8-bit LAB.

    A guided filter guided by the lightness itself: in each window the output
    is ``a * L + b`` with ``a = var / (var + eps)``, so flat skin (variance well
    under ``EDGE_LEVELS**2``) is averaged and strong edges pass unchanged.
    """
    light = lab[..., 0].astype(np.float32)
    size = (2 * radius + 1, 2 * radius + 1)
    mean = cv2.blur(light, size)
    var = cv2.blur(light * light, size) - mean * mean
    a = var / (var + EDGE_LEVELS * EDGE_LEVELS)
    b = mean - a * mean
    return cv2.blur(a, size) * light + cv2.blur(b, size)


def measure(lab: np.ndarray, soft: np.ndarray, target_light: np.ndarray, mask: np.ndarray) -> DetailStats:
    """Energies of the warped source (8-bit LAB), its smoothed lightness and the target lightness in ``mask``.

    All three are at the same (work) resolution, so they compare.
    """
    inner = cv2.erode(mask.view(np.uint8), np.ones((3, 3), np.uint8)).view(bool)
    return DetailStats(energy(lab[..., 0], inner), energy(soft, inner), energy(target_light, inner))


def weight(stats: DetailStats, gain: float, strength: float = 1.0) -> float:
    """Share of the soft copy that brings the source's energy, times the lightness ``gain``, to the target's.

    Energy is close to linear in the mix (the soft copy's gradients point the
    same way as the source's), so the share is solved directly. ``strength``
    below 1 aims part of the way (geometrically) from the source's energy.
    """
    if strength <= 0.0 or stats.source <= 1e-3:
        return 0.0
    wanted = stats.source * (stats.target / max(gain, 1e-3) / stats.source) ** strength
    room = stats.source - stats.soft
    if room <= 1e-3 or wanted >= stats.source:
        return 0.0
    return float(min(MAX_WEIGHT, (stats.source - wanted) / room))


def apply(lab: np.ndarray, soft: np.ndarray, share: float, extra: np.ndarray | None = None) -> np.ndarray:
    """``lab`` with ``share`` of the smoothed lightness mixed in (a new array; ``lab`` itself when share is 0).

    ``extra`` (float32 HxW in [0, 1], None: nowhere) moves the share that far toward 1, pixel by pixel.
    """
    if extra is None and share <= 0.0:
        return lab
    mix = share if extra is None else share + (1.0 - share) * extra
    out = lab.copy()
    light = lab[..., 0].astype(np.float32)
    out[..., 0] = np.clip(light + mix * (soft - light) + 0.5, 0, 255)
    return out
