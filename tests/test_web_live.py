"""The Live page driven in headless Chromium with a fake camera that plays a real clip.

Chromium's fake capture device plays a Y4M made here from 4 s of a talking
head (lp_drv_d3, put on a 640x480 canvas). The test picks Obama's photo,
starts the camera and checks the frames that come back: the face in them is
nearer the photo than the woman in the clip (dlib), none is a fall-back, and
the fps on screen agrees with the frames the page received. Then Stop (the
stream and its threads end on the server), Record again (a new stream), and a
second visitor in another browser context gets a stream of their own with
their own photo, which ends when their tab closes.
"""

from __future__ import annotations

import base64
import io
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
import test_web_browser as harness  # the same Chromium, launch flags and screenshot helper
from conftest import shared_file
from webserve import running_app

chromium = harness.chromium
CAMERA_SIZE = (640, 480)
CAMERA_FPS = 30
#: Collects what the page shows: one entry per new swapped frame, a few with their JPEG.
OBSERVE = """() => {
  window.__live = [];
  const out = document.querySelector('#live-output');
  new MutationObserver(() => {
    const img = out.querySelector('#live-frame');
    if (!img || img.dataset.frame === window.__lastFrame) return;
    window.__lastFrame = img.dataset.frame;
    const n = window.__live.length;
    window.__live.push({t: performance.now(), frame: +img.dataset.frame, swapped: img.dataset.swapped,
                        fallback: img.dataset.fallback, src: n % 8 === 4 ? img.src : null});
  }).observe(out, {subtree: true, childList: true, attributes: true});
}"""
SNAPSHOT = """() => ({frames: window.__live.map(f => ({...f})),
                    status: document.querySelector('#live-status').innerText})"""


def write_y4m(video: Path, out: Path, *, seconds: float, size: tuple[int, int], fps: int) -> list[np.ndarray]:
    """A Y4M (Chromium's fake-camera format) of the clip's first ``seconds``, letterboxed into ``size``.

    Returns a few of its frames (RGB) to measure the original person on.
    """
    width, height = size
    kept: list[np.ndarray] = []
    with av.open(str(video)) as container, out.open("wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for i, frame in enumerate(container.decode(video=0)):
            if i >= seconds * fps:
                break
            scaled = frame.reformat(width=frame.width * height // frame.height // 2 * 2, height=height,
                                    format="rgb24").to_ndarray()
            canvas = np.full((height, width, 3), 40, np.uint8)
            x0 = (width - scaled.shape[1]) // 2
            canvas[:, x0:x0 + scaled.shape[1]] = scaled
            if i % 30 == 15:
                kept.append(canvas)
            yuv = av.VideoFrame.from_ndarray(canvas, format="rgb24").reformat(format="yuv420p")
            f.write(b"FRAME\n" + yuv.to_ndarray().tobytes())
    return kept


@pytest.fixture(scope="module")
def camera_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[np.ndarray]]:
    out = tmp_path_factory.mktemp("camera") / "clip.y4m"
    kept = write_y4m(shared_file("videos/lp_drv_d3.mp4"), out, seconds=4, size=CAMERA_SIZE, fps=CAMERA_FPS)
    return out, kept


@pytest.fixture
def browser(chromium: str, camera_clip: tuple[Path, list[np.ndarray]]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    args = [*harness.CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={camera_clip[0]}"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=args)
        try:
            yield browser
        finally:
            browser.close()


def _open_live(browser: Any, url: str, photo: Path | None) -> Any:
    """A new visitor (own browser context) on the Live page, camera allowed, ``photo`` chosen."""
    from playwright.sync_api import expect

    page = browser.new_context(viewport={"width": 1280, "height": 760}).new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{url}live")
    if photo is not None:
        harness._replace_file(page, "live-sources", photo)
        expect(page.locator("#live-sources")).to_contain_text(photo.stem[:5])
    page.get_by_text("Click to Access Webcam").click()
    page.locator("#live-camera button", has_text="Record").wait_for()
    page.evaluate(OBSERVE)
    return page


def _record(page: Any, seconds: float) -> dict[str, Any]:
    """Press Record, wait for the first swapped frame, let it stream ``seconds``; what the page got."""
    page.evaluate("() => { window.__live = []; window.__lastFrame = undefined; }")
    page.locator("#live-camera button", has_text="Record").click()
    page.locator("#live-frame").wait_for(timeout=90_000)
    page.wait_for_timeout(int(seconds * 1000))
    return page.evaluate(SNAPSHOT)


def _stop(page: Any) -> None:
    """Press Stop and wait for the camera to show Record again.

    Gradio 6's webcam can send a frame captured just before Stop as the start of a new stream;
    the server ends that stream at once (facegraft/web/live.py, ``STRAY_S``), but the button may
    stay on "Stop" with the camera idle. Pressing it then starts a stream, pressing again stops it:
    this does that (a few times at most). The checks after this still require every stream and
    thread on the server to be gone.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    record = page.locator("#live-camera button", has_text="Record")
    stop = page.locator("#live-camera button", has_text="Stop")
    for attempt in range(3):
        stop.click()
        try:
            record.wait_for(timeout=5_000)
            return
        except PlaywrightTimeout:
            print(f"the webcam's button stayed on Stop (attempt {attempt + 1}); pressing it twice more")
            stop.click()  # starts a stream again ...
            page.wait_for_timeout(2_000)  # ... long enough not to look like a stray frame
    record.wait_for(timeout=5_000)


def _fps_last(frames: list[dict[str, Any]], window_s: float) -> float:
    """Frames a second the page received over the last ``window_s`` (as the status counts them)."""
    times = [f["t"] for f in frames]
    recent = [t for t in times if t >= times[-1] - 1000 * window_s]
    return (len(recent) - 1) / ((recent[-1] - recent[0]) / 1000)


def _distances(models: Any, src: str, source: np.ndarray, original: np.ndarray) -> tuple[float, float]:
    """dlib distances of the face in a frame that came back (a JPEG data URL) to two identities."""
    from PIL import Image

    from facegraft.evaluate.identity import distance, largest_face

    image = np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).convert("RGB"))
    face = largest_face(models.detector.detect(image))
    assert face is not None, "no face in a frame that came back"
    out = models.embedder.embed(image, face)
    return distance(out, source), distance(out, original)


def _live_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("facegraft-live")]


def _wait(condition: Any, timeout: float = 30.0) -> bool:
    deadline = time.time() + timeout
    while not condition() and time.time() < deadline:
        time.sleep(0.2)
    return bool(condition())


def test_room_photo_without_face_one_line_no_rebuild_per_frame(tmp_path: Path) -> None:
    """A photo with no face: one line, not retried every frame; a new photo streams; a closed tab starts nothing."""
    from types import SimpleNamespace

    from PIL import Image

    from facegraft.live import LiveSwapper
    from facegraft.web.live import LiveRoom

    blank = tmp_path / "wall.png"
    Image.fromarray(np.full((200, 200, 3), 180, np.uint8)).save(blank)
    photo = shared_file("images/fr_obama.jpg")
    frame = np.asarray(Image.open(shared_file("images/lp_drv_d9.jpg")).convert("RGB").resize((480, 480)))
    builds: list[tuple[str, ...]] = []

    def factory(paths: Any) -> LiveSwapper:
        builds.append(tuple(paths))
        return LiveSwapper(list(paths))

    room = LiveRoom(factory=factory)
    visitor = SimpleNamespace(session_hash="visitor-1")
    try:
        for _ in range(3):
            shown, status = room.frame(frame, [str(blank)], visitor)  # type: ignore[arg-type]
            assert "wall.png" in status and "face" in status, status
        assert builds == [(str(blank),)], "a failed photo is tried once, not for every frame"
        assert room.active() == 0
        shown, status = room.frame(frame, [str(photo)], visitor)  # type: ignore[arg-type]
        assert 'data-swapped="1"' in shown and "fps" in status
        assert room.active() == 1
        _, line = room.stop(visitor)  # type: ignore[arg-type]
        assert line.startswith("Stopped.") and room.active() == 0
        room.unload(visitor)  # type: ignore[arg-type]
        room.frame(frame, [str(photo)], visitor)  # type: ignore[arg-type]
        assert room.active() == 0 and len(builds) == 2, "a frame still on its way from a closed tab starts nothing"
    finally:
        room.close()


def test_room_deletes_the_visitors_cached_photos_when_the_tab_closes(tmp_path: Path) -> None:
    """The photos chosen on the Live page live in Gradio's cache; closing the tab deletes them there."""
    from types import SimpleNamespace

    from PIL import Image

    from facegraft.web.cache import SessionCache
    from facegraft.web.live import LiveRoom

    cache = tmp_path / "gradio"
    mine, other = cache / "hash-a" / "me.png", cache / "hash-b" / "you.png"
    for path in (mine, other):
        path.parent.mkdir(parents=True)
        Image.fromarray(np.full((120, 120, 3), 180, np.uint8)).save(path)
    room = LiveRoom(cache=SessionCache(cache))
    frame = np.zeros((240, 320, 3), np.uint8)
    visitor, second = SimpleNamespace(session_hash="visitor-1"), SimpleNamespace(session_hash="visitor-2")
    try:
        room.frame(frame, [str(mine)], visitor)  # type: ignore[arg-type]
        room.frame(frame, [str(other)], second)  # type: ignore[arg-type]
        room.unload(visitor)  # type: ignore[arg-type]
        assert not mine.exists() and not mine.parent.exists(), "the closed tab's photo is still cached"
        assert other.exists(), "another visitor's photo was deleted"
    finally:
        room.close()


@pytest.mark.browser
def test_live_camera_swapped_stop_reconnect_second_visitor(
        browser: Any, camera_clip: tuple[Path, list[np.ndarray]], models: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    from facegraft.evaluate.identity import source_embeddings

    obama = shared_file("images/fr_obama.jpg")
    other_photo = shared_file("images/lp_src_s1.jpg")
    source = source_embeddings([obama], models)[0]
    other = source_embeddings([other_photo], models)[0]
    originals = [models.embedder.embed(f, max(models.detector.detect(f), key=lambda x: x.area))
                 for f in camera_clip[1]]
    original = np.mean(originals, axis=0)

    with running_app(root=tmp_path / "web", concurrency=2, example=False) as (base, app):
        url = f"{base}/"
        page = _open_live(browser, url, obama)
        expect(page.locator("#live-https")).to_contain_text("HTTPS")
        seen = _record(page, 5.0)
        harness._shot(page, "09-live")
        frames, status = seen["frames"], seen["status"]
        window = app.live.settings.window
        print(f"visitor 1: {len(frames)} frames; status: {status.splitlines()[-1]}")

        # The stream runs on the server, its own swapper behind a drop-frames runner.
        assert app.live.active() == 1
        assert len(frames) >= 10, f"only {len(frames)} frames came back in 5 s"
        # Swapped, every frame, no fall-back.
        assert all(f["swapped"] == "1" and f["fallback"] == "0" for f in frames), \
            [f["frame"] for f in frames if f["swapped"] != "1"]
        assert "0 fall-back" in status
        for f in [f for f in frames if f["src"]][:4]:
            to_source, to_original = _distances(models, f["src"], source, original)
            assert to_source < to_original, \
                f"frame {f['frame']}: {to_source:.3f} to the photo, {to_original:.3f} to the woman in the clip"
        # The fps on screen is the rate at which frames reach the page.
        shown = float(re.search(r"([\d.]+) fps", status).group(1))  # type: ignore[union-attr]
        counted = _fps_last(frames, window)
        assert abs(shown - counted) <= 0.2 * counted + 0.3, f"on screen {shown} fps, the page got {counted:.1f}"
        assert counted >= 2.0, f"{counted:.1f} fps"

        # Stop ends the stream on the server: no stream, no live thread.
        _stop(page)
        expect(page.locator("#live-status")).to_contain_text("Stopped", timeout=30_000)
        expect(page.locator("#live-frame")).to_have_count(0)  # no stale frame left as if live
        assert _wait(lambda: app.live.active() == 0 and not _live_threads()), _live_threads()

        # Record again: a new stream (frame numbers start over).
        again = _record(page, 1.0)["frames"]
        assert again and again[0]["frame"] < 10 and all(f["swapped"] == "1" for f in again)

        # A second visitor, other photo: their own stream while the first one goes on.
        second = _open_live(browser, url, other_photo)
        theirs = _record(second, 2.5)
        assert _wait(lambda: app.live.active() == 2, 10)
        harness._shot(second, "10-live-second-visitor")
        mine_after = page.evaluate(SNAPSHOT)["frames"]
        assert len(mine_after) > len(again), "the first visitor's stream stalled when the second started"
        sampled = [f for f in theirs["frames"] if f["src"]][:2]
        assert sampled, "the second visitor got too few frames"
        for f in sampled:
            to_theirs, to_first = _distances(models, f["src"], other, source)
            assert to_theirs < to_first, f"second visitor's frame {f['frame']}: {to_theirs:.3f} to their photo, " \
                                         f"{to_first:.3f} to the first visitor's"

        # Closing a tab ends its stream; the other goes on until stopped.
        second.context.close()
        assert _wait(lambda: app.live.active() == 1), "a closed tab's stream must end"
        _stop(page)
        assert _wait(lambda: app.live.active() == 0 and not _live_threads()), _live_threads()
