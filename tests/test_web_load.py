"""Several visitors at once: four sessions swap through the web page's HTTP queue on loopback.

Four ``gradio_client.Client`` instances (four browser sessions, each with its
own session hash and heartbeat) upload a different source photo and the same
1-second clip, run the page's analyse and render events (the same API calls
the page's JavaScript makes) on a server allowed two jobs at a time, and
download their results. Checked: every job finishes, two wait in the queue
rather than fail, each result is the swap of its own photo (compared with
``swap_video`` run in this process on the same inputs), a session cannot read
another's result by path, the server's memory stays bounded, the session
folders are gone once the sessions close, and Gradio's cached copies of the
uploads and results once the server stops. Numbers: docs/reliability.md.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import shared_file
from mediagen import trim_clip
from webserve import running_app

pytestmark = pytest.mark.slow

SOURCES = ["images/lp_src_s1.jpg", "images/fr_biden.jpg", "images/fr_obama.jpg", "images/lp_drv_d8.jpg"]
CONCURRENCY = 2  # jobs the server runs at once; the other two sessions queue
CLIP_FRAMES = 25  # 1 s of the 25 fps, 512x512 talking head
JOB_TIMEOUT_S = 300
# The server runs inside pytest, so RSS counts the test process too: ~0.25 GB with the test's own models
# when this file runs alone, ~1.25 GB late in the full suite (what earlier tests left), so only the growth
# during the run is bounded. What the server adds: a face model set per concurrent job (~75 MB each once
# the libraries are loaded), Gradio/uvicorn and four clients (~0.1 GB), and two running 512x512 jobs
# (~85 MB each: `facegraft swap` of a 10 s clip peaks ~85 MB above its loaded models, docs/reliability.md).
# Measured alone: +0.48-0.52 GB (peak 0.72-0.76 GB); in the suite +0.08 GB (freed memory is reused). The
# limit leaves ~45 % headroom; sessions beyond CONCURRENCY add nothing because they wait in the queue (checked
# directly: models in use at once <= CONCURRENCY).
RSS_GROWTH_LIMIT_MB = 750


def _status_mb(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {key} in /proc/self/status")


@dataclass
class Memory:
    """Resident memory (MB) of this process over a block: samples, and the peak."""

    samples: list[float] = field(default_factory=list)
    peak: float = 0.0


@contextmanager
def measured_rss(every: float = 0.05) -> Iterator[Memory]:
    """Sample this process's RSS from a thread while the block runs, and take its exact peak.

    The kernel's high-water mark (VmHWM) is reset first (``clear_refs`` 5), so the peak includes spikes
    between samples; where the reset is not allowed, the samples' maximum stands in.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
        exact = True
    except OSError:
        exact = False
    memory = Memory(samples=[_status_mb("VmRSS")])
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(every):
            memory.samples.append(_status_mb("VmRSS"))

    thread = threading.Thread(target=sample, name="rss-sampler", daemon=True)
    thread.start()
    try:
        yield memory
    finally:
        stop.set()
        thread.join()
        memory.samples.append(_status_mb("VmRSS"))
        memory.peak = max(_status_mb("VmHWM") if exact else 0.0, *memory.samples)


@dataclass
class Visit:
    """What one client session did and got."""

    source: Path
    client: Any = None
    found: str = ""
    status: str = ""
    result: Path | None = None
    submitted: float = 0.0
    started: float | None = None
    finished: float = 0.0
    ranks: list[int] = field(default_factory=list)
    error: BaseException | None = None

    @property
    def waited(self) -> float:
        return (self.started or self.finished) - self.submitted


def _visit(visit: Visit, base: str, clip: Path, downloads: Path, go: threading.Barrier) -> None:
    """One visitor: drop the photo and the clip (analyse runs), press Swap, wait, keep the result."""
    from gradio_client import Client, handle_file
    from gradio_client.utils import Status

    try:
        visit.client = Client(f"{base}/", verbose=False, download_files=str(downloads))
        go.wait(timeout=120)  # all sessions open first, so that their jobs really arrive together
        photos = [handle_file(str(visit.source))]
        analysed = visit.client.predict(handle_file(str(clip)), photos, api_name="/analyse")
        visit.found = analysed[-1]
        visit.submitted = time.perf_counter()
        job = visit.client.submit(photos, api_name="/render")
        while not job.done():
            status = job.status()
            if status.code == Status.IN_QUEUE and status.rank is not None:
                visit.ranks.append(status.rank)
            if visit.started is None and status.code in (Status.PROCESSING, Status.PROGRESS):
                visit.started = time.perf_counter()
            time.sleep(0.05)
        video, _image, download, visit.status = job.result(timeout=JOB_TIMEOUT_S)
        visit.finished = time.perf_counter()
        visit.result = _file_of(video)
        assert _file_of(download).read_bytes() == visit.result.read_bytes()
    except BaseException as exc:  # re-raised by the test in its own thread
        visit.error = exc
        go.abort()  # the other visitors stop waiting for this one


def _file_of(output: Any) -> Path:
    """The downloaded file of a component's output (handlers return ``gr.Video(value=...)`` updates)."""
    if isinstance(output, dict):
        output = output.get("value", output.get("video"))
        if isinstance(output, dict):
            output = output["video"]
    return Path(output)


@dataclass
class Borrows:
    """When each job held one of the server's face models (wraps ``ModelPool.borrow``)."""

    spans: list[tuple[float, float]] = field(default_factory=list)

    def wrap(self, borrow: Any) -> Any:
        @contextmanager
        def counted() -> Iterator[Any]:
            start = time.perf_counter()
            with borrow() as models:
                yield models
            self.spans.append((start, time.perf_counter()))

        return counted

    @property
    def most_at_once(self) -> int:
        events = sorted([(s, 1) for s, _ in self.spans] + [(e, -1) for _, e in self.spans])
        running = most = 0
        for _, step in events:
            running += step
            most = max(most, running)
        return most


def _frames(path: Path) -> np.ndarray:
    from facegraft.media import VideoReader

    with VideoReader(path) as reader:
        return np.stack([f.image for f in reader]).astype(np.int16)


def _face_boxes(swapped: np.ndarray, original: np.ndarray, *, pad: int = 16) -> np.ndarray:
    """Per frame, the box around every pixel the swap changed visibly, padded for the feathered edge."""
    changed = np.abs(swapped - original).max(axis=-1) > 24
    boxes = np.zeros_like(changed)
    for box, frame in zip(boxes, changed, strict=True):
        ys, xs = np.nonzero(frame)
        if len(ys):
            box[max(0, ys.min() - pad):ys.max() + pad + 1, max(0, xs.min() - pad):xs.max() + pad + 1] = True
    return boxes


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trim_clip(shared_file("videos/lp_drv_d0.mp4"), tmp_path_factory.mktemp("clip") / "talking.mp4",
                     CLIP_FRAMES)


def test_four_sessions_at_once_get_their_own_correct_results(clip: Path, models: Any, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from facegraft import swap_video
    from facegraft.media import probe
    from facegraft.options import SwapOptions

    visits = [Visit(source=shared_file(s)) for s in SOURCES]
    go = threading.Barrier(len(visits))
    borrows = Borrows()
    baseline = _status_mb("VmRSS")
    with running_app(root=tmp_path / "web", example=False, concurrency=CONCURRENCY, max_duration=5) as (base, app):
        monkeypatch.setattr(app.models, "borrow", borrows.wrap(app.models.borrow))
        started = time.perf_counter()
        threads = [threading.Thread(target=_visit, args=(v, base, clip, tmp_path / f"client{i}", go))
                   for i, v in enumerate(visits)]
        try:
            with measured_rss() as rss:
                for t in threads:
                    t.start()
                for t in threads:
                    t.join(JOB_TIMEOUT_S)
            wall = time.perf_counter() - started
            assert not any(t.is_alive() for t in threads), f"a session is still waiting after {JOB_TIMEOUT_S} s"
            errors = [v.error for v in visits if v.error is not None]
            if errors:
                raise errors[0]
            # A result is served only as Gradio's cached copy (named by a keyed hash of its bytes); its
            # path in the session's job folder is refused to everyone, so knowing it gets nobody the file.
            for v in visits:
                held = sorted(app.jobs.session(v.client.session_hash).dir.rglob("*.mp4"))
                assert len(held) == 1 and held[0].read_bytes() == v.result.read_bytes(), held
                assert _get(f"{base}/gradio_api/file={held[0]}") == 403
        finally:
            for v in visits:
                if v.client is not None:
                    v.client.close()  # the tab closes: its heartbeat ends and unload deletes its files
        deadline = time.time() + 30
        while app.jobs.open_sessions and time.time() < deadline:
            time.sleep(0.2)
        assert app.jobs.open_sessions == 0 and not any(app.jobs.sessions_dir.iterdir()), \
            "closed sessions leave no files"
        # Gradio's own copies (uploads, and the results it served) outlive the sessions: they are
        # Gradio's cache, cleared by age (delete_cache) and when the server stops.
        cached = {Path(f) for files in app.demo.temp_file_sets for f in files}
        assert len([f for f in cached if f.name == "talking-facegraft.mp4"]) == len(visits)
    left = [f for f in cached if f.exists()]
    assert not left, f"stopping the server deletes Gradio's copies of uploads and results: {left}"
    peak = rss.peak
    waits = sorted(v.waited for v in visits)
    print(f"\n{len(visits)} sessions, concurrency {CONCURRENCY}: {wall:.1f} s wall; render waits in queue "
          f"{', '.join(f'{w:.1f}' for w in waits)} s; models in use at once: {borrows.most_at_once}; "
          f"RSS {baseline:.0f} MB before, peak {peak:.0f} MB (+{peak - baseline:.0f}; sampled max "
          f"{max(rss.samples):.0f} MB), {rss.samples[-1]:.0f} MB when the jobs had finished")
    for v in visits:
        print(f"  {v.source.name}: {v.status.splitlines()[0]}; queue ranks seen {sorted(set(v.ranks))}")

    assert borrows.most_at_once <= CONCURRENCY
    assert sum(1 for v in visits if v.ranks) >= 1, "with more sessions than slots, some jobs wait in the queue"
    assert peak - baseline < RSS_GROWTH_LIMIT_MB, f"the server grew by {peak - baseline:.0f} MB"

    frames_in = _frames(clip)
    outputs = []
    for i, v in enumerate(visits):
        assert v.found.startswith("Found 1 person in talking.mp4"), v.found
        assert f"{CLIP_FRAMES} of {CLIP_FRAMES} frames swapped" in v.status, v.status
        assert probe(v.result).frame_count == CLIP_FRAMES
        got = _frames(v.result)
        reference = tmp_path / f"reference{i}.mp4"
        swap_video([v.source], clip, reference, SwapOptions(select="identity", identities=(0,)), models=models)
        expected = _frames(reference)
        face = _face_boxes(expected, frames_in)
        assert face.mean() > 0.02, "the reference swap changed the face"
        own = float(np.abs(got - expected).mean())
        inside = float(np.abs(got - frames_in)[face].mean())
        outside = float(np.abs(got - frames_in)[~face].mean())
        print(f"  {v.source.name}: |web - swap_video| {own:.2f}; |web - input| in the face {inside:.1f}, "
              f"outside {outside:.2f}")
        assert own < 1.0, f"{v.source.name}: the web result differs from swap_video by {own:.2f} on average"
        assert inside > 5 * outside and outside < 1.5, (inside, outside)
        outputs.append(got)
    # Each session got its own photo's swap (equal to its own swap_video run above), not a neighbour's.
    apart = {(i, j): float(np.abs(a - b).mean()) for i, a in enumerate(outputs) for j, b in enumerate(outputs) if i < j}
    print(f"  results of different photos differ by {min(apart.values()):.2f}-{max(apart.values()):.2f} on average")
    for (i, j), difference in apart.items():
        assert difference > 1.0, f"{SOURCES[i]} and {SOURCES[j]} gave the same result"
