"""The per-frame plan on disk: what to render in each frame, without RAM growing with the video.

Every planned face carries two (478, 3) float32 meshes, the shaped landmarks
and the base they were shaped from: 11.5 KB a face-frame, ~1.2 GB for an hour
of one face at 30 fps. A dict of them is memory that grows with the video's
length. :class:`PlanStore` appends the meshes to a temporary file as they are
planned and keeps only a small index in memory (frame, track, identity,
source, interpolated, record: 32 bytes a face-frame); the renderer reads a
frame's faces back with positioned reads (``os.pread``) -- explicit reads, not
a memory map, whose touched pages would count in the process's RSS.

The file is anonymous (``tempfile.TemporaryFile``: unlinked as soon as it is
created), in the folder given (the output's, so it is on a real disk, not a
RAM-backed ``/tmp``): it never outlives the process, even one killed with
SIGKILL, and its space is released by :meth:`PlanStore.close` or when the last
store or window reading it is garbage collected.

A store reads like the dict ``{frame_index: [PlannedFace, ...]}`` that the
renderer used to get (``get``, ``in``, ``len``, ``items``), and pickles as
exactly that dict: a worker process or a Ray task gets its frames in memory,
never a path. :meth:`PlanView.window` gives one segment's frames without
reading them, so only that part is materialised when a segment is shipped.

Example:
    >>> store = PlanStore()
    >>> store.add(np.arange(3), track_id=0, identity_id=0, source_index=0,
    ...           landmarks=np.zeros((3, 478, 3)), base=np.ones((3, 478, 3)), interpolated=np.zeros(3, bool))
    >>> len(store), 1 in store, store.get(1)[0].base.mean(), store.get(7)
    (3, True, 1.0, None)
"""

from __future__ import annotations

import os
import tempfile
import threading
import weakref
from array import array
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .types import MESH_POINTS

#: float32 values in one record: the shaped landmarks, then the base.
_VALUES = 2 * MESH_POINTS * 3
_RECORD_BYTES = 4 * _VALUES


@dataclass(frozen=True, slots=True)
class PlannedFace:
    """A face to render in one frame: final landmarks and which source to use."""

    frame_index: int
    track_id: int
    identity_id: int
    source_index: int
    landmarks: np.ndarray
    interpolated: bool
    base: np.ndarray | None = None


class _Records:
    """The open temporary file of fixed-size records, shared by a store and its windows."""

    def __init__(self, folder: str | Path | None) -> None:
        # Open for the store's lifetime, closed by close() or the finalizer below.
        self.file = tempfile.TemporaryFile(prefix=".facegraft-plan-", dir=folder)  # noqa: SIM115
        self.count = 0
        self._lock = threading.Lock()  # only for the seek-and-read fallback where os.pread is missing
        self._close = weakref.finalize(self, self.file.close)

    def append(self, block: np.ndarray) -> int:
        """Write records (k, 2, 478, 3) at the end; returns the first one's number."""
        block = np.ascontiguousarray(block, np.float32)
        first = self.count
        self.file.write(memoryview(block).cast("B"))
        self.file.flush()  # readers use the descriptor directly
        self.count += len(block)
        return first

    def read(self, record: int) -> np.ndarray:
        """One record as a writable (2, 478, 3) float32 array."""
        offset = record * _RECORD_BYTES
        if hasattr(os, "pread"):
            data = os.pread(self.file.fileno(), _RECORD_BYTES, offset)
        else:  # pragma: no cover - Windows
            with self._lock:
                self.file.seek(offset)
                data = self.file.read(_RECORD_BYTES)
                self.file.seek(0, os.SEEK_END)
        if len(data) != _RECORD_BYTES:
            raise OSError(f"plan file truncated at record {record}")
        return np.frombuffer(bytearray(data), np.float32).reshape(2, MESH_POINTS, 3)

    def close(self) -> None:
        self._close()


@dataclass(frozen=True, slots=True)
class _Index:
    """Per planned face, sorted by frame (faces of one frame in the order they were added)."""

    frames: np.ndarray  # int64
    records: np.ndarray  # int64, record number in the file
    meta: np.ndarray  # (n, 4) int32: track, identity, source, interpolated

    @staticmethod
    def empty() -> _Index:
        return _Index(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 4), np.int32))

    def span(self, index: int) -> tuple[int, int]:
        lo = int(np.searchsorted(self.frames, index, "left"))
        return lo, int(np.searchsorted(self.frames, index, "right"))


class PlanView(Mapping[int, list[PlannedFace]]):
    """Read-only planned faces by frame index, read from the store's file on demand."""

    def __init__(self, records: _Records, index: _Index) -> None:
        self._records = records
        self._fixed = index

    def _index(self) -> _Index:
        return self._fixed

    def _face(self, index: _Index, i: int) -> PlannedFace:
        track, identity, source, interpolated = (int(v) for v in index.meta[i])
        both = self._records.read(int(index.records[i]))
        return PlannedFace(int(index.frames[i]), track, identity, source, both[0], bool(interpolated), both[1])

    def get(self, index: int, default: object = None) -> list[PlannedFace] | object:  # type: ignore[override]
        """The faces planned for frame ``index`` (in planning order), or ``default``."""
        idx = self._index()
        lo, hi = idx.span(index)
        return [self._face(idx, i) for i in range(lo, hi)] if hi > lo else default

    def __getitem__(self, index: int) -> list[PlannedFace]:
        faces = self.get(index)
        if faces is None:
            raise KeyError(index)
        return faces  # type: ignore[return-value]

    def __contains__(self, index: object) -> bool:
        if not isinstance(index, int | np.integer):
            return False
        lo, hi = self._index().span(int(index))
        return hi > lo

    def __iter__(self) -> Iterator[int]:
        """Frame indices with at least one planned face, ascending."""
        frames = self._index().frames
        if len(frames):
            yield from (int(f) for f in frames[np.r_[True, frames[1:] != frames[:-1]]])

    def __len__(self) -> int:
        frames = self._index().frames
        return int(np.count_nonzero(frames[1:] != frames[:-1])) + 1 if len(frames) else 0

    def faces(self) -> int:
        """Planned faces in all frames (a frame with two faces counts twice)."""
        return len(self._index().frames)

    def window(self, start: int, end: int) -> PlanView:
        """The frames ``[start, end)``, sharing this file (nothing is read until asked)."""
        idx = self._index()
        lo = int(np.searchsorted(idx.frames, start, "left"))
        hi = int(np.searchsorted(idx.frames, end, "left"))
        return PlanView(self._records, _Index(idx.frames[lo:hi], idx.records[lo:hi], idx.meta[lo:hi]))

    def to_dict(self) -> dict[int, list[PlannedFace]]:
        """All of it in memory (for a worker: keep it to a segment with :meth:`window` first)."""
        return dict(self.items())

    def __reduce__(self) -> tuple[object, tuple[dict[int, list[PlannedFace]]]]:
        # Pickles as its content: a worker elsewhere cannot open this process's temporary file.
        return dict, (self.to_dict(),)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} frames, {self.faces()} faces)"


class PlanStore(PlanView):
    """Planned faces appended track by track into a temporary file; reads like ``{frame: [PlannedFace]}``.

    Args:
        folder: where the (anonymous) temporary file lives; None: the system's temporary folder.
    """

    def __init__(self, folder: str | Path | None = None) -> None:
        super().__init__(_Records(folder), _Index.empty())
        self._new: dict[str, array] = {name: array("q") for name in ("frame", "record", "track", "identity",
                                                                        "source", "interpolated")}
        self._merge = threading.Lock()  # the renderer may read first from its preparing thread

    def add(self, frames: np.ndarray, *, track_id: int, identity_id: int, source_index: int,
            landmarks: np.ndarray, base: np.ndarray, interpolated: np.ndarray) -> None:
        """Append planned faces of one track: ``frames`` (k,), ``landmarks`` and ``base`` (k, 478, 3)."""
        frames = np.asarray(frames, np.int64)
        if not len(frames):
            return
        first = self._records.append(np.stack([landmarks, base], axis=1))
        k = len(frames)
        new = self._new
        new["frame"].extend(frames.tolist())
        new["record"].extend(range(first, first + k))
        new["track"].extend([int(track_id)] * k)
        new["identity"].extend([int(identity_id)] * k)
        new["source"].extend([int(source_index)] * k)
        new["interpolated"].extend(np.asarray(interpolated, np.int64).tolist())

    def _index(self) -> _Index:
        """The sorted index, with anything added since merged in (stable: a frame keeps its faces' order)."""
        with self._merge:
            return self._merged()

    def _merged(self) -> _Index:
        new = self._new
        if len(new["frame"]):
            old = self._fixed
            frames = np.concatenate([old.frames, np.array(new["frame"], np.int64)])
            order = np.argsort(frames, kind="stable")
            meta = np.stack([np.array(new[k], np.int32) for k in ("track", "identity", "source", "interpolated")],
                            axis=1)
            self._fixed = _Index(frames[order], np.concatenate([old.records, np.array(new["record"], np.int64)])[order],
                                 np.concatenate([old.meta, meta])[order])
            self._new = {name: array("q") for name in new}
        return self._fixed

    def close(self) -> None:
        """Delete the file now (windows of it can no longer be read)."""
        self._records.close()

    def __enter__(self) -> PlanStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
