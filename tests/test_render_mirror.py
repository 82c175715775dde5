"""Mirror views: the mesh's left/right pairs, and turned source photos lending their mirror image."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import shared_file
from scipy.optimize import linear_sum_assignment

from facegraft.render.shape import umeyama
from facegraft.render.source import MIRROR_MIN_YAW, frontality, photo_yaw, prepare_textures
from facegraft.render.topology import mesh_topology
from facegraft.types import SourceFace


def _source(models, name: str, flip: bool = False) -> SourceFace:
    from facegraft.media import read_image

    image = read_image(shared_file(f"images/{name}"))
    if flip:
        image = np.ascontiguousarray(image[:, ::-1])
    face = models.detector.detect(image)[0]
    return SourceFace((image,), (face,), None, name)


def _points(ring_edges) -> set[int]:
    return {v for e in ring_edges for v in e}


def test_mirror_pairs_are_an_involution_that_swaps_the_named_halves():
    from mediapipe.python.solutions import face_mesh_connections as fmc

    topo = mesh_topology()
    mirror = topo.mirror
    assert sorted(mirror) == list(range(478))
    np.testing.assert_array_equal(mirror[mirror], np.arange(478))
    assert {0, 1, 4, 6, 10, 13, 14, 17, 152, 168} <= set(np.where(mirror == np.arange(478))[0])
    assert (topo.side == 0).sum() == 28 and (topo.side < 0).sum() == (topo.side > 0).sum() == 225
    for left, right in ((fmc.FACEMESH_LEFT_EYE, fmc.FACEMESH_RIGHT_EYE),
                        (fmc.FACEMESH_LEFT_EYEBROW, fmc.FACEMESH_RIGHT_EYEBROW),
                        (fmc.FACEMESH_LEFT_IRIS, fmc.FACEMESH_RIGHT_IRIS)):
        assert {int(mirror[v]) for v in _points(left)} == _points(right)
    assert (mirror[[33, 133, 61, 291, 234, 468]] == [263, 362, 291, 61, 454, 473]).all()
    # The tessellation is nearly symmetric: mirrored edges are edges (mediapipe splits 6 quads the other way).
    edges = {tuple(sorted(e)) for e in fmc.FACEMESH_TESSELATION}
    mapped = {tuple(sorted((int(mirror[a]), int(mirror[b])))) for a, b in edges}
    assert len(edges - mapped) <= 6


@pytest.mark.parametrize("name", ["fr_obama.jpg", "lp_src_s1.jpg"])
def test_mirrored_landmarks_of_a_frontal_face_land_on_the_originals(models, name):
    face = _source(models, name).faces[0]
    topo = mesh_topology()
    p = face.landmarks.astype(np.float64)
    width = np.ptp(p[:, 0])
    assert abs(photo_yaw(p, topo)) < 3.0
    # The reflected face, renumbered through the pairs, is the same face: after a rigid fit every point
    # lands next to the original point of the same number.
    reflected = (p * [-1.0, 1.0, 1.0])[topo.mirror]
    residual = np.linalg.norm(umeyama(reflected, p).apply(reflected) - p, axis=1) / width
    assert np.median(residual) < 0.02
    assert np.percentile(residual, 99) < 0.06
    # The best one-to-one matching of the reflected points onto the originals is the pairing itself.
    aligned = umeyama(reflected, p).apply(reflected)
    _, match = linear_sum_assignment(np.linalg.norm(p[:, None] - aligned[None], axis=2))
    assert (match == np.arange(478)).mean() > 0.98


def test_a_turned_photo_lends_its_mirror_image_to_the_far_half(models):
    topo = mesh_topology()
    turned = _source(models, "fr_biden.jpg")
    yaw = photo_yaw(turned.faces[0].landmarks, topo)
    assert yaw > MIRROR_MIN_YAW
    prepared = prepare_textures(turned, topo, mirror_turned=True)
    assert len(prepared.levels) == 2
    tri_side = np.sign(topo.side[prepared.triangles].sum(axis=1))
    # The head's left half (positive yaw) faces away: exactly those triangles take the mirror view.
    np.testing.assert_array_equal(prepared.owner == 1, tri_side == 1)
    photo, view = prepared.levels[0][0], prepared.levels[1][0]
    np.testing.assert_array_equal(view.image, photo.image[:, ::-1])
    far = tri_side == 1
    assert frontality(view.landmarks, prepared.triangles)[far].mean() > 1.15 * frontality(
        photo.landmarks, prepared.triangles)[far].mean()
    # The mirror view's right eye corner sits on the flipped photo's left eye corner, on every level.
    for lp, lv in zip(prepared.levels[0], prepared.levels[1], strict=True):
        assert lv.landmarks[33, 0] == pytest.approx(lp.image.shape[1] - 1 - lp.landmarks[263, 0])
    # The identity shape still comes from the real photo.
    np.testing.assert_allclose(prepared.shape, turned.faces[0].landmarks)
    assert len(prepare_textures(turned, topo).levels) == 1  # the option is off by default


def test_a_frontal_photo_gets_no_mirror_view(models):
    prepared = prepare_textures(_source(models, "fr_obama.jpg"), mesh_topology(), mirror_turned=True)
    assert len(prepared.levels) == 1
    assert (prepared.owner == 0).all()


def test_a_real_photo_of_the_far_half_is_preferred_to_the_mirror_view(models):
    turned, flipped = _source(models, "fr_biden.jpg"), _source(models, "fr_biden.jpg", flip=True)
    both = SourceFace(turned.images + flipped.images, turned.faces + flipped.faces, None, "both")
    prepared = prepare_textures(both, mesh_topology(), mirror_turned=True)
    # The second photo (turned the other way) sees the first one's far half: no mirror view is needed.
    assert len(prepared.levels) == 2
    assert set(np.unique(prepared.owner)) == {0, 1}


def _auto_choice(models, tmp_path, clip: str, photo_image: np.ndarray, name: str):
    """The automatic mirror check on the first 60 frames of ``clip`` with one photo."""
    from mediagen import trim_clip

    from facegraft.analysis.analyse import analyse_faces
    from facegraft.mirrorcheck import prepare_sources
    from facegraft.options import SwapOptions
    from facegraft.render.renderer import FaceRenderer
    from facegraft.temporal import TrackSettings

    trimmed = trim_clip(shared_file(f"videos/{clip}"), tmp_path / "clip.mp4", 60)
    face = models.detector.detect(photo_image)[0]
    source = SourceFace((photo_image,), (face,), None, name)
    analysis = analyse_faces(trimmed, models=models, embed=False)
    renderer = FaceRenderer(SwapOptions())
    prepared, results = prepare_sources(models, renderer, TrackSettings(), [source], "auto", analysis, {0: 0})
    return prepared[0], results.get(0)


def test_auto_mirror_keeps_the_mirror_view_where_it_brings_the_source_closer(models, tmp_path):
    """Biden's 3/4 photo onto a frontal woman: the mirror view renders nearer Biden, so it is used."""
    from facegraft.media import read_image

    prepared, result = _auto_choice(models, tmp_path, "lp_drv_d10.mp4", read_image(shared_file("images/fr_biden.jpg")),
                                    "biden")
    assert result is not None and result.mirrored
    assert result.mirror < result.plain - 0.01, result  # measured: 0.672 vs 0.716 on the whole clip's views
    assert len(prepared.levels) == 2


def test_auto_mirror_drops_the_mirror_view_where_it_costs_likeness(models, tmp_path):
    """The lp_drv_d3 woman onto herself from a turned frame: her mirror image is less like her (parting, light)."""
    from facegraft.media import VideoReader

    with VideoReader(shared_file("videos/lp_drv_d3.mp4"), start=300, end=301) as reader:
        photo = next(iter(reader)).image.copy()
    prepared, result = _auto_choice(models, tmp_path, "lp_drv_d3.mp4", photo, "d3 frame 300")
    assert result is not None and not result.mirrored
    assert result.mirror > result.plain + 0.01, result  # measured: 0.521 vs 0.397 on the whole clip's views
    assert len(prepared.levels) == 1


def test_auto_mirror_does_nothing_for_a_frontal_photo(models, tmp_path):
    from facegraft.media import read_image

    prepared, result = _auto_choice(models, tmp_path, "lp_drv_d10.mp4", read_image(shared_file("images/fr_obama.jpg")),
                                    "obama")
    assert result is None and len(prepared.levels) == 1
