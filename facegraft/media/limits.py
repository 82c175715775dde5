"""Frame-size limits, checked from a file's header before any pixel is decoded.

A PNG of a few hundred bytes can claim 30000x30000 pixels (a decompression
bomb: 2.7 GB once decoded to RGB), and a video can carry frames far beyond any
camera's. Both are refused from the size the header declares, so the refusal
costs nothing and the server or CLI stays unharmed. The defaults sit well
above real cameras (a 50-megapixel phone photo is 8160x6120, 8K video is
7680x4320) and each limit names the flag that raises it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import MediaError

#: Default longest side, in pixels (SwapOptions.max_side, ``--max-side``).
DEFAULT_MAX_SIDE = 8192
#: Default frame area, in megapixels (SwapOptions.max_megapixels, ``--max-megapixels``).
DEFAULT_MAX_MEGAPIXELS = 40.0


@dataclass(frozen=True, slots=True)
class FrameLimits:
    """The largest frame accepted; 0 turns a limit off.

    Attributes:
        max_side: longest side in pixels.
        max_megapixels: width x height in millions of pixels.
    """

    max_side: int = DEFAULT_MAX_SIDE
    max_megapixels: float = DEFAULT_MAX_MEGAPIXELS

    def check(self, width: int, height: int, path: str | Path) -> None:
        """Raise a MediaError naming the limit and its flag if a ``width x height`` frame exceeds it."""
        side = max(width, height)
        if self.max_side and side > self.max_side:
            raise MediaError(f"resolution {width}x{height} exceeds the limit of {self.max_side} px on a side "
                             "(raise it with --max-side)", path)
        megapixels = width * height / 1e6
        if self.max_megapixels and megapixels > self.max_megapixels:
            raise MediaError(f"resolution {width}x{height} ({megapixels:.1f} megapixels) exceeds the limit of "
                             f"{self.max_megapixels:g} megapixels (raise it with --max-megapixels)", path)


#: No limit beyond what the decoders themselves refuse.
UNLIMITED = FrameLimits(max_side=0, max_megapixels=0.0)
