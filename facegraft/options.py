"""One validated schema of options for every front end.

:class:`SwapOptions` holds every setting of a swap. Each field carries its help
text, UI label, range or choices in its ``metadata``, so the CLI flags
(:func:`facegraft.cli`) and the web page's controls are generated from the
same definition and cannot drift apart (the idea of PySceneDetect's
``CONFIG_MAP``). Values are checked once, in ``__post_init__``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from .errors import OptionsError

SelectMode = Literal["auto", "all", "identity", "reference", "map"]
BlendMode = Literal["feather", "multiband", "poisson"]
ColourMode = Literal["lab", "relight", "histogram", "none"]
Codec = Literal["h264", "h265", "vp9"]
Executor = Literal["local", "process", "ray"]
MirrorMode = Literal["auto", "on", "off"]
OcclusionMode = Literal["auto", "hands", "off"]

PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


#: The option groups, in display order, with their ``--help`` titles: who to replace, how the new
#: face looks, the output file, and speed and resource limits.
GROUPS = {"select": "who to replace", "look": "look", "output": "output", "speed": "speed and limits"}


def _opt(default: Any, help: str, *, label: str = "", group: str = "look", lo: float | None = None,
         hi: float | None = None, choices: tuple[Any, ...] | None = None, ui: bool = True,
         cli: bool = True) -> Any:
    """A dataclass field with its schema in ``metadata``."""
    meta = {"help": help, "label": label or help.split(".")[0], "group": group, "min": lo, "max": hi,
            "choices": choices, "ui": ui, "cli": cli}
    if isinstance(default, list | dict):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True, kw_only=True)
class SwapOptions:
    """Every setting of a face swap, validated on creation.

    Example:
        >>> opts = SwapOptions(blend="poisson", crf=20)
        >>> opts.codec
        'h264'
    """

    # --- who to replace ---------------------------------------------------
    select: SelectMode = _opt(
        "auto", "Who: auto (the most present person), all, identity, reference or map.",
        label="Faces to replace", group="select", choices=get_args(SelectMode))
    identities: tuple[int, ...] = _opt(
        (), "Identity ids from `facegraft faces`, for --select identity or map.", label="Identity ids",
        group="select")
    references: tuple[str, ...] = _opt(
        (), "Photos of the person to replace, for --select reference.", label="Reference photos",
        group="select", ui=False)
    match_threshold: float = _opt(
        0.6, "dlib distance under which a face matches a reference photo.", label="Match threshold",
        group="select", lo=0.2, hi=1.0)
    # --- look --------------------------------------------------------------
    shape_strength: float = _opt(
        0.8, "Share of the source's face proportions to take (0: keep the target's).",
        label="Identity shape strength", lo=0.0, hi=1.0)
    pose_check: bool = _opt(
        True, "Test-render each person; hold back the mouth move if it tilts the head.",
        label="Check head pose")
    keep_eyes: bool = _opt(False, "Keep the target's eyes (iris and gaze).", label="Eyes from target")
    mirror_turned: MirrorMode = _opt(
        "auto", "Use a turned photo's mirror image for its far side (auto: test both).",
        label="Mirror turned photos", choices=get_args(MirrorMode))
    detail_match: float = _opt(
        1.0, "Soften the photo's fine texture to the video's sharpness (0: keep it).",
        label="Match video sharpness", lo=0.0, hi=1.0)
    colour: ColourMode = _opt(
        "relight", "How the new face takes the shot's light and skin tone.",
        label="Colour transfer", choices=get_args(ColourMode))
    blend: BlendMode = _opt("feather", "How the new face is blended into the frame.", label="Blend mode",
                            choices=get_args(BlendMode))
    mask_erode: float = _opt(0.02, "Mask erosion, as a fraction of the face size.", label="Mask erosion",
                             lo=0.0, hi=0.3)
    mask_blur: float = _opt(0.06, "Mask feather width, as a fraction of the face size.", label="Mask feather",
                            lo=0.0, hi=0.5)
    occlusion: OcclusionMode = _opt(
        "auto", "Keep what covers the face in front of it (auto: hands, objects, hair).", label="Occlusion",
        choices=get_args(OcclusionMode))
    smoothing: float = _opt(0.5, "Temporal smoothing of landmarks, colour and mask (0: off).",
                            label="Temporal smoothing", lo=0.0, hi=1.0)
    max_gap: int = _opt(12, "Frames a lost face is bridged from its track.", label="Gap bridging (frames)",
                        lo=0, hi=120)
    # --- output ------------------------------------------------------------
    codec: Codec = _opt("h264", "Video codec of the output (vp9 writes WebM).", label="Codec", group="output",
                        choices=get_args(Codec))
    crf: int = _opt(18, "Constant rate factor: lower is better quality, bigger files.", label="Quality (CRF)",
                    group="output", lo=0, hi=63)
    preset: str = _opt("veryfast", "Encoder speed preset, ultrafast to veryslow.", label="Preset",
                       group="output", choices=PRESETS)
    fps: float | None = _opt(None, "Constant output frame rate (default: keep every input timestamp).",
                             label="Fixed fps", group="output", lo=1.0, hi=240.0, ui=False)
    overwrite: bool = _opt(False, "Replace an existing output file.", label="Overwrite", group="output",
                           ui=False)
    # --- speed and limits --------------------------------------------------
    executor: Executor = _opt("local", "Where segments run: local, process (a pool) or ray.", label="Executor",
                              group="speed", choices=get_args(Executor), ui=False)
    workers: int = _opt(1, "Parallel workers for --executor process or ray.", label="Workers", group="speed",
                        lo=1, hi=256, ui=False)
    ray_address: str | None = _opt(None, "Ray cluster address (default: start Ray locally).",
                                   label="Ray address", group="speed", ui=False)
    max_side: int = _opt(8192, "Refuse inputs longer than this many pixels on a side (0: no limit).",
                         label="Largest side", group="speed", lo=0, hi=65535, ui=False)
    max_megapixels: float = _opt(40.0, "Refuse frames over this many megapixels (0: no limit).",
                                 label="Largest frame", group="speed", lo=0.0, hi=4000.0, ui=False)
    max_duration: float = _opt(0.0, "Refuse inputs longer than this many seconds (0: no limit).",
                               label="Longest duration", group="speed", lo=0.0, hi=86400.0, ui=False)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            meta = f.metadata
            if value is None:
                continue
            if meta.get("choices") and value not in meta["choices"]:
                raise OptionsError(f"option {f.name}={value!r} is not one of {', '.join(map(str, meta['choices']))}")
            lo, hi = meta.get("min"), meta.get("max")
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            if numeric and ((lo is not None and value < lo) or (hi is not None and value > hi)):
                raise OptionsError(f"option {f.name}={value} is outside [{lo}, {hi}]")
        if self.select in ("identity", "map") and not self.identities:
            raise OptionsError(f"select={self.select} needs identity ids")
        if self.select == "reference" and not self.references:
            raise OptionsError("select=reference needs at least one reference photo")
        if self.codec == "vp9" and self.preset not in PRESETS:
            raise OptionsError(f"unknown preset {self.preset!r}")

    def replace(self, **changes: Any) -> SwapOptions:
        """A validated copy with some options changed."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def schema(cls) -> list[dataclasses.Field[Any]]:
        """The fields with their metadata, in declaration order (for CLI and UI)."""
        return list(dataclasses.fields(cls))
