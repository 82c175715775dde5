"""Helpers shared by subcommands: option flags generated from the schema."""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any, get_args, get_origin

from ..options import SwapOptions


def _base_type(annotation: Any) -> Any:
    hints = typing.get_type_hints(SwapOptions)
    return hints[annotation] if isinstance(annotation, str) else annotation


def add_option_flags(parser: argparse.ArgumentParser, groups: tuple[str, ...] | None = None) -> None:
    """Add one ``--flag`` per :class:`SwapOptions` field (help, choices and defaults from the schema)."""
    hints = typing.get_type_hints(SwapOptions)
    sections: dict[str, argparse._ArgumentGroup] = {}
    for f in SwapOptions.schema():
        meta = f.metadata
        if not meta.get("cli", True) or (groups is not None and meta["group"] not in groups):
            continue
        group = sections.setdefault(meta["group"], parser.add_argument_group(f"{meta['group']} options"))
        flag = "--" + f.name.replace("_", "-")
        hint = hints[f.name]
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        help_text = meta["help"] + (f" (default: {default})" if default not in (None, (), "") else "")
        help_text = help_text.replace("%", "%%")  # argparse %-formats help strings
        if hint is bool:
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
            continue
        origin = get_origin(hint)
        if origin is tuple:
            item = get_args(hint)[0]
            group.add_argument(flag, type=item, nargs="+", default=None, help=help_text)
            continue
        if origin in (typing.Union, types.UnionType):
            hint = next(a for a in get_args(hint) if a is not type(None))
        if get_origin(hint) is typing.Literal:
            group.add_argument(flag, choices=get_args(hint), default=None, help=help_text)
            continue
        group.add_argument(flag, type=hint, default=None, choices=meta.get("choices"), help=help_text)


def options_from_args(args: argparse.Namespace, **overrides: Any) -> SwapOptions:
    """Build validated :class:`SwapOptions` from parsed flags (unset flags keep defaults)."""
    values: dict[str, Any] = {}
    for f in SwapOptions.schema():
        value = getattr(args, f.name, None)
        if value is not None:
            values[f.name] = tuple(value) if isinstance(value, list) else value
    values.update(overrides)
    return SwapOptions(**values)
