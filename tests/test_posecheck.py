"""The closed-loop head-pose check on real clips: a smiling photo's mouth no longer reads as a nod."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import shared_file
from mediagen import trim_clip

from facegraft import SwapOptions, swap_video
from facegraft.posecheck import LIMIT_DEG, PoseCheck, check_people
from facegraft.render.renderer import FaceRenderer
from facegraft.render.shape import damp_vertical
from facegraft.render.source import prepare_textures
from facegraft.render.topology import LIPS_PART, mesh_topology
from facegraft.temporal import TrackSettings
from facegraft.types import SourceFace


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("posecheck")
    return {name: trim_clip(shared_file(f"videos/{name}.mp4"), folder / f"{name}.mp4", 60)
            for name in ("lp_drv_d3", "lp_drv_d10")}


def _check(models, clip, photo):
    from facegraft.analysis.analyse import analyse_faces
    from facegraft.media import read_image

    image = read_image(shared_file(f"images/{photo}"))
    face = models.detector.detect(image)[0]
    renderer = FaceRenderer(SwapOptions())
    source = prepare_textures(SourceFace((image,), (face,), models.embedder.embed(image, face), photo),
                            renderer.topology)
    analysis = analyse_faces(clip, models=models)
    check = PoseCheck(models, renderer, TrackSettings())
    return check_people(check, analysis, {0: 0}, [source])[0]


def test_damp_vertical_moves_only_the_lips_and_only_vertically():
    topo = mesh_topology()
    rng = np.random.default_rng(1)
    neutral = rng.normal(size=(478, 3)).astype(np.float32)
    neutral[10] = (0, -5, 0)  # forehead above...
    neutral[152] = (0, 5, 0)  # ...chin: the face's vertical is the y axis here
    offset = rng.normal(size=(478, 3)).astype(np.float32)
    lips = topo.parts[LIPS_PART][2]
    held = damp_vertical(offset, neutral, lips, 0.0)
    full = lips >= 1.0
    assert full.sum() > 20
    np.testing.assert_allclose(held[full, 1], 0.0, atol=1e-6)
    np.testing.assert_allclose(held[:, [0, 2]], offset[:, [0, 2]], atol=1e-6)
    np.testing.assert_allclose(held[lips == 0], offset[lips == 0])
    assert damp_vertical(offset, neutral, lips, 1.0) is offset


def test_a_smiling_photo_onto_a_serious_face_holds_the_mouth_back(models, clips):
    """Obama's broad smile lifts the mouth inside a woman's jaw: the mesh reads a nod, the check cuts it."""
    result = _check(models, clips["lp_drv_d3"], "fr_obama.jpg")
    assert result.pitch_full is not None and abs(result.pitch_full) > LIMIT_DEG
    assert result.pitch_held is not None and abs(result.pitch_held) < abs(result.pitch_full) - 1.0
    assert result.mouth_rise < 0.5
    assert len(result.frames) == 3


def test_a_pair_whose_pose_reads_right_keeps_the_whole_shape(models, clips):
    result = _check(models, clips["lp_drv_d10"], "fr_biden.jpg")
    assert result.pitch_full is not None and abs(result.pitch_full) <= LIMIT_DEG
    assert result.mouth_rise == 1.0 and result.pitch_held is None


def test_the_swap_keeps_the_head_pose(models, clips, tmp_path):
    """End to end: with the check the output's head pitch follows the target's within 2 degrees."""
    from facegraft.evaluate import evaluate_swap, make_passthrough

    clip = clips["lp_drv_d3"]
    photo = shared_file("images/fr_obama.jpg")
    passthrough = make_passthrough(clip, tmp_path / "pass.mp4", SwapOptions())
    pitch = {}
    for on in (True, False):
        opts = SwapOptions(pose_check=on)
        out = tmp_path / f"out_{on}.mp4"
        report = swap_video([photo], clip, out, opts, models=models)
        assert ("pose_check" in report.timings) == on
        assert (report.mouth_rise.get(0, 1.0) < 0.5) == on
        ev = evaluate_swap([photo], clip, out, options=opts, models=models, sample_every=30,
                           passthrough=passthrough, keep_frames=False)
        pitch[on] = ev["pose"]["pitch"]["median"]
    assert pitch[True] < 2.0 < pitch[False], pitch


def test_a_still_image_gets_the_same_check(models):
    """swap_image (and so the web page's preview) runs the check on the photo itself."""
    from facegraft import swap_image
    from facegraft.evaluate.metrics import pose_difference
    from facegraft.media import VideoReader

    with VideoReader(shared_file("videos/lp_drv_d3.mp4"), start=40, end=41) as reader:
        frame = next(iter(reader)).image.copy()
    face = models.detector.detect(frame)[0]
    before = models.detector.detect(frame, [face])[0]
    pitch = {}
    for on in (True, False):
        out = swap_image([shared_file("images/fr_obama.jpg")], frame, options=SwapOptions(pose_check=on),
                         models=models)
        after = models.detector.detect(out, [face])[0]
        pitch[on] = abs(pose_difference(before.landmarks, after.landmarks)[1])
    # Measured: 3.9 degrees without the check, 2.1 with it.
    assert pitch[True] < pitch[False] - 1.0, pitch
