"""Errors that reach a user as one readable line.

Every failure a user can cause (a missing file, a video with no frames, a
source photo without a face) is raised as a :class:`FacegraftError` carrying
the file and the problem, so the CLI and the web page can show
``path: problem`` without a stack trace.
"""

from __future__ import annotations

from pathlib import Path


class FacegraftError(Exception):
    """A problem with the user's input or request, shown as one line.

    Args:
        problem: what is wrong, in plain words.
        path: the file concerned, if any.
    """

    def __init__(self, problem: str, path: str | Path | None = None) -> None:
        self.problem = problem
        self.path = None if path is None else str(path)
        super().__init__(self.line())

    def line(self) -> str:
        """The one-line message: ``path: problem``."""
        return f"{self.path}: {self.problem}" if self.path else self.problem


class MediaError(FacegraftError):
    """A media file cannot be read or written."""


class NoFaceError(FacegraftError):
    """A face was needed (a source photo) and none was found."""


class OptionsError(FacegraftError):
    """An option is out of range or inconsistent with another."""


class Cancelled(FacegraftError):
    """The user cancelled the job; nothing was written."""
