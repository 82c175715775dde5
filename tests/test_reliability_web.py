"""The web server against hostile requests, over HTTP on loopback (docs/reliability.md)."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import badmedia as bm
import pytest
from conftest import shared_file
from webserve import running_app


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    with running_app(root=tmp_path_factory.mktemp("web"), example=False, max_upload_mb=0.1) as served:
        yield served


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.mark.parametrize("path", ["/etc/passwd", "../../../../etc/passwd", "/proc/self/environ"])
def test_files_outside_the_app_are_refused(server: tuple[str, Any], path: str) -> None:
    base, _ = server
    status, body = _get(f"{base}/gradio_api/file={path}")
    assert status in (403, 404), body[:200]
    assert b"root:" not in body


def test_another_sessions_result_is_refused(server: tuple[str, Any]) -> None:
    base, app = server
    job = app.jobs.session("someone-else").new_job()
    secret = job / "result.mp4"
    secret.write_bytes(b"another visitor's video")
    status, body = _get(f"{base}/gradio_api/file={secret}")
    assert status in (403, 404) and b"visitor" not in body


def test_oversized_upload_is_refused_before_it_is_stored(server: tuple[str, Any]) -> None:
    base, _ = server
    boundary = "facegraftboundary"
    payload = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.mp4\"\r\n"
               f"Content-Type: video/mp4\r\n\r\n").encode() + b"\0" * 200_000 + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(f"{base}/gradio_api/upload", data=payload, method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    assert status == 413, body[:200]
    assert b"maximum allowed size" in body


@pytest.mark.parametrize("name", ["photo.jpg", "clip.mp4", "clip.webm"])
def test_text_named_as_media_is_refused_by_content(server: tuple[str, Any], tmp_path: Path, name: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The handler probes the upload's bytes: a renamed text file gets a readable line, no analysis runs."""
    import gradio as gr

    _, app = server
    from facegraft.web.handlers import Handlers

    handlers = Handlers(app.config, app.jobs, app.models, [])
    warnings: list[str] = []
    monkeypatch.setattr(gr, "Warning", lambda message, **_: warnings.append(message))
    fake = bm.text_named(tmp_path, name)
    outputs = handlers.analyse(str(fake), None, SimpleNamespace(session_hash="text-upload"),
                               progress=lambda *a, **k: None)
    assert len(warnings) == 1 and name in warnings[0] and "\n" not in warnings[0]
    assert "not a readable" in warnings[0]
    assert outputs[-1].startswith("⚠") and app.jobs.session("text-upload").analysis is None


def test_real_upload_is_analysed_and_job_files_go_with_the_session(server: tuple[str, Any], tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A good upload is analysed; closing the session (tab closed) deletes its files."""
    _, app = server
    from facegraft.web.handlers import Handlers

    handlers = Handlers(app.config, app.jobs, app.models, [])
    photo = bm.scaled_photo(shared_file("images/lp_src_s1.jpg"), tmp_path / "me.jpg")
    request = SimpleNamespace(session_hash="real-upload")
    handlers.analyse(str(photo), None, request, progress=lambda *a, **k: None)
    session = app.jobs.session("real-upload")
    assert session.analysis is not None and len(session.analysis.identities) == 1
    job = session.new_job()
    (job / "result.png").write_bytes(b"x")
    handlers.unload(request)
    assert not session.dir.exists()
