"""Bounded fuzzing of the reader: mutated real clips give a MediaError or frames, nothing else, never a hang."""

from __future__ import annotations

import threading
from pathlib import Path

import badmedia as bm
import pytest
from conftest import shared_file
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from facegraft.errors import MediaError
from facegraft.media import VideoReader, probe

#: Seconds one mutated file may take to probe and decode (the clean one takes ~0.05 s).
PER_FILE_S = 10.0


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An 8-frame 128x128 trim of a real clip, index at the front (so mutations hit the index too)."""
    folder = tmp_path_factory.mktemp("fuzz")
    trimmed = bm.trim(shared_file("videos/lp_drv_d0.mp4"), folder / "clip.mp4", frames=8, max_side=128)
    return bm.faststart_copy(trimmed, folder / "fs.mp4")


mutation = st.one_of(
    st.tuples(st.just("flip"), st.lists(st.tuples(st.floats(0, 1), st.integers(1, 255)), min_size=1, max_size=8)),
    st.tuples(st.just("truncate"), st.floats(0, 1)),
    st.tuples(st.just("insert"), st.tuples(st.floats(0, 1), st.binary(min_size=1, max_size=64))),
)


def mutate(data: bytes, kind: str, arg: object) -> bytes:
    out = bytearray(data)
    if kind == "flip":
        for where, mask in arg:  # type: ignore[attr-defined]
            out[min(int(where * len(out)), len(out) - 1)] ^= mask
    elif kind == "truncate":
        del out[int(arg * len(out)):]  # type: ignore[operator]
    else:
        where, blob = arg  # type: ignore[misc]
        out[int(where * len(out)):int(where * len(out))] = blob
    return bytes(out)


def read_all(path: Path) -> int:
    info = probe(path)
    with VideoReader(path) as reader:
        n = sum(1 for _ in reader)
    assert n == info.frame_count
    return n


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(change=mutation)
def test_mutated_clip_reads_or_raises_media_error(change: tuple[str, object], clip: Path,
                                                 tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("case") / "mutated.mp4"
    path.write_bytes(mutate(clip.read_bytes(), *change))
    outcome: dict[str, BaseException | int] = {}

    def work() -> None:
        try:
            outcome["frames"] = read_all(path)
        except BaseException as exc:  # judged below, in the test's thread
            outcome["error"] = exc

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(PER_FILE_S)
    assert not thread.is_alive(), f"probe/decode hung on {change}"
    error = outcome.get("error")
    if error is not None and not isinstance(error, MediaError):
        raise AssertionError(f"{change} raised {type(error).__name__}, not MediaError") from error
