"""Per-session job folders and the shared model pool.

Every visitor's files live in their own folder under one app root, named by
:func:`tempfile.mkdtemp` (random, mode 0700), and are looked up by the
session id Gradio gives each browser tab, so one visitor never sees another's
uploads or results. A job's folder is removed when it fails or is cancelled,
when the same session starts the next job, or when the session closes (the
tab is closed or reloaded); the whole root goes when the server stops. With a
:class:`~facegraft.web.cache.SessionCache`, Gradio's cached copies of the
session's uploads and results go with it.

Models hold native mediapipe graphs that must not be used by two threads at
once, so concurrent jobs each borrow one from a :class:`ModelPool`.
"""

from __future__ import annotations

import queue
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import FacegraftError
from .cache import SessionCache


@dataclass
class Session:
    """One browser tab: its folder, its running job's cancel flag, its analysed target.

    Attributes:
        id: Gradio's session hash.
        dir: the session's private folder.
        cancel: set by the Cancel button (or the tab closing) to stop the running swap.
        target: path of the target the analysis below belongs to.
        analysis: the face analysis of ``target`` (a ``VideoAnalysis``), or None.
        running: a swap of this session is under way (what the Cancel button can stop).
    """

    id: str
    dir: Path
    cancel: threading.Event = field(default_factory=threading.Event)
    target: str | None = None
    analysis: Any = None
    running: bool = False
    _jobs: list[Path] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def new_job(self) -> Path:
        """A fresh job folder; the previous jobs' folders (old results) are removed."""
        with self._lock:
            for old in self._jobs:
                shutil.rmtree(old, ignore_errors=True)
            self._jobs.clear()
            if not self.dir.is_dir():
                raise FacegraftError("this session has ended; reload the page")
            job = Path(tempfile.mkdtemp(prefix="job-", dir=self.dir))
            self._jobs.append(job)
            self.cancel.clear()
            return job

    def drop_job(self, job: Path) -> None:
        """Remove a job's folder now (the job failed or was cancelled)."""
        with self._lock:
            shutil.rmtree(job, ignore_errors=True)
            if job in self._jobs:
                self._jobs.remove(job)

    def scratch(self) -> Path:
        """A folder for short-lived files of this session (preview frames)."""
        folder = self.dir / "scratch"
        folder.mkdir(exist_ok=True)
        return folder


class JobRoot:
    """The app's root folder and the sessions living under it.

    Args:
        parent: folder in which the app root is made (the system's temporary
            folder when None). The root is always a new folder of its own, so
            :meth:`cleanup` removes only what the app wrote.
        cache_dir: Gradio's cache folder, whose copies of a session's files are
            deleted with the session (see :mod:`facegraft.web.cache`); None leaves
            them to Gradio.
    """

    def __init__(self, parent: Path | None = None, *, cache_dir: Path | None = None) -> None:
        if parent is not None:
            parent.mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix="facegraft-web-", dir=parent)).resolve()
        self.cache = SessionCache(cache_dir, keep=self.root / "example") if cache_dir is not None else None
        self.sessions_dir = self.root / "sessions"
        self.sessions_dir.mkdir(exist_ok=True)
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def session(self, session_id: str | None) -> Session:
        """The session of a browser tab, created with its own folder on first use."""
        if not session_id:
            raise FacegraftError("no browser session; reload the page")
        with self._lock:
            found = self._sessions.get(session_id)
            if found is None:
                folder = Path(tempfile.mkdtemp(prefix="s-", dir=self.sessions_dir))
                found = self._sessions[session_id] = Session(id=session_id, dir=folder)
            return found

    def close(self, session_id: str | None) -> None:
        """End a session: stop its running job and delete all of its files."""
        with self._lock:
            found = self._sessions.pop(session_id or "", None)
        if found is not None:
            found.cancel.set()
            shutil.rmtree(found.dir, ignore_errors=True)
        if self.cache is not None and session_id:
            self.cache.release(session_id)

    @property
    def open_sessions(self) -> int:
        return len(self._sessions)

    def owns(self, session_id: str, path: str | Path) -> bool:
        """Whether ``path`` lies inside that session's folder."""
        found = self._sessions.get(session_id)
        if found is None:
            return False
        return Path(path).resolve().is_relative_to(found.dir.resolve())

    def cleanup(self) -> None:
        """Stop every job and remove the whole root (server shutdown)."""
        for session_id in list(self._sessions):
            self.close(session_id)
        if self.cache is not None:
            self.cache.release_all()
        shutil.rmtree(self.root, ignore_errors=True)


class ModelPool:
    """Face models for concurrent jobs: at most ``size`` built, each used by one job at a time.

    Args:
        size: the most models ever built (the server's concurrency).
        factory: builds one models object (``facegraft.analysis.models.Models``
            by default); built lazily, so the page starts before the ~1 s load.
    """

    def __init__(self, size: int, factory: Callable[[], Any] | None = None) -> None:
        self._factory = factory or _default_models
        self._free: queue.Queue[Any] = queue.Queue()
        self._built: list[Any] = []
        self._size = size
        self._lock = threading.Lock()

    @contextmanager
    def borrow(self) -> Iterator[Any]:
        """A models object for the duration of the ``with`` block."""
        item = None
        with self._lock:
            if self._free.empty() and len(self._built) < self._size:
                item = self._factory()
                self._built.append(item)
        if item is None:
            item = self._free.get()
        try:
            yield item
        finally:
            self._free.put(item)

    def close(self) -> None:
        """Release every model's native resources."""
        for item in self._built:
            close = getattr(item, "close", None)
            if close is not None:
                close()
        self._built.clear()


def _default_models() -> Any:
    from ..analysis.models import Models

    return Models()
