"""Colour transfer of the warped source to the target's lighting and skin tone.

Statistics are taken inside the face mask only (skin, not background or
hair), in CIE-LAB where luminance and chroma separate. Means are matched fully
(lighting, white balance); the spread is matched only partly, because the
source's own texture contrast (freckles, stubble, eye and lip contrast) is
part of its identity, and matching it fully makes the result look like the
target. Statistics are smoothed over time by the renderer per track.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: Largest shading correction, in OpenCV 8-bit LAB levels (L spans 0..255).
SHADING_LIMIT = 24.0
#: Lightness (8-bit LAB) above which the colour transfer is compressed.
KNEE = 200.0


@dataclass(frozen=True, slots=True)
class ColourStats:
    """Per-channel LAB mean and standard deviation of a masked region."""

    mean: np.ndarray
    std: np.ndarray

    def blend(self, other: ColourStats, alpha: float) -> ColourStats:
        """Exponential moving average step: ``alpha`` weight on ``other``."""
        return ColourStats(self.mean + alpha * (other.mean - self.mean), self.std + alpha * (other.std - self.std))


def lab_stats(lab: np.ndarray, mask: np.ndarray) -> ColourStats:
    """Masked per-channel statistics (mask: bool or weights), from a reduced copy.

    Means and spreads of a face need no more than ~64x64 samples; reducing
    first makes this a small fraction of the render time.
    """
    h, w = mask.shape
    f = max(1, min(h, w) // 64)
    if f > 1:
        lab = shrink(lab, f)
        mask = shrink(mask.astype(np.float32), f) > 0.99
    lab = lab.astype(np.float32, copy=False)
    sel = lab[mask > 0.5] if mask.dtype != bool else lab[mask]
    if len(sel) < 16:
        return ColourStats(np.zeros(3, np.float32), np.ones(3, np.float32))
    return ColourStats(sel.mean(0), sel.std(0) + 1e-3)


def match_histograms(rgb: np.ndarray, reference: np.ndarray, mask: np.ndarray, ref_mask: np.ndarray,
                     apply_to: np.ndarray | None = None) -> np.ndarray:
    """Per-channel histogram matching inside masks (the ``histogram`` colour mode).

    The look-up tables are learnt from ``rgb`` and applied to ``apply_to``
    (default ``rgb``): a full-resolution copy of the same picture.
    """
    target = rgb if apply_to is None else apply_to
    out = np.ascontiguousarray(target[..., :3])
    for c in range(3):
        src_vals = rgb[..., c][mask]
        ref_vals = reference[..., c][ref_mask]
        if len(src_vals) < 16 or len(ref_vals) < 16:
            continue
        s_hist = np.bincount(src_vals, minlength=256).cumsum() / len(src_vals)
        r_hist = np.bincount(ref_vals, minlength=256).cumsum() / len(ref_vals)
        lut = np.clip(np.searchsorted(r_hist, s_hist), 0, 255).astype(np.uint8)
        out[..., c] = lut[target[..., c]]
    return out


def shrink(image: np.ndarray, factor: int) -> np.ndarray:
    """Area-average downscale by an integer factor.

    OpenCV's area resampling has a fast path only for integer ratios (an
    order of magnitude faster than a fractional one), so the image is
    cropped to a multiple of the factor first; the lost border (under
    ``factor`` pixels) does not matter for the low-frequency uses here.
    """
    if factor <= 1:
        return image
    h, w = image.shape[:2]
    hh, ww = max(factor, h - h % factor), max(factor, w - w % factor)
    return cv2.resize(image[:hh, :ww], (ww // factor, hh // factor), interpolation=cv2.INTER_AREA)


def masked_blur(channel: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur using only pixels inside ``mask`` (normalised convolution)."""
    m = mask.astype(np.float32)
    num = cv2.GaussianBlur(channel * m, (0, 0), sigma)
    den = cv2.GaussianBlur(m, (0, 0), sigma)
    return num / np.maximum(den, 1e-3)


@dataclass(frozen=True, slots=True)
class LabInputs:
    """What the ``lab`` transfer needs from one frame, before the statistics are smoothed.

    Everything here is per frame and stateless (computed while the previous
    frame is finished); :func:`apply_lab` then needs only cheap per-pixel work.

    Attributes:
        source: statistics of the warped texture inside the face.
        target: statistics of the target inside the face.
        lab: the full-resolution warped texture in 8-bit LAB.
        shade_source: masked low-pass of the warped texture (reduced), or None.
        shade_target: masked low-pass of the target (reduced), or None.
    """

    source: ColourStats
    target: ColourStats
    lab: np.ndarray
    shade_source: np.ndarray | None
    shade_target: np.ndarray | None


def prepare_lab(warped: np.ndarray, target: np.ndarray, inside: np.ndarray, *, sigma: float,
                full: np.ndarray | None = None, full_lab: np.ndarray | None = None) -> LabInputs:
    """The ``lab`` colour mode's per-frame part: statistics and low-pass shading.

    Works on OpenCV's 8-bit LAB: :func:`apply_lab` then turns the (smoothed)
    statistics into one float look-up table and adds the bounded shading
    difference, so the full-resolution work is a handful of vectorised passes.
    The shading low-pass is linear, so the source's is taken before the
    transfer and the transfer applied to it afterwards (``blur(a*r + o) = r*blur(a) + o``).

    Args:
        warped: RGB uint8 warped source texture (region, possibly on a coarse grid).
        target: RGB uint8 frame region, same size as ``warped``.
        inside: bool mask of the face where statistics are taken.
        sigma: shading low-pass scale in ``warped``'s pixels (0 turns shading matching off).
        full: the same warped picture at a higher resolution (RGB or RGBA), which
            :func:`apply_lab` corrects (default: ``warped``).
        full_lab: ``full`` already in 8-bit LAB (saves converting it again).
    """
    w8 = cv2.cvtColor(warped, cv2.COLOR_RGB2LAB)
    t8 = cv2.cvtColor(target, cv2.COLOR_RGB2LAB)
    lab = full_lab if full_lab is not None else w8 if full is None else cv2.cvtColor(full, cv2.COLOR_RGB2LAB)
    shade_a = shade_b = None
    if sigma > 0:
        f = max(1, int(sigma / 3.0))
        m = shrink(inside.astype(np.float32), f)
        a, b = shrink(w8, f).astype(np.float32), shrink(t8, f).astype(np.float32)
        shade_a, shade_b = np.empty_like(a), np.empty_like(b)
        for c in range(3):
            shade_a[..., c] = masked_blur(a[..., c], m, sigma / f)
            shade_b[..., c] = masked_blur(b[..., c], m, sigma / f)
    return LabInputs(lab_stats(w8, inside), lab_stats(t8, inside), lab, shade_a, shade_b)


def apply_lab(inputs: LabInputs, source: ColourStats, target: ColourStats, *, spread: float = 0.5) -> np.ndarray:
    """The transfer with the given (smoothed) statistics, plus the bounded shading; RGB uint8 at full size."""
    ratio = ((target.std / source.std) ** spread).astype(np.float32)
    offset = (target.mean - source.mean * ratio).astype(np.float32)
    lut = (np.arange(256, dtype=np.float32)[:, None] * ratio + offset).reshape(256, 1, 3)
    out = cv2.LUT(inputs.lab, lut)
    if inputs.shade_source is not None and inputs.shade_target is not None:
        h, w = out.shape[:2]
        diff = inputs.shade_target - (inputs.shade_source * ratio + offset)
        # A bounded correction: lighting, not the target's own features. A
        # glossy make-up highlight on the target's nose would otherwise be
        # added on top of the source's and burn out to white.
        np.clip(diff, -SHADING_LIMIT, SHADING_LIMIT, out=diff)
        out += cv2.resize(diff, (w, h), interpolation=cv2.INTER_LINEAR)
    # Soft shoulder on lightness: a source highlight brightened toward a
    # brighter target rolls off instead of burning out to flat white.
    light = out[..., 0]
    over = light > KNEE
    light[over] = KNEE + (255.0 - KNEE) * np.tanh((light[over] - KNEE) / (255.0 - KNEE))
    np.clip(out, 0, 255, out=out)
    return cv2.cvtColor(out.astype(np.uint8), cv2.COLOR_LAB2RGB)
