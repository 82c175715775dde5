"""Atomic output files: write beside the destination, rename on success.

A half-written video left under the user's chosen name looks like a result
and is not; so every output goes to a temporary file in the same folder (same
file system, so the final rename is atomic) and is renamed only after it is
complete. Any exception, KeyboardInterrupt included, removes the temporary
file. An existing output is never replaced unless asked.
"""

from __future__ import annotations

import glob
import os
import secrets
import time
from pathlib import Path

from ..errors import MediaError

#: Marker in the names of temporary outputs (for clean-up and for tests).
TMP_MARK = ".facegraft-tmp"

#: Metadata that marks every output as synthetic media.
SYNTHETIC_COMMENT = "facegraft: faces replaced synthetically"
SYNTHETIC_TAGS = {"comment": SYNTHETIC_COMMENT, "synthetic": "1", "generator": "facegraft"}

#: A temporary output untouched for this long was left by a killed run (a live one is written every frame).
STALE_AFTER_S = 3600.0


def sweep_stale(dest: str | Path, *, older_than: float = STALE_AFTER_S) -> list[Path]:
    """Remove temporary outputs of ``dest`` left behind by a killed run.

    SIGKILL (or a power cut) gives no chance to clean up, so the next run for
    the same output removes the leftovers it can be sure are dead: those not
    modified for ``older_than`` seconds. Fresher ones may belong to a run still
    going and are left alone (their random names never collide with ours).

    Returns:
        The files removed.
    """
    dest = Path(dest)
    pattern = f".{glob.escape(dest.stem)}{TMP_MARK}-*{glob.escape(dest.suffix)}"
    removed = []
    now = time.time()
    for tmp in dest.parent.glob(pattern):
        try:
            if tmp.is_file() and now - tmp.stat().st_mtime > older_than:
                tmp.unlink()
                removed.append(tmp)
        except FileNotFoundError:  # another run swept it first
            continue
    return removed


class AtomicOutput:
    """A temporary path beside ``dest``; :meth:`commit` renames it, :meth:`discard` removes it.

    Args:
        dest: the final output file.
        overwrite: replace ``dest`` if it exists; otherwise refuse with a MediaError.

    Raises:
        MediaError: ``dest`` exists and overwrite is False, or its folder is missing.
    """

    def __init__(self, dest: str | Path, *, overwrite: bool = False) -> None:
        self.dest = Path(dest)
        self.overwrite = overwrite
        self._check_dest()
        if not self.dest.parent.is_dir():
            raise MediaError("output folder does not exist", self.dest)
        sweep_stale(self.dest)
        # The suffix is kept last so that FFmpeg and Pillow pick the format from the name.
        self.tmp = self.dest.with_name(f".{self.dest.stem}{TMP_MARK}-{secrets.token_hex(4)}{self.dest.suffix}")

    def _check_dest(self) -> None:
        if self.dest.exists() and not self.overwrite:
            raise MediaError("output already exists (pass overwrite=True to replace it)", self.dest)
        if self.dest.is_dir():
            raise MediaError("output is a folder, not a file name", self.dest)

    def commit(self) -> Path:
        """Move the finished temporary file into place and return the destination."""
        try:
            self._check_dest()
        except MediaError:
            self.discard()
            raise
        os.replace(self.tmp, self.dest)
        return self.dest

    def discard(self) -> None:
        """Remove the temporary file if it exists."""
        self.tmp.unlink(missing_ok=True)
