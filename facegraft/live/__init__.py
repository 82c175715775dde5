"""The live path: a causal swap of a camera (or a file played in real time), frame by frame.

:class:`LiveSwapper` swaps one frame at a time with the offline stages and
renderer; :class:`LiveRunner` puts it behind a one-frame mailbox so the
newest frame wins and latency stays bounded. See docs/live.md.
"""

from __future__ import annotations

from .records import FrameInfo, LiveFrame, LiveStats
from .runner import LiveRunner
from .swapper import LiveSwapper

__all__ = ["FrameInfo", "LiveFrame", "LiveRunner", "LiveStats", "LiveSwapper"]
