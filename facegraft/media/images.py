"""Still images: read upright RGB whatever the file holds, write atomically with a synthetic mark.

Phones store portrait photos sideways with an EXIF orientation; scanners
produce greyscale or CMYK; cut-outs have alpha. The library only ever sees
RGB uint8 HxWx3, upright, so every such case is normalised here, once.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from ..errors import MediaError
from .atomic import SYNTHETIC_COMMENT, AtomicOutput
from .limits import FrameLimits
from .probe import MediaInfo, check_readable

#: EXIF orientation -> clockwise degrees to turn the stored picture upright (flips ignored).
_EXIF_ROTATION = {1: 0, 2: 0, 3: 180, 4: 180, 5: 90, 6: 90, 7: 270, 8: 270}
_EXIF_ORIENTATION, _EXIF_DESCRIPTION, _EXIF_SOFTWARE = 0x0112, 0x010E, 0x0131
_WRITE_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP"}

# Pillow warns (on stderr, as a second line after ours) about images over ~89 megapixels. Every
# caller that cares has refused larger images already, from the header (FrameLimits), and Pillow still
# raises DecompressionBombError over ~179 megapixels, so the warning only ever repeats a decision made.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


def _open(path: Path, limits: FrameLimits | None = None, *, load: bool = True) -> Image.Image:
    """Open an image, refusing it from its header if it is too large, then decode it (``load``)."""
    try:
        image = Image.open(path)
    except UnidentifiedImageError as exc:
        raise MediaError("not a readable image", path) from exc
    except Image.DecompressionBombError as exc:  # Pillow's own ceiling, whatever our limits say
        raise MediaError(f"refused as a decompression bomb: {_bomb_size(exc)}", path) from exc
    except (OSError, SyntaxError, ValueError) as exc:  # a damaged header
        raise MediaError(f"damaged image ({_first_line(exc)})", path) from exc
    if limits is not None:
        limits.check(*image.size, path)
    if load:
        try:
            image.load()
        except (OSError, SyntaxError, ValueError) as exc:  # truncated or damaged data
            raise MediaError(f"damaged image ({_first_line(exc)})", path) from exc
    return image


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _bomb_size(exc: BaseException) -> str:
    """"the header declares N pixels, over Pillow's limit of M" from Pillow's message, or its first line."""
    numbers = re.findall(r"\d+", str(exc))
    if len(numbers) >= 2:
        return f"the header declares {int(numbers[0]):,} pixels, over the image decoder's limit of " \
               f"{int(numbers[1]):,}"
    return _first_line(exc)


def check_image_size(path: str | Path, limits: FrameLimits) -> None:
    """Refuse an image over ``limits`` from its header alone (nothing is decoded).

    Raises:
        MediaError: the file is missing, not an image, or too large.
    """
    _open(check_readable(path), limits, load=False).close()


def read_image(path: str | Path, *, limits: FrameLimits | None = None) -> np.ndarray:
    """Read an image as upright RGB uint8 HxWx3.

    The EXIF orientation is applied; greyscale, palette, CMYK and 16-bit
    images are converted; transparent pixels are composited onto white (a
    face cut-out then has a plain background instead of whatever colour the
    transparent pixels happened to store).

    Example:
        >>> rgb = read_image("me.jpg")  # doctest: +SKIP
        >>> rgb.shape, rgb.dtype  # doctest: +SKIP
        ((1137, 910, 3), dtype('uint8'))

    ``limits`` refuses an image too large from its header, before decoding;
    without it only Pillow's own decompression-bomb ceiling (~179 megapixels)
    applies.

    Raises:
        MediaError: the file is missing, empty, not an image, damaged, or too large.
    """
    p = check_readable(path)
    image = ImageOps.exif_transpose(_open(p, limits))
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image).astype(np.float64)
        peak = 65535.0 if image.mode.startswith("I;16") else max(1.0, float(array.max()))
        grey = np.clip(array / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[..., None], 3, axis=2))
    if (image.mode == "P" and "transparency" in image.info) or image.mode in ("PA", "LA", "La", "RGBa"):
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image)
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))


def _text_tags(image: Image.Image) -> dict[str, str]:
    """Text metadata of an image: PNG text chunks, the JPEG comment, EXIF description/software."""
    tags: dict[str, str] = {}
    for key, value in image.info.items():
        if isinstance(value, bytes) and key == "comment":
            value = value.decode("utf-8", "replace")
        if isinstance(value, str):
            tags[str(key)] = value
    exif = image.getexif()
    for tag, name in ((_EXIF_DESCRIPTION, "ImageDescription"), (_EXIF_SOFTWARE, "Software")):
        if tag in exif:
            tags.setdefault(name, str(exif[tag]))
    return tags


def probe_image(path: str | Path, *, limits: FrameLimits | None = None) -> MediaInfo:
    """:class:`MediaInfo` for a still image (size as displayed, EXIF rotation); ``limits`` as in :func:`read_image`."""
    p = check_readable(path)
    image = _open(p, limits)
    orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
    rotation = _EXIF_ROTATION.get(int(orientation), 0)
    w, h = image.size
    tags = _text_tags(image)
    if rotation in (90, 270):
        w, h = h, w
    return MediaInfo(path=p, kind="image", width=w, height=h, rotation=rotation, fps=0.0, time_base=Fraction(1),
                     frame_count=1, duration=0.0, has_audio=False, audio_codec=None,
                     video_codec=(image.format or "image").lower(), tags=tags)


def write_image(path: str | Path, rgb: np.ndarray, *, overwrite: bool = False, quality: int = 95,
                metadata: Mapping[str, str] | None = None) -> Path:
    """Write an RGB image atomically, marked as synthetic.

    The mark is a PNG text chunk (``Comment``, ``synthetic``, ``Software``),
    a JPEG COM comment plus EXIF ImageDescription/Software, or WebP EXIF.

    Args:
        path: .jpg, .jpeg, .png or .webp.
        rgb: RGB uint8 HxWx3.
        overwrite: replace an existing file; otherwise a MediaError is raised.
        quality: JPEG/WebP quality.
        metadata: extra text tags (PNG only; JPEG/WebP keep the comment only).

    Returns:
        The path written.
    """
    p = Path(path)
    fmt = _WRITE_FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise MediaError(f"unsupported image type {p.suffix or '(none)'}; use .jpg, .png or .webp", p)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 HxWx3 image, got {rgb.dtype} {rgb.shape}")
    out = AtomicOutput(p, overwrite=overwrite)
    image = Image.fromarray(np.ascontiguousarray(rgb), mode="RGB")
    exif = Image.Exif()
    exif[_EXIF_DESCRIPTION] = SYNTHETIC_COMMENT
    exif[_EXIF_SOFTWARE] = "facegraft"
    try:
        if fmt == "PNG":
            info = PngImagePlugin.PngInfo()
            tags = {"Comment": SYNTHETIC_COMMENT, "synthetic": "1", "Software": "facegraft", **(metadata or {})}
            for key, value in tags.items():
                info.add_text(key, value)
            image.save(out.tmp, format="PNG", pnginfo=info)
        elif fmt == "JPEG":
            image.save(out.tmp, format="JPEG", quality=quality, comment=SYNTHETIC_COMMENT.encode(),
                       exif=exif.tobytes())
        else:
            image.save(out.tmp, format="WEBP", quality=quality, exif=exif.tobytes())
    except OSError as exc:  # disk full, file-size limit, folder not writable
        out.discard()
        raise MediaError(f"cannot write image ({exc.strerror or exc})", p) from exc
    except BaseException:
        out.discard()
        raise
    return out.commit()
