"""The web page under hostile use, over real HTTP on loopback (docs/reliability.md, docs/web.md).

A server runs in this process; ``gradio_client`` sessions upload files the way
the page does. Checked: an upload over the limit is refused while it streams
in (the server's memory does not grow by its size, nothing is stored); bombs
and other bad files get their one-line message in the page; twenty bad uploads
in a row leave the server's memory and open files where they were; and when a
visitor's session ends, Gradio's cached copies of their uploads and results
are deleted at once (a copy another open session holds stays), with nothing
about the files in the logs.
"""

from __future__ import annotations

import http.client
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import badmedia as bm
import mediagen as gen
import pytest
from conftest import shared_file
from test_web_load import _status_mb
from webserve import running_app

from facegraft.web.cache import SessionCache, gradio_cache_dir

UPLOAD_MB = 1
# A leaked decoded bomb is 2.7 GB, a leaked 12000x12000 decode 432 MB, a leaked PyAV container one or more
# descriptors per upload; what twenty refused uploads may add once warm: allocator noise, Gradio's state.
RSS_GROWTH_LIMIT_MB = 40
FD_GROWTH_LIMIT = 3
UNLOAD_WAIT_S = 40


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    """A server with a Gradio cache of its own (other servers on the machine share /tmp/gradio)."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("GRADIO_TEMP_DIR", str(tmp_path_factory.mktemp("gradio-cache")))
        with running_app(root=tmp_path_factory.mktemp("web"), example=False, max_upload_mb=UPLOAD_MB) as served:
            yield served


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    """Bad uploads -> the words the page's message must hold."""
    folder = tmp_path_factory.mktemp("bad")
    clip = gen.make_clip(folder / "pattern.mp4", width=64, height=48, frames=6, audio=None)
    square = bm.encoded_clip(folder / "square.mkv", codec="ffv1", pix_fmt="yuv420p", frames=2, width=256,
                             height=256)
    return {
        "png_bomb": (bm.png_bomb(folder / "bomb.png"), "decompression bomb"),
        "jpeg_bomb": (bm.jpeg_bomb(folder / "bomb.jpg"), "decompression bomb"),
        "webp_bomb": (bm.webp_bomb(folder / "bomb.webp"), "decompression bomb"),
        "gif_bomb": (bm.gif_bomb(folder / "bomb.gif"), "cannot decode video"),
        "png_144mp": (bm.png_bomb(folder / "big.png", width=12000, height=12000), "exceeds the limit"),
        "claims_7000x7000": (bm.matroska_claiming(square, folder / "claims.mkv", width=7000, height=7000),
                             "exceeds the limit"),
        "text_as_mp4": (bm.text_named(folder, "text.mp4"), "not a readable media file"),
        "truncated": (bm.truncated(clip, folder / "cut.mp4"), "not a readable media file"),
        "audio_only": (bm.audio_only(folder / "tone.mp4"), "has no video stream"),
        "bad_start": (bm.corrupted_packets(clip, folder / "bad_start.mkv", which=range(0, 3)), "cannot decode"),
    }


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _client(base: str, downloads: Path) -> Any:
    from gradio_client import Client

    return Client(f"{base}/", verbose=False, download_files=str(downloads))


def _cache_files() -> set[Path]:
    folder = gradio_cache_dir()
    return {p for p in folder.rglob("*") if p.is_file()} if folder.is_dir() else set()


def test_oversized_upload_is_refused_while_it_streams(server: tuple[str, Any]) -> None:
    """32 MB sent in chunks to a 1 MB server: 413, no growth of the server's memory by the body, nothing kept."""
    base, _ = server
    host, port = base.removeprefix("http://").split(":")
    boundary = "hostileboundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"huge.mp4\"\r\n"
            "Content-Type: video/mp4\r\n\r\n").encode()
    chunk, chunks = b"\0" * (1 << 20), 32
    before = _cache_files()
    Path("/proc/self/clear_refs").write_text("5") if os.access("/proc/self/clear_refs", os.W_OK) else None
    rss = _status_mb("VmRSS")
    sent = 0
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.putrequest("POST", "/gradio_api/upload")
    connection.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    connection.putheader("Transfer-Encoding", "chunked")
    connection.endheaders()
    try:
        for piece in (head, *([chunk] * chunks), f"\r\n--{boundary}--\r\n".encode()):
            connection.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            sent += len(piece)
        connection.send(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):  # the server answered and closed before the end
        pass
    response = connection.getresponse()
    body = response.read()
    connection.close()
    assert response.status == 413, body[:200]
    assert b"maximum allowed size" in body
    peak = _status_mb("VmHWM")
    assert peak - rss < 16, f"the server's memory grew {peak - rss:.0f} MB while refusing a {sent >> 20} MB body"
    end = time.monotonic() + 5
    while _cache_files() - before and time.monotonic() < end:  # the server removes the partial file after answering
        time.sleep(0.1)
    assert _cache_files() - before == set(), "the refused upload left a file"


def test_bad_uploads_get_a_message_and_leave_memory_and_files_flat(server: tuple[str, Any], tmp_path: Path,
                                                                    bad_files: dict[str, tuple[Path, str]]
                                                                    ) -> None:
    from gradio_client import handle_file

    base, _ = server
    client = _client(base, tmp_path)
    names = list(bad_files)

    def upload(name: str) -> None:
        path, words = bad_files[name]
        message = client.predict(handle_file(str(path)), [], api_name="/analyse")[-1]
        assert message.startswith("⚠") and path.name in message and words in message, (name, message)
        assert "\n" not in message

    try:
        for name in names:  # warm-up: each kind once (first imports, Gradio's first queue events)
            upload(name)
        rss, fds = _status_mb("VmRSS"), _open_fds()
        for i in range(20):
            upload(names[i % len(names)])
        grown, opened = _status_mb("VmRSS") - rss, _open_fds() - fds
    finally:
        client.close()
    assert grown < RSS_GROWTH_LIMIT_MB, f"RSS grew {grown:.1f} MB over 20 bad uploads"
    assert opened <= FD_GROWTH_LIMIT, f"{opened} more open files after 20 bad uploads"
    print(f"\n20 bad uploads: RSS {rss:.0f} MB -> {rss + grown:.0f} MB ({grown:+.1f}), open files {fds} -> "
          f"{fds + opened}")


def _wait_gone(paths: list[Path], timeout: float = UNLOAD_WAIT_S) -> list[Path]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        left = [p for p in paths if p.exists()]
        if not left:
            return []
        time.sleep(0.25)
    return [p for p in paths if p.exists()]


def test_session_end_deletes_gradios_copies_and_logs_nothing(server: tuple[str, Any], tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture,
                                                             capfd: pytest.CaptureFixture[str]) -> None:
    """Upload, analyse, preview-free render; close the tab: every cached copy goes, a shared one stays."""
    from gradio_client import handle_file

    base, app = server
    caplog.set_level(logging.DEBUG)
    photo = bm.scaled_photo(shared_file("images/lp_src_s1.jpg"), tmp_path / "visitor-secret-photo.jpg", side=300)
    target = bm.scaled_photo(shared_file("images/fr_obama.jpg"), tmp_path / "visitor-secret-target.jpg", side=260)
    before = _cache_files()
    first, second = _client(base, tmp_path / "a"), _client(base, tmp_path / "b")
    try:
        first.predict(handle_file(str(target)), [handle_file(str(photo))], api_name="/analyse")
        *_, status = first.predict([handle_file(str(photo))], api_name="/render")
        assert "1 of 1 frame swapped" in status, status
        second.predict(handle_file(str(photo)), [], api_name="/analyse")  # the same bytes: one shared copy
        held = app.jobs.cache.held(first.session_hash)
        new = _cache_files() - before
        # What the first visitor left in Gradio's cache: both uploads, the result, the face thumbnail, the frame.
        assert {p.name for p in held} >= {photo.name, target.name, "visitor-secret-target-facegraft.png"}
        assert sum(p.suffix == ".webp" for p in held) >= 2
        assert set(held) <= new
        shared = [p for p in held if p.name == photo.name]
        assert len(shared) == 1 and shared[0] in app.jobs.cache.held(second.session_hash)
    finally:
        first.close()
    closed = time.monotonic()
    left = _wait_gone([p for p in held if p not in shared])
    took = time.monotonic() - closed
    assert not left, f"still cached after the session ended: {left}"
    assert shared[0].exists(), "a copy another open session holds was deleted"
    second.close()
    assert not _wait_gone(shared), "the shared copy outlived the last session holding it"
    assert not any(p.read_bytes() in (photo.read_bytes(), target.read_bytes()) for p in _cache_files() - before)
    out, err = capfd.readouterr()
    # The server's side only: this test's own HTTP client (httpx, gradio_client) logs the URLs it fetches.
    server_side = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore", "gradio_client"))]
    logged = "\n".join(f"{r.name}: {r.getMessage()}" for r in server_side) + out + err
    assert server_side and "visitor-secret" not in logged
    with capfd.disabled():
        print(f"\n{len(held)} cached files of the closed session deleted {took:.1f} s after it closed")


def test_example_copies_are_never_deleted(tmp_path: Path) -> None:
    """The app's own example files are shown to every page: their cached copies survive any session's end."""
    from gradio.processing_utils import save_file_to_cache

    keep, cache = tmp_path / "example", tmp_path / "cache"
    keep.mkdir()
    example = keep / "example.jpg"
    example.write_bytes(b"the example's bytes")
    upload = tmp_path / "upload.jpg"
    upload.write_bytes(b"a visitor's bytes")
    ledger = SessionCache(cache, keep=keep)
    cached_example = Path(save_file_to_cache(example, str(cache)))
    cached_upload = Path(save_file_to_cache(upload, str(cache)))
    ledger.hold("tab", [cached_example, cached_upload, tmp_path / "elsewhere.jpg"])
    assert ledger.held("tab") == [cached_upload]
    assert ledger.release("tab") == [cached_upload]
    assert cached_example.exists() and not cached_upload.exists() and not cached_upload.parent.exists()


@pytest.mark.parametrize("log_uploads", [False, True])
def test_unexpected_failure_logs_a_file_name_only_when_asked(log_uploads: bool, tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    import gradio as gr

    from facegraft.web.config import WebConfig
    from facegraft.web.handlers import readable_errors

    class Page:
        config = WebConfig(log_uploads=log_uploads)

        @readable_errors
        def analyse(self) -> None:
            raise ValueError("/tmp/gradio/0123/visitor-secret-name.mp4 broke")

    caplog.set_level(logging.INFO, logger="facegraft.web.handlers")
    with pytest.raises(gr.Error, match="visitor-secret-name"):  # the visitor is told
        Page().analyse()
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert "unexpected failure in analyse" in logged and "test_hostile_web.py" in (logged + str(caplog.text))
    assert ("visitor-secret-name" in caplog.text) == log_uploads
