"""``facegraft swap --help``: grouped options, one line of help each, one-line errors."""

from __future__ import annotations

import dataclasses
import re

import pytest

from facegraft.cli import build_parser, main
from facegraft.options import GROUPS, SwapOptions

HELP_COLUMN = 32  # facegraft.cli.common.HelpFormatter's max_help_position


def swap_help(monkeypatch, columns: int) -> str:
    monkeypatch.setenv("COLUMNS", str(columns))
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sub.choices["swap"].format_help()


def test_swap_options_come_in_the_four_groups_in_order(monkeypatch):
    text = swap_help(monkeypatch, 120)
    titles = re.findall(r"^(\S[^:\n]*):$", text, flags=re.M)
    assert titles == ["options", "files", *GROUPS.values()]
    assert list(GROUPS) == ["select", "look", "output", "speed"]
    sections = dict(zip(titles, re.split(r"^\S[^:\n]*:$", text, flags=re.M)[1:], strict=True))
    for f in SwapOptions.schema():
        if f.metadata["cli"]:
            flag = "--" + f.name.replace("_", "-")
            owner = [t for t, body in sections.items() if re.search(rf"^  {flag}\b", body, flags=re.M)]
            assert owner == [GROUPS[f.metadata["group"]]], f"{flag} is under {owner}"


def test_every_option_has_one_line_of_help_and_a_stated_default(monkeypatch):
    """At 120 columns no help wraps; each says its default (shown, or in its own words)."""
    text = swap_help(monkeypatch, 120)
    body = text.split("options:", 1)[1]
    had_help = False
    options = 0
    for line in body.splitlines():
        if line.startswith("  -"):
            options += 1
            had_help = line[HELP_COLUMN - 2:HELP_COLUMN] == "  " and bool(line[HELP_COLUMN:].strip())
            continue
        if line.startswith(" " * HELP_COLUMN) and line.strip():
            assert not had_help, f"help wraps onto a second line: {line.strip()!r}"
            had_help = True
    assert options >= 30
    for f in SwapOptions.schema():
        if not f.metadata["cli"]:
            continue
        help_text = f.metadata["help"]
        assert help_text.count(". ") == 0 and help_text.endswith("."), f"{f.name}: not one sentence"
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        if default in (None, ()):
            assert "default" in help_text or "for --select" in help_text, f"{f.name}: default not stated"


@pytest.mark.parametrize("argv, expected", [
    (["swap", "-s", "a.jpg", "-t", "b.mp4", "-o", "c.mp4", "--select", "bogus"], "invalid choice: 'bogus'"),
    (["swap", "-s", "a.jpg"], "required: -t/--target, -o/--output"),
    (["swap", "-s", "a.jpg", "-t", "b.mp4", "-o", "c.mp4", "--crf", "ten"], "invalid int value: 'ten'"),
])
def test_a_wrong_command_line_is_one_line_with_status_2(argv, expected, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err and "see facegraft swap --help" in err


def test_a_value_out_of_range_is_one_line_naming_the_option(tmp_path, capsys):
    assert main(["swap", "-s", "a.jpg", "-t", "b.mp4", "-o", str(tmp_path / "c.mp4"), "--crf", "99"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "crf" in err
    assert not (tmp_path / "c.mp4").exists()


def test_the_readme_lists_every_swap_option_under_its_group():
    from conftest import REPO

    readme = (REPO / "README.md").read_text()
    rows = dict(re.findall(r"^\| (who to replace|look|output|speed and limits) \| (.+) \|$", readme, flags=re.M))
    for f in SwapOptions.schema():
        if f.metadata["cli"]:
            flag = "--" + f.name.replace("_", "-")
            title = GROUPS[f.metadata["group"]]
            assert re.search(rf"`{flag}[` \\]", rows.get(title, "")), f"README's option table lacks {flag} ({title})"
