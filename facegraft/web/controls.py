"""The page's option controls, generated from :class:`SwapOptions`' schema.

Every field whose metadata says ``ui=True`` gets a control: a checkbox for a
bool, a dropdown for choices, a slider for a number with a range, a number box
otherwise. Label, help text (shown as the control's info line) and default come
from the field, so a new option appears on the page without touching this
module. The ``select`` group is left out because the face gallery is the
page's way of choosing who gets replaced.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args, get_origin

from ..errors import OptionsError
from ..options import SwapOptions

ControlKind = Literal["checkbox", "dropdown", "slider", "number", "textbox"]

#: Schema groups the page handles itself instead of with generated controls.
SKIPPED_GROUPS = ("select",)

#: Titles of the option groups on the page, in display order.
GROUP_TITLES = {"look": "Look", "output": "Output video"}


@dataclass(frozen=True)
class ControlSpec:
    """What control one option gets: the Gradio class name and its arguments."""

    name: str
    group: str
    kind: ControlKind
    kwargs: dict[str, Any]
    value_type: type


def _plain_type(hint: Any) -> Any:
    if get_origin(hint) in (typing.Union, types.UnionType):
        hint = next(a for a in get_args(hint) if a is not type(None))
    if get_origin(hint) is Literal:
        return type(get_args(hint)[0])
    return hint


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory()  # type: ignore[misc]


def control_specs(skip_groups: Sequence[str] = SKIPPED_GROUPS) -> list[ControlSpec]:
    """One :class:`ControlSpec` per UI option of the schema, in declaration order."""
    hints = typing.get_type_hints(SwapOptions)
    specs: list[ControlSpec] = []
    for f in SwapOptions.schema():
        meta = f.metadata
        if not meta.get("ui", False) or meta["group"] in skip_groups:
            continue
        hint = _plain_type(hints[f.name])
        if get_origin(hint) is tuple:
            continue  # lists of values (identity ids) have no generic control
        default = _default(f)
        common = {"label": meta["label"], "info": meta["help"], "value": default}
        lo, hi, choices = meta.get("min"), meta.get("max"), meta.get("choices")
        if hint is bool:
            kind: ControlKind = "checkbox"
            kwargs = common
        elif choices:
            kind, kwargs = "dropdown", {**common, "choices": list(choices)}
        elif hint in (int, float) and lo is not None and hi is not None:
            step = 1 if hint is int else _float_step(lo, hi)
            kind, kwargs = "slider", {**common, "minimum": lo, "maximum": hi, "step": step}
        elif hint in (int, float):
            kind, kwargs = "number", {**common, "minimum": lo, "maximum": hi,
                                      "precision": 0 if hint is int else None}
        else:
            kind, kwargs = "textbox", {**common, "value": "" if default is None else str(default)}
        specs.append(ControlSpec(f.name, meta["group"], kind, kwargs, hint))
    return specs


def _float_step(lo: float, hi: float) -> float:
    """A slider step giving about a hundred positions, rounded to 1, 2 or 5 x 10^k."""
    raw = (hi - lo) / 100
    scale = 10 ** int(f"{raw:e}".split("e")[1])
    return float(min((m * scale for m in (1, 2, 5, 10) if m * scale >= raw), default=raw))


def build_controls(specs: Sequence[ControlSpec]) -> dict[str, Any]:
    """Create the Gradio components of ``specs`` in the current layout context."""
    import gradio as gr

    classes = {"checkbox": gr.Checkbox, "dropdown": gr.Dropdown, "slider": gr.Slider,
               "number": gr.Number, "textbox": gr.Textbox}
    return {spec.name: classes[spec.kind](**spec.kwargs) for spec in specs}


def options_from_values(specs: Sequence[ControlSpec], values: Sequence[Any], **fixed: Any) -> SwapOptions:
    """Validated options from the controls' values (same order as ``specs``) plus fixed ones.

    Raises:
        OptionsError: a value is out of range or of the wrong kind.
    """
    if len(values) != len(specs):
        raise OptionsError(f"expected {len(specs)} option values, got {len(values)}")
    changes: dict[str, Any] = {}
    for spec, value in zip(specs, values, strict=True):
        if value is None or value == "":
            continue
        try:
            changes[spec.name] = spec.value_type(value) if spec.value_type in (int, float) else value
        except (TypeError, ValueError) as exc:
            raise OptionsError(f"option {spec.kwargs['label']}: {value!r} is not a number") from exc
    changes.update(fixed)
    return SwapOptions(**changes)
