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
ColourMode = Literal["lab", "histogram", "none"]
Codec = Literal["h264", "h265", "vp9"]
Executor = Literal["local", "process", "ray"]
MirrorMode = Literal["auto", "on", "off"]

PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


def _opt(default: Any, help: str, *, label: str = "", group: str = "render", lo: float | None = None,
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

    # --- who gets replaced -------------------------------------------------
    select: SelectMode = _opt(
        "auto", "Which target faces to replace: auto (the only or most present person), all, identity "
        "(ids from `facegraft faces`), reference (faces matching --reference photos), map (source i -> "
        "identity ids[i]).", label="Faces to replace", group="select", choices=get_args(SelectMode))
    identities: tuple[int, ...] = _opt(
        (), "Identity ids to replace (with select=identity or map).", label="Identity ids", group="select")
    references: tuple[str, ...] = _opt(
        (), "Reference photos of the person(s) to replace (with select=reference).", group="select", ui=False)
    match_threshold: float = _opt(
        0.6, "Embedding distance under which a target face matches a reference photo.",
        label="Match threshold", group="select", lo=0.2, hi=1.0)
    # --- rendering ---------------------------------------------------------
    shape_strength: float = _opt(
        0.8, "How far the inner face (eyes, nose, mouth proportions) moves toward the source's shape; "
        "0 keeps the target's shape.", label="Identity shape strength", lo=0.0, hi=1.0)
    pose_check: bool = _opt(
        True, "Render a few test frames of each replaced person, read the head pose back with the face mesh, and "
        "hold back the mouth's vertical move if the new proportions make the head look nodded (a smiling "
        "source photo can).", label="Check head pose")
    keep_eyes: bool = _opt(False, "Keep the target's eyes (iris and gaze) instead of the source's.",
                           label="Eyes from target")
    mirror_turned: MirrorMode = _opt(
        "auto", "Fill the far half of a turned source photo (head turned over 8 degrees) from its mirror image "
        "instead of its squeezed far side: on, off, or auto (render test frames both ways and keep the one "
        "whose dlib embedding is nearer the source photo's; it helps some people and costs others likeness).",
        label="Mirror turned photos", choices=get_args(MirrorMode))
    detail_match: float = _opt(
        1.0, "How far the new face's fine texture (pores, wrinkles, photo sharpness) is softened toward the "
        "video's own level; edges such as eyes and brows stay sharp. Cuts the frame-to-frame 'boiling' of a "
        "sharp photo on a soft video (with the lab colour transfer); 0 keeps the photo's detail.",
        label="Match video sharpness", lo=0.0, hi=1.0)
    colour: ColourMode = _opt("lab", "Colour transfer to the target's lighting.", label="Colour transfer",
                              choices=get_args(ColourMode))
    blend: BlendMode = _opt("feather", "Blending of the new face into the frame: feather (default: with the "
                            "colour stage's shading match its seam measured as low as multi-band's, 25 % faster), "
                            "multiband (Laplacian pyramid) or poisson (seamless clone).", label="Blend mode",
                            choices=get_args(BlendMode))
    mask_erode: float = _opt(0.02, "Mask erosion as a fraction of the face size.", label="Mask erosion",
                             lo=0.0, hi=0.3)
    mask_blur: float = _opt(0.06, "Mask feather width as a fraction of the face size.", label="Mask feather",
                            lo=0.0, hi=0.5)
    # --- time --------------------------------------------------------------
    smoothing: float = _opt(0.5, "Temporal smoothing strength of landmarks, colour and mask; 0 turns it off.",
                            label="Temporal smoothing", group="time", lo=0.0, hi=1.0)
    max_gap: int = _opt(12, "Frames a lost face is bridged from its track before it stops being swapped.",
                        label="Gap bridging (frames)", group="time", lo=0, hi=120)
    # --- output ------------------------------------------------------------
    codec: Codec = _opt("h264", "Video codec of the output.", label="Codec", group="output",
                        choices=get_args(Codec))
    crf: int = _opt(18, "Constant rate factor: lower is better quality and bigger files.", label="Quality (CRF)",
                    group="output", lo=0, hi=63)
    preset: str = _opt("veryfast", "Encoder speed preset (x264/x265).", label="Preset", group="output",
                       choices=PRESETS)
    fps: float | None = _opt(None, "Force a constant output frame rate; default keeps every input timestamp.",
                             label="Fixed fps", group="output", lo=1.0, hi=240.0, ui=False)
    overwrite: bool = _opt(False, "Replace an existing output file.", group="output", ui=False)
    max_side: int = _opt(0, "Refuse inputs whose longer side exceeds this many pixels (0: no limit).",
                         group="limits", lo=0, hi=16384, ui=False)
    max_duration: float = _opt(0.0, "Refuse inputs longer than this many seconds (0: no limit).",
                               group="limits", lo=0.0, hi=86400.0, ui=False)
    # --- scale -------------------------------------------------------------
    executor: Executor = _opt("local", "Where segments run: local (one process), process (a pool of "
                              "--workers), ray (a Ray cluster).", group="scale", choices=get_args(Executor),
                              ui=False)
    workers: int = _opt(1, "Parallel workers for executor=process or ray.", group="scale", lo=1, hi=256,
                        ui=False)
    ray_address: str | None = _opt(None, "Ray cluster address (default: start Ray locally).", group="scale",
                                   ui=False)

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
