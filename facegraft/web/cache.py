"""Gradio's cached copies of a visitor's files, deleted when the visitor's session ends.

Gradio keeps every upload, and a copy of every file or image a handler
returns, in its own cache folder (``GRADIO_TEMP_DIR``, by default
``/tmp/gradio``), named ``<content hash>/<file name>``; its own sweep
(``delete_cache``) removes them only by age. Those copies are the visitor's
photos, their video, the faces found in it and the results, so they go with
the session: every handler records which cached files its session received
(uploads) or was given (results, frames, face thumbnails, which the handlers
put into the cache themselves so that they know the path), and
:meth:`SessionCache.release` deletes them when the tab closes.

The cache is addressed by content: two visitors who upload the same bytes
share one copy. A copy is therefore deleted only when the last open session
holding it ends, and never when it is one of the app's own example files,
which every new page shows.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable
from pathlib import Path

import numpy as np


def gradio_cache_dir() -> Path:
    """The folder Gradio caches uploads and outputs in (``GRADIO_TEMP_DIR`` or ``<tmp>/gradio``)."""
    from gradio.utils import get_upload_folder

    return Path(get_upload_folder()).resolve()


class SessionCache:
    """Which of Gradio's cached files each session holds.

    Args:
        folder: Gradio's cache folder.
        keep: folder of the app's own files (the examples): their cached copies are shared by every
            page and are never deleted here.
    """

    def __init__(self, folder: Path, keep: Path | None = None) -> None:
        self.folder = Path(folder).resolve()
        self.keep = keep
        self._held: dict[Path, set[str]] = {}
        self._kept: set[str] | None = None
        self._lock = threading.Lock()

    def _kept_hashes(self) -> set[str]:
        """Cache folder names (content hashes) of the app's own files, computed once."""
        if self._kept is None:
            from gradio.processing_utils import hash_file

            files = [p for p in self.keep.rglob("*") if p.is_file()] if self.keep and self.keep.is_dir() else []
            self._kept = {hash_file(p) for p in files}
        return self._kept

    def hold(self, session_id: str, paths: Iterable[str | Path]) -> None:
        """Record that a session holds these files (those outside Gradio's cache are ignored)."""
        for raw in paths:
            path = Path(raw).resolve()
            if not path.is_relative_to(self.folder) or path.parent.name in self._kept_hashes():
                continue
            with self._lock:
                self._held.setdefault(path, set()).add(session_id)

    def publish_file(self, session_id: str, path: str | Path) -> str:
        """Copy a result into Gradio's cache (as Gradio would) and record it; returns the cached path."""
        from gradio.processing_utils import save_file_to_cache

        cached = save_file_to_cache(path, cache_dir=str(self.folder))
        self.hold(session_id, [cached])
        return cached

    def publish_image(self, session_id: str, image: np.ndarray) -> str:
        """Encode an RGB frame into Gradio's cache (WebP, as gr.Image would) and record it."""
        from gradio.processing_utils import save_img_array_to_cache

        cached = save_img_array_to_cache(image, cache_dir=str(self.folder), format="webp")
        self.hold(session_id, [cached])
        return cached

    def held(self, session_id: str) -> list[Path]:
        """The cached files a session holds."""
        with self._lock:
            return sorted(p for p, owners in self._held.items() if session_id in owners)

    def release(self, session_id: str) -> list[Path]:
        """The session ended: delete the cached files no other open session holds; returns them."""
        gone: list[Path] = []
        with self._lock:
            for path, owners in list(self._held.items()):
                owners.discard(session_id)
                if not owners:
                    del self._held[path]
                    gone.append(path)
        for path in gone:
            path.unlink(missing_ok=True)
            with contextlib.suppress(OSError):  # the hash folder, once empty
                path.parent.rmdir()
        return gone

    def release_all(self) -> None:
        """Server shutdown: delete every held file."""
        with self._lock:
            owners = {o for s in self._held.values() for o in s}
        for session_id in owners:
            self.release(session_id)
