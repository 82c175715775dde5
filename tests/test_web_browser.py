"""The web page driven end to end in headless Chromium (Debian's package, through Playwright).

Upload a photo and a 2-second clip, get told off for a too-long clip, pick the
face in the gallery, preview a frame, render, download, and check the
downloaded video: same frame count as the upload, and a face that dlib finds
closer to the source photo than to the person originally in the clip. A
second test presses Swap on the preloaded example clip and sees the result
play, swaps the still example one click away, and cancels a render of the
example clip. Screenshots of each step go to docs/screenshots/.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import REPO, shared_file
from webserve import running_app

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = REPO / "docs" / "screenshots"
CLIP_FRAMES = 50  # 2 s of the 25 fps clip
RENDER_TIMEOUT_MS = 240_000


@pytest.fixture(scope="module")
def chromium() -> str:
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("chromium is not installed (make browser-deps)")
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    with running_app(root=tmp_path_factory.mktemp("web"), max_duration=2.5, max_upload_mb=50) as (base, app):
        yield f"{base}/", app


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 2 seconds of a real talking-head clip (CI-sized)."""
    from facegraft.media import VideoReader, VideoWriter

    original = shared_file("videos/lp_drv_d0.mp4")
    out = tmp_path_factory.mktemp("clip") / "talking.mp4"
    with VideoReader(original, end=CLIP_FRAMES) as reader, VideoWriter(out, like=reader.info, crf=16) as writer:
        for frame in reader:
            writer.write(frame.image, pts=frame.pts, time_base=frame.time_base)
    return out


@pytest.fixture
def page(chromium: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 1300}, accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(60_000)
        try:
            yield page
        finally:
            browser.close()


def _shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _replace_file(page: Any, component: str, path: Path) -> None:
    """Clear a gr.File and upload ``path`` into it."""
    clear = page.locator(f"#{component} button[aria-label='Clear']")
    if clear.count():
        clear.first.click()
    page.locator(f"#{component} input[type=file]").set_input_files(str(path))


def _embedding(models: Any, image: np.ndarray) -> np.ndarray:
    faces = models.detector.detect(image)
    assert faces, "no face found where one was expected"
    face = max(faces, key=lambda f: f.area)
    return models.embedder.embed(image, face)


def _frames(path: Path, indices: list[int]) -> dict[int, np.ndarray]:
    from facegraft.media import VideoReader

    with VideoReader(path) as reader:
        return {f.index: f.image for f in reader if f.index in indices}


def test_upload_pick_preview_render_download(page: Any, server: tuple[str, Any], clip: Path, models: Any,
                                             tmp_path: Path) -> None:
    from playwright.sync_api import expect

    from facegraft.media import probe, read_image

    url, app = server
    photo = shared_file("images/lp_src_s1.jpg")
    too_long = shared_file("videos/lp_drv_d0.mp4")  # 3.1 s, over the 2.5 s limit of this server

    page.goto(url)
    expect(page.locator("#chosen")).to_contain_text("Person 0")  # the example is analysed on load
    expect(page.locator("#faces img")).to_have_count(1)
    _shot(page, "01-example")

    _replace_file(page, "target", too_long)
    expect(page.locator("#found")).to_contain_text(
        "lp_drv_d0.mp4: the video lasts 3.1 s, longer than this server accepts (2.5 s); trim it first")
    expect(page.locator(".toast-body")).to_contain_text("trim it first")
    _shot(page, "02-limit-message")
    expect(page.locator("#faces img")).to_have_count(0)
    page.locator(".toast-close").first.click()

    _replace_file(page, "sources", photo)
    expect(page.locator("#sources")).to_contain_text("lp_src_s1")
    _replace_file(page, "target", clip)
    expect(page.locator("#found")).to_contain_text("Found 1 person in talking.mp4", timeout=90_000)
    expect(page.locator("#found")).to_contain_text(f"{CLIP_FRAMES} frames")

    page.get_by_role("button", name="Nobody").click()
    expect(page.locator("#chosen")).to_contain_text("Nobody is selected")
    page.locator("#faces button.thumbnail-item").first.click()
    expect(page.locator("#chosen")).to_contain_text("Person 0")
    expect(page.locator("#faces")).to_contain_text("✓ Person 0")
    _shot(page, "03-gallery-picked")

    started = time.perf_counter()
    page.locator("#preview").click()
    expect(page.locator("#after img")).to_be_visible(timeout=60_000)
    print(f"preview through the page: {time.perf_counter() - started:.1f} s")
    assert page.locator("#after img").get_attribute("src") != page.locator("#before img").get_attribute("src")
    _shot(page, "04-preview")

    started = time.perf_counter()
    page.locator("#swap").click()
    page.wait_for_timeout(3000)
    _shot(page, "05-rendering")
    expect(page.locator("#download")).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    render_s = time.perf_counter() - started
    expect(page.locator("#status")).to_contain_text(f"of {CLIP_FRAMES} frames swapped")
    expect(page.locator("#result-video video")).to_be_visible()
    _shot(page, "06-result")

    with page.expect_download() as download_info:
        page.locator("#download").click()
    result = tmp_path / download_info.value.suggested_filename
    download_info.value.save_as(result)
    print(f"render through the page: {render_s:.1f} s for {CLIP_FRAMES} frames")

    assert result.suffix == ".mp4"
    assert probe(result).frame_count == probe(clip).frame_count == CLIP_FRAMES
    source = _embedding(models, read_image(photo))
    picks = [5, 25, 45]
    swapped, original = _frames(result, picks), _frames(clip, picks)
    for i in picks:
        out = _embedding(models, swapped[i])
        to_source = float(np.linalg.norm(out - source))
        to_original = float(np.linalg.norm(out - _embedding(models, original[i])))
        assert to_source < to_original, f"frame {i}: {to_source:.3f} to the source, {to_original:.3f} to the original"

    # Closing the tab ends the session: its folder (result included) is deleted.
    sessions = list(app.jobs.sessions_dir.iterdir())
    assert sessions
    page.close()
    deadline = time.time() + 30
    while any(s.exists() for s in sessions) and time.time() < deadline:
        time.sleep(0.5)
    assert not any(s.exists() for s in sessions), "a closed tab's files must be removed"


def test_example_in_one_click_then_cancel_a_render(page: Any, server: tuple[str, Any], monkeypatch: Any) -> None:
    from playwright.sync_api import expect

    from facegraft.render.renderer import FaceRenderer

    url, app = server
    page.goto(url)
    expect(page.locator("#found")).to_contain_text("Found 1 person in astronaut_zoom.mp4", timeout=90_000)
    expect(page.locator("#chosen")).to_contain_text("Person 0")
    page.locator("#swap").click()  # the preloaded example clip: one button gives a video that plays
    expect(page.locator("#download")).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    expect(page.locator("#status")).to_contain_text(f"of {CLIP_FRAMES} frames swapped")
    video = page.locator("#result-video video")
    expect(video).to_be_visible()
    video.evaluate("v => { v.muted = true; return v.play(); }")
    page.wait_for_function("() => document.querySelector('#result-video video').currentTime > 0.2",
                           timeout=30_000)
    duration = video.evaluate("v => v.duration")
    assert abs(duration - CLIP_FRAMES / 25) < 0.1, f"the result plays {duration} s, not the example's 2 s"
    video.evaluate("v => { v.pause(); v.currentTime = 1.0; }")
    page.wait_for_timeout(500)
    _shot(page, "07-example-result")

    page.get_by_role("button", name="Example: photo").click()  # the still example, one click away
    expect(page.locator("#found")).to_contain_text("Found 1 person in astronaut.png", timeout=90_000)
    page.locator("#swap").click()
    expect(page.locator("#result-image img")).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    expect(page.locator("#status")).to_contain_text("1 of 1 frame swapped")
    _shot(page, "08-example-photo")

    # The 50-frame example renders in ~2 s, shorter than a click's round trip under load: slow each
    # face down (the server runs in this process) so the cancel surely lands mid-render.
    # (`prepare` is the per-face step every render goes through, stills and videos alike.)
    prepare = FaceRenderer.prepare

    def slow_prepare(self: Any, *args: Any, **kwargs: Any) -> Any:
        time.sleep(0.15)
        return prepare(self, *args, **kwargs)

    monkeypatch.setattr(FaceRenderer, "prepare", slow_prepare)
    page.get_by_role("button", name="Example: video").click()
    expect(page.locator("#found")).to_contain_text("Found 1 person in astronaut_zoom.mp4", timeout=90_000)
    page.locator("#swap").click()
    # Cancel as soon as frames are being rendered.
    expect(page.get_by_text(re.compile(r"render: \d+/50")).first).to_be_visible(timeout=90_000)
    page.locator("#cancel").click()
    expect(page.locator("#status")).to_contain_text("Cancelled", timeout=60_000)
    expect(page.locator("#download")).to_be_hidden()
    leftovers = [p for p in app.jobs.sessions_dir.rglob("*") if p.is_file() and "scratch" not in p.parts]
    assert not leftovers, f"a cancelled job leaves no files: {leftovers}"
