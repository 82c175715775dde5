"""Helpers shared by subcommands: option flags generated from the schema."""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any, get_args, get_origin

from ..options import GROUPS, SwapOptions

#: Flags shown as ``{a,b,c}`` list their choices; longer lists get a plain metavar (the help names them).
_MAX_SHOWN_CHOICES = 4


class Parser(argparse.ArgumentParser):
    """argparse's parser with errors on one line, like every other error of the command.

    argparse prints the whole usage (a dozen lines for ``swap``) above the error; the one line
    names the problem and where the full help is.
    """

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter with a wider flag column, so most one-sentence helps fit on one line."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)


def _metavar(name: str, hint: Any, choices: Any) -> str | None:
    """A short metavar: ``N`` for counts, ``X`` for fractions, the flag's name for long choice lists."""
    if choices and len(choices) <= _MAX_SHOWN_CHOICES:
        return None
    if choices:
        return name.upper()
    return {int: "N", float: "X", str: "TEXT"}.get(hint, name.upper())


def _default_text(default: Any) -> str:
    """The ``(default: ...)`` suffix of a help line; empty when the help says it itself."""
    if default in (None, (), ""):
        return ""
    if isinstance(default, bool):
        return f" (default: {'on' if default else 'off'})"
    return f" (default: {default})"


def _base_type(annotation: Any) -> Any:
    hints = typing.get_type_hints(SwapOptions)
    return hints[annotation] if isinstance(annotation, str) else annotation


def add_option_flags(parser: argparse.ArgumentParser, groups: tuple[str, ...] | None = None) -> None:
    """Add one ``--flag`` per :class:`SwapOptions` field (help, choices and defaults from the schema)."""
    hints = typing.get_type_hints(SwapOptions)
    fields = [f for f in SwapOptions.schema() if f.metadata.get("cli", True)
              and (groups is None or f.metadata["group"] in groups)]
    order = [*GROUPS, *sorted({f.metadata["group"] for f in fields} - set(GROUPS))]
    sections = {key: parser.add_argument_group(GROUPS.get(key, key))
                for key in order if any(f.metadata["group"] == key for f in fields)}
    for f in fields:
        meta = f.metadata
        group = sections[meta["group"]]
        flag = "--" + f.name.replace("_", "-")
        hint = hints[f.name]
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        help_text = (meta["help"] + _default_text(default)).replace("%", "%%")  # argparse %-formats helps
        if hint is bool:
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
            continue
        origin = get_origin(hint)
        if origin is tuple:
            item = get_args(hint)[0]
            metavar = "ID" if item is int else "PHOTO"
            group.add_argument(flag, type=item, nargs="+", default=None, metavar=metavar, help=help_text)
            continue
        if origin in (typing.Union, types.UnionType):
            hint = next(a for a in get_args(hint) if a is not type(None))
        choices = get_args(hint) if get_origin(hint) is typing.Literal else meta.get("choices")
        if get_origin(hint) is typing.Literal:
            hint = type(choices[0])
        group.add_argument(flag, type=hint, default=None, choices=choices, help=help_text,
                           metavar=_metavar(f.name, hint, choices))


def options_from_args(args: argparse.Namespace, **overrides: Any) -> SwapOptions:
    """Build validated :class:`SwapOptions` from parsed flags (unset flags keep defaults)."""
    values: dict[str, Any] = {}
    for f in SwapOptions.schema():
        value = getattr(args, f.name, None)
        if value is not None:
            values[f.name] = tuple(value) if isinstance(value, list) else value
    values.update(overrides)
    return SwapOptions(**values)
