"""Face analysis on real media: detection, tracking, cuts, identities, selection, sources."""

from __future__ import annotations

import dataclasses
import itertools
import json

import numpy as np
import pytest
from conftest import shared_file

from facegraft.analysis.analyse import analyse_faces
from facegraft.analysis.embedder import embedding_distance
from facegraft.analysis.selection import select_identities
from facegraft.analysis.source import prepare_source
from facegraft.analysis.tracker import FaceTracker
from facegraft.errors import NoFaceError, OptionsError
from facegraft.options import SwapOptions


@pytest.fixture(scope="session")
def hamilton(models):
    return analyse_faces(shared_file("videos/fr_short_hamilton_clip.mp4"), models=models)


@pytest.fixture(scope="session")
def crowd(models):
    return analyse_faces(shared_file("videos/facenet_video_crowd_1080p.mp4"), models=models, end=24)


@pytest.fixture(scope="session")
def sources(models):
    return {name: prepare_source(shared_file(f"images/fr_{name}.jpg"), models)
            for name in ("obama", "obama_partial_face", "biden")}


def test_hamilton_scene_cuts(hamilton):
    # Three cuts, seen in the clip: stage -> audience, audience -> stage, stage -> audience.
    assert len(hamilton.scene_cuts) == 3
    for found, expected in zip(hamilton.scene_cuts, (20, 82, 211), strict=True):
        assert abs(found - expected) <= 1


def test_hamilton_audience_faces(hamilton):
    for lo, hi in ((51, 65), (211, 275)):
        counts = [len(hamilton.frames[i]) for i in range(lo, hi)]
        assert np.median(counts) >= 2, (lo, counts)
        assert max(counts) <= 4, (lo, counts)


def test_hamilton_tracks_and_identities(hamilton):
    # The performer fills shot 82-210: one track carries him through (no id churn).
    ids = [max(fs, key=lambda f: f.area).track_id for fs in hamilton.frames[90:200] if fs]
    assert len(ids) >= 100
    assert ids.count(max(set(ids), key=ids.count)) >= 0.95 * len(ids)
    people = hamilton.identities
    assert 3 <= len(people) <= 8
    assert [p.id for p in people] == list(range(len(people)))
    assert all(a.frames >= b.frames for a, b in itertools.pairwise(people))
    # Same person across the cut at 82 (wide shot 0-19, close shot 82-210): one identity.
    early = max(hamilton.frames[10], key=lambda f: f.area).identity_id
    late = max(hamilton.frames[150], key=lambda f: f.area).identity_id
    assert early == late == 0
    assert len(people[0].track_ids) >= 2
    assert people[0].thumbnail.shape == (128, 128, 3)
    for faces in hamilton.frames:
        for f in faces:
            assert f.landmarks.shape == (478, 3) and f.landmarks.dtype == np.float32
            assert f.track_id is not None and f.identity_id is not None


def test_crowd_small_faces(crowd):
    counts = [len(f) for f in crowd.frames]
    assert np.median(counts) >= 3, counts
    widths = [f.width for fs in crowd.frames for f in fs]
    assert min(widths) < 100  # faces far from the camera, ~5 % of the frame width
    assert len(crowd.identities) >= 3


def test_same_and_different_person(sources):
    obama, partial, biden = sources["obama"], sources["obama_partial_face"], sources["biden"]
    assert embedding_distance(obama.embedding, partial.embedding) < 0.5
    assert embedding_distance(obama.embedding, biden.embedding) > 0.7
    assert embedding_distance(partial.embedding, biden.embedding) > 0.7


def test_reference_picks_the_right_face(models, sources):
    analysis = analyse_faces(shared_file("images/fr_two_people.jpg"), models=models)
    assert len(analysis.identities) == 2
    chosen = {}
    for name in ("obama", "biden"):
        options = SwapOptions(select="reference", references=(f"{name}.jpg",))
        sel = select_identities(analysis, options, [sources["obama"].embedding],
                                reference_embeddings=[sources[name].embedding])
        assert len(sel.mapping) == 1 and not sel.warnings
        chosen[name] = next(iter(sel.mapping))
    assert chosen["obama"] != chosen["biden"]
    # Each choice is the face nearest to that person's photo, and near enough to be them.
    for name, ident in chosen.items():
        emb = analysis.identity(ident).embedding
        assert embedding_distance(emb, sources[name].embedding) < 0.6
    # One reference per source: each source goes to its own person.
    both = select_identities(analysis, SwapOptions(select="reference", references=("a", "b")),
                             [sources["obama"].embedding, sources["biden"].embedding],
                             reference_embeddings=[sources["obama"].embedding, sources["biden"].embedding])
    assert both.mapping == {chosen["obama"]: 0, chosen["biden"]: 1}


def test_selection_rules(hamilton):
    src = [np.zeros(128, np.float32)]
    auto = select_identities(hamilton, SwapOptions(), src)
    assert auto.mapping == {0: 0} and "most present" in auto.warnings[0]
    every = select_identities(hamilton, SwapOptions(select="all"), src)
    assert sorted(every.mapping) == [p.id for p in hamilton.identities]
    assert select_identities(hamilton, SwapOptions(select="identity", identities=(1,)), src).mapping == {1: 0}
    assert select_identities(hamilton, SwapOptions(select="map", identities=(2, 0)), src * 2).mapping == {2: 0, 0: 1}
    with pytest.raises(OptionsError, match="not found"):
        select_identities(hamilton, SwapOptions(select="identity", identities=(99,)), src)
    with pytest.raises(OptionsError, match="one to one"):
        select_identities(hamilton, SwapOptions(select="map", identities=(0, 1)), src)


def test_source_without_face(models, tmp_path):
    from PIL import Image

    path = tmp_path / "wall.png"
    y, x = np.mgrid[0:240, 0:320]
    Image.fromarray(np.dstack([x % 256, y % 256, (x + y) % 256]).astype(np.uint8)).save(path)
    with pytest.raises(NoFaceError) as info:
        prepare_source([path], models)
    assert str(path) in info.value.line()


def test_source_with_two_faces_takes_largest(models):
    notes: list[str] = []
    src = prepare_source(shared_file("images/fr_two_people.jpg"), models, notes=notes)
    assert "2 faces" in notes[0]
    other = prepare_source(shared_file("images/fr_two_people.jpg"), models, face_index=1)
    assert src.faces[0].area >= other.faces[0].area
    assert embedding_distance(src.embedding, other.embedding) > 0.6


def test_tracking_mode_matches_full_detection(models):
    from facegraft.media import VideoReader

    stream = models.detector.stream(every=10)
    with VideoReader(shared_file("videos/lp_drv_d3.mp4"), end=20) as reader:
        for frame in reader:
            tracked = stream.detect(frame.image, frame_index=frame.index)
            full = models.detector.detect(frame.image)
            assert len(tracked) == len(full) == 1
            err = np.abs(tracked[0].landmarks[:, :2] - full[0].landmarks[:, :2]).mean()
            assert err < 0.03 * full[0].width, (frame.index, err)


def test_tracker_bridges_gaps_and_cuts(models):
    from facegraft.analysis._io import load_image

    face = models.detector.detect(load_image(shared_file("images/fr_obama.jpg")))[0]
    tracker = FaceTracker(max_gap=3)
    first = tracker.update([face], 0)[0].track_id
    assert tracker.update([face], 4)[0].track_id == first  # 3 frames missed: bridged
    assert tracker.update([face], 9)[0].track_id != first  # 4 missed: a new track
    latest = tracker.tracks[-1].id
    tracker.cut()
    assert tracker.update([face], 10)[0].track_id != latest


def test_cli_faces(tmp_path, capsys):
    from facegraft.cli import main

    out, sheet = tmp_path / "faces.json", tmp_path / "sheet.png"
    rc = main(["faces", str(shared_file("images/fr_two_people.jpg")), "--json", str(out), "--sheet", str(sheet)])
    assert rc == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(out.read_text())
    assert [p["id"] for p in printed["identities"]] == [0, 1]
    assert printed["identities"][0]["thumbnail"].startswith("data:image/png;base64,")
    assert sheet.stat().st_size > 1000


def test_two_thread_analysis_reads_as_one_pass(models, hamilton):
    """The halves scanned in two threads are stitched back: same cuts, tracks, identities, landmarks.

    The full-clip fixture is split (275 frames, seam at 137, inside a shot)
    and compared with a one-thread pass of the same clip.
    """
    one = analyse_faces(shared_file("videos/fr_short_hamilton_clip.mp4"), models=models, split=False)
    assert hamilton.scene_cuts == one.scene_cuts
    assert [(p.frames, p.first_frame) for p in hamilton.identities] == [(p.frames, p.first_frame)
                                                                      for p in one.identities]
    seam = len(one.frames) // 2
    assert seam not in one.scene_cuts and one.frames[seam - 1] and one.frames[seam], "a track must cross the seam"
    # A track crossing the seam keeps one id on both sides.
    for a, b in zip(hamilton.frames[seam - 1], one.frames[seam - 1], strict=True):
        after = [f.track_id for f in hamilton.frames[seam] if abs(f.centre[0] - a.centre[0]) < 0.2 * a.width]
        assert after == [a.track_id]
        assert b.track_id is not None
    diffs = [np.abs(a.landmarks[:, :2] - b.landmarks[:, :2]).mean()
             for fa, fb in zip(hamilton.frames, one.frames, strict=True) for a, b in zip(fa, fb, strict=True)]
    # Only the frames right after the seam differ (a fresh detection instead of a tracked region).
    assert np.median(diffs) < 0.05 and max(diffs) < 3.0


def test_min_cost_pairs_matches_scipy():
    """Our Hungarian method (no scipy.optimize import at run time) finds scipy's optimum, rectangular too."""
    from scipy.optimize import linear_sum_assignment

    from facegraft.analysis.tracker import min_cost_pairs

    rng = np.random.default_rng(7)
    for trial in range(500):
        n, m = rng.integers(1, 9, size=2)
        cost = rng.random((n, m))
        if trial % 3 == 0:
            cost[rng.random((n, m)) < 0.3] = 1e6  # the tracker's "impossible" links
        rows, cols = min_cost_pairs(cost)
        ref_rows, ref_cols = linear_sum_assignment(cost)
        assert len(rows) == min(n, m) and len(set(rows)) == len(rows) and len(set(cols)) == len(cols)
        assert cost[rows, cols].sum() == pytest.approx(cost[ref_rows, ref_cols].sum(), abs=1e-9)


def _count_embeddings(models, monkeypatch) -> list[int]:
    calls: list[int] = []
    real = models.embedder.embed
    monkeypatch.setattr(models.embedder, "embed", lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


def test_identities_are_the_same_when_only_the_clustering_embeds(models, monkeypatch):
    """``embed=False`` (every swap rule but reference) embeds only the tracks clustering compares.

    Up to frame 100 of the Hamilton clip the performer's wide-shot and close-shot tracks merge
    across the cuts, which takes their embeddings: the identities and their labels are those of
    ``embed=True`` (the ``faces`` command and the web gallery), which embeds every identity.
    """
    path = shared_file("videos/fr_short_hamilton_clip.mp4")
    calls = _count_embeddings(models, monkeypatch)
    full = analyse_faces(path, models=models, end=100)
    full_calls = len(calls)
    lazy = analyse_faces(path, models=models, end=100, embed=False)
    assert full.embedded and all(p.embedding is not None for p in full.identities)
    assert any(len(p.track_ids) > 1 for p in full.identities)  # a merge that needed embeddings
    assert [(p.id, p.frames, p.first_frame, p.track_ids) for p in lazy.identities] == \
        [(p.id, p.frames, p.first_frame, p.track_ids) for p in full.identities]
    assert lazy.track_identity == full.track_identity
    for a, b in zip(lazy.identities, full.identities, strict=True):
        if a.embedding is not None:
            assert embedding_distance(a.embedding, b.embedding) < 0.01
    assert 0 < len(calls) - full_calls <= full_calls


def test_faces_that_share_every_frame_are_not_embedded(models, monkeypatch):
    """Two people in one photo can never merge: without ``embed`` no dlib call is made, with it both get one."""
    path = shared_file("images/fr_two_people.jpg")
    calls = _count_embeddings(models, monkeypatch)
    lazy = analyse_faces(path, models=models, embed=False)
    assert not calls and len(lazy.identities) == 2
    assert all(p.embedding is None for p in lazy.identities) and not lazy.embedded
    assert lazy.covers(path, 12) and not lazy.covers(path, 12, embeddings=True)
    full = analyse_faces(path, models=models)
    assert len(calls) == 2 and full.embedded and full.covers(path, 12, embeddings=True)
    assert [p.track_ids for p in lazy.identities] == [p.track_ids for p in full.identities]


def test_unmerged_analysis_makes_no_dlib_call_and_keeps_the_tracks(models, monkeypatch):
    """``merge=False`` (select=all) embeds nothing; the tracks and their faces are those of a merged analysis.

    Up to frame 100 of the Hamilton clip the performer's tracks merge across cuts when merged: unmerged,
    each of them is its own identity, and every face keeps its track.
    """
    path = shared_file("videos/fr_short_hamilton_clip.mp4")
    merged = analyse_faces(path, models=models, end=100, embed=False)
    calls = _count_embeddings(models, monkeypatch)
    tracks = analyse_faces(path, models=models, end=100, merge=False)
    assert not calls and not tracks.merged and not tracks.embedded
    assert sorted(t for p in tracks.identities for t in p.track_ids) == \
        sorted(t for p in merged.identities for t in p.track_ids)
    assert all(len(p.track_ids) == 1 for p in tracks.identities)
    assert len(tracks.identities) > len(merged.identities)
    assert [[(f.track_id, f.bbox) for f in faces] for faces in tracks.frames] == \
        [[(f.track_id, f.bbox) for f in faces] for faces in merged.frames]
    # As a whole-clip analysis, it serves select=all (no merge needed) but no rule that reads people.
    whole = dataclasses.replace(tracks, frames=tracks.frames + [[]] * (tracks.info.frame_count - 100))
    assert whole.covers(path, 12, merged=False) and not whole.covers(path, 12)


def test_landmark_array_reads_the_serialised_list_exactly():
    """The byte-level reading of mediapipe's landmark list equals the point-by-point one, and falls back."""
    from mediapipe.framework.formats import landmark_pb2

    from facegraft.analysis.detector import landmark_array

    rng = np.random.default_rng(3)
    points = rng.normal(size=(478, 3)).astype(np.float32)
    msg = landmark_pb2.NormalizedLandmarkList()
    for x, y, z in points:
        mark = msg.landmark.add()
        mark.x, mark.y, mark.z = float(x), float(y), float(z)
    assert np.array_equal(landmark_array(msg), points)
    msg.landmark[7].visibility = 0.5  # another field: the wire layout differs, the attributes are read
    assert np.array_equal(landmark_array(msg), points)
    assert landmark_array(landmark_pb2.NormalizedLandmarkList()).shape == (0, 3)
