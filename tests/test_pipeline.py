"""swap_video / swap_image / `facegraft swap` end to end on real media."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_file
from mediagen import trim_clip

from facegraft import SwapOptions
from facegraft.errors import Cancelled, FacegraftError, MediaError, NoFaceError

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def talking_head(tmp_path_factory) -> Path:
    return trim_clip(shared_file("videos/retalk_face_1.mp4"), tmp_path_factory.mktemp("clip") / "clip.mp4", 45)


@pytest.fixture(scope="module")
def embed_calls() -> list[int]:
    """The dlib embeddings computed while ``swapped`` ran."""
    return []


@pytest.fixture(scope="module")
def swapped(talking_head, models, tmp_path_factory, embed_calls):
    from facegraft import swap_video

    out = tmp_path_factory.mktemp("out") / "swapped.mp4"
    seen = []
    embedder = models.embedder
    real = embedder.embed
    embedder.embed = lambda *a, **k: embed_calls.append(1) or real(*a, **k)
    try:
        report = swap_video([shared_file("images/lp_src_s1.jpg")], talking_head, out, models=models,
                            progress=seen.append)
    finally:
        del embedder.embed
    return out, report, seen


def _video_pts(path: Path) -> list[int]:
    import av

    with av.open(str(path)) as c:
        return sorted(p.pts for p in c.demux(video=0) if p.pts is not None)


def test_every_frame_and_timestamp_is_kept(talking_head, swapped):
    out, report, _ = swapped
    assert report.frames == 45
    assert _video_pts(out) == _video_pts(talking_head)


def test_audio_is_kept(talking_head, swapped):
    from facegraft.media import probe

    out, _, _ = swapped
    src, dst = probe(talking_head), probe(out)
    assert src.has_audio and dst.has_audio
    assert dst.tags.get("comment", "").startswith("facegraft")


def test_face_is_replaced_in_every_frame_with_progress(swapped):
    _, report, seen = swapped
    assert report.frames_swapped == report.frames
    stages = {p.stage for p in seen}
    assert {"analyse", "render"} <= stages
    assert seen[-1].done == seen[-1].total == 45
    assert report.timings["total"] > 0


def test_one_person_auto_swap_computes_no_embedding(swapped, embed_calls):
    """select=auto with one person reads no embedding: neither the clip's nor the source photo's is computed."""
    _, report, _ = swapped
    assert report.frames_swapped == report.frames == 45
    assert embed_calls == []


def test_select_reference_replaces_only_the_matching_person(models):
    """select=reference still embeds the people (and the reference photo) and picks the one who matches."""
    from facegraft import swap_image
    from facegraft.analysis.analyse import analyse_faces
    from facegraft.analysis.embedder import embedding_distance
    from facegraft.analysis.source import prepare_source
    from facegraft.media import read_image

    photo, obama = shared_file("images/fr_two_people.jpg"), shared_file("images/fr_obama.jpg")
    options = SwapOptions(select="reference", references=(str(obama),))
    out = swap_image([shared_file("images/lp_src_s1.jpg")], photo, options=options, models=models)
    analysis = analyse_faces(photo, models=models)
    ref = prepare_source(obama, models).embedding
    faces = sorted(analysis.frames[0], key=lambda f: embedding_distance(analysis.identity(f.identity_id).embedding,
                                                                       ref))
    image = read_image(photo)
    changed = np.abs(out.astype(int) - image).sum(axis=2) > 0
    for face, expect_changed in zip(faces, (True, False), strict=True):
        x0, y0, x1, y1 = (round(v) for v in face.bbox)
        cx, cy, qx, qy = (x0 + x1) // 2, (y0 + y1) // 2, (x1 - x0) // 4, (y1 - y0) // 4
        inner = changed[cy - qy:cy + qy, cx - qx:cx + qx]
        assert (inner.mean() > 0.5) == expect_changed, (face.bbox, inner.mean())


def test_output_face_is_the_source_person(talking_head, swapped, models):
    from facegraft.media import VideoReader, read_image

    out, _, _ = swapped
    src_img = read_image(shared_file("images/lp_src_s1.jpg"))
    src_emb = models.embedder.embed(src_img, models.detector.detect(src_img)[0])
    closer = 0
    checked = 0
    with VideoReader(out) as swapped_frames, VideoReader(talking_head) as original_frames:
        for a, b in zip(swapped_frames, original_frames, strict=True):
            if a.index % 9:
                continue
            fa, fb = models.detector.detect(a.image), models.detector.detect(b.image)
            assert fa and fb
            ea, eb = models.embedder.embed(a.image, fa[0]), models.embedder.embed(b.image, fb[0])
            closer += np.linalg.norm(ea - src_emb) < np.linalg.norm(ea - eb)
            checked += 1
    assert checked == 5 and closer == checked


def test_existing_output_is_not_overwritten(talking_head, models, tmp_path):
    from facegraft import swap_video

    out = tmp_path / "exists.mp4"
    out.write_bytes(b"keep me")
    with pytest.raises(MediaError, match="exists"):
        swap_video([shared_file("images/lp_src_s1.jpg")], talking_head, out, models=models)
    assert out.read_bytes() == b"keep me"


def test_cancel_leaves_nothing_behind(talking_head, models, tmp_path):
    from facegraft import swap_video

    cancel = threading.Event()
    out = tmp_path / "cancelled.mp4"

    def progress(p):
        if p.stage == "render" and p.done >= 5:
            cancel.set()

    with pytest.raises(Cancelled):
        swap_video([shared_file("images/lp_src_s1.jpg")], talking_head, out, models=models, progress=progress,
                   cancel=cancel)
    assert list(tmp_path.iterdir()) == []


def test_swap_image_on_a_photo(models, tmp_path):
    from facegraft import swap_image
    from facegraft.media import read_image

    target = shared_file("images/fr_biden.jpg")
    out = tmp_path / "out.png"
    result = swap_image([shared_file("images/fr_obama.jpg")], target, out, models=models)
    original = read_image(target)
    assert result.shape == original.shape and out.exists()
    assert np.abs(result.astype(int) - original).mean() > 0.2


def test_source_without_a_face_is_a_clear_error(models, tmp_path):
    from facegraft import swap_image
    from facegraft.media import write_image

    blank = tmp_path / "blank.png"
    write_image(blank, np.full((200, 200, 3), 128, np.uint8))
    with pytest.raises(NoFaceError, match=r"blank\.png"):
        swap_image([blank], shared_file("images/fr_biden.jpg"), models=models)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "facegraft", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=300)


def test_cli_swaps_an_image_and_reports(tmp_path):
    out = tmp_path / "cli.jpg"
    done = _cli("swap", "-s", str(shared_file("images/fr_obama.jpg")), "-t",
                str(shared_file("images/fr_biden.jpg")), "-o", str(out), "-q")
    assert done.returncode == 0, done.stderr
    assert out.exists() and "wrote" in done.stdout


def test_cli_bad_input_is_one_line_and_nonzero(tmp_path):
    bogus = tmp_path / "notavideo.mp4"
    bogus.write_text("hello")
    done = _cli("swap", "-s", str(shared_file("images/fr_obama.jpg")), "-t", str(bogus), "-o",
                str(tmp_path / "o.mp4"))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "notavideo.mp4" in lines[0]
    assert not (tmp_path / "o.mp4").exists()


def test_options_are_validated():
    with pytest.raises(FacegraftError, match="crf"):
        SwapOptions(crf=99)
    with pytest.raises(FacegraftError, match="identity"):
        SwapOptions(select="identity")


@pytest.mark.parametrize("command", ["swap", "faces", "eval", "bench", "web"])
def test_every_command_prints_its_help(command, capsys):
    """``--help`` of every command renders (option help texts are %-formatted by argparse)."""
    from facegraft.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: facegraft " + command in capsys.readouterr().out


def test_a_given_analysis_is_reused_and_gives_the_same_video(talking_head, swapped, models, tmp_path,
                                                             monkeypatch):
    """The web page passes its gallery's analysis: no second analysis pass, the same frames out."""
    import facegraft.analysis.analyse as analyse_module
    from facegraft import swap_video
    from facegraft.media import VideoReader

    analysis = analyse_module.analyse_faces(talking_head, models=models)
    assert analysis.covers(talking_head, 12) and not analysis.covers(talking_head, 3)
    monkeypatch.setattr(analyse_module, "analyse_faces", lambda *a, **k: pytest.fail("analysed again"))
    out = tmp_path / "reused.mp4"
    swap_video([shared_file("images/lp_src_s1.jpg")], talking_head, out, models=models, analysis=analysis)
    with VideoReader(out) as a, VideoReader(swapped[0]) as b:
        diffs = [np.abs(x.image.astype(int) - y.image).mean() for x, y in zip(a, b, strict=True)]
    assert max(diffs) < 0.01
