"""Detail matching on real photos and frames: skin texture softened to the video's level, features kept."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import shared_file

from facegraft.options import SwapOptions
from facegraft.render import detail as dt
from facegraft.render.renderer import FaceRenderer, TrackState
from facegraft.render.shape import shape_still
from facegraft.render.source import prepare_textures
from facegraft.render.topology import mesh_topology
from facegraft.types import SourceFace


def _photo(models, name: str):
    from facegraft.media import read_image

    image = read_image(shared_file(f"images/{name}"))
    return image, models.detector.detect(image)[0]


def _regions(shape, landmarks) -> tuple[np.ndarray, np.ndarray]:
    """(eyes, cheeks) masks: the eye openings (dilated a little) and two discs on the cheeks."""
    topo = mesh_topology()
    eyes = np.zeros(shape[:2], np.uint8)
    for ring in (topo.left_eye, topo.right_eye):
        cv2.fillPoly(eyes, [np.round(landmarks[list(ring), :2]).astype(np.int32)], 1)
    eyes = cv2.dilate(eyes, np.ones((5, 5), np.uint8))
    cheeks = np.zeros(shape[:2], np.uint8)
    radius = int(0.08 * np.ptp(landmarks[:, 0]))
    for i in (50, 280):
        cv2.circle(cheeks, tuple(int(v) for v in np.round(landmarks[i, :2])), radius, 1, -1)
    return eyes.astype(bool), cheeks.astype(bool)


@pytest.mark.parametrize("photo", ["fr_obama.jpg", "fr_biden.jpg"])
def test_smoothing_flattens_skin_texture_and_keeps_the_eyes(models, photo):
    image, face = _photo(models, photo)
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB)
    soft = dt.soften(lab)
    eyes, cheeks = _regions(image.shape, face.landmarks)
    light = lab[..., 0]
    kept_eyes = dt.energy(soft, eyes) / dt.energy(light, eyes)
    kept_cheeks = dt.energy(soft, cheeks) / dt.energy(light, cheeks)
    # Measured: eyes keep ~0.65 of their gradient energy, wrinkled cheeks ~0.35.
    assert kept_cheeks < 0.5
    assert kept_eyes > kept_cheeks + 0.2, (kept_eyes, kept_cheeks)


def test_a_small_face_is_smoothed_over_a_smaller_window(models):
    """On a crowd-sized face the 3 px window spans the eyes themselves; the scaled one keeps them."""
    image, face = _photo(models, "fr_obama.jpg")
    width = float(np.ptp(face.landmarks[:, 0]))
    factor = 60.0 / width
    small = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    landmarks = face.landmarks[:, :2] * factor
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB)
    eyes, _ = _regions(small.shape, landmarks)
    light = dt.energy(lab[..., 0], eyes)
    assert dt.radius_for(60.0) == 1 and dt.radius_for(width) == dt.RADIUS_PX
    kept_scaled = dt.energy(dt.soften(lab, dt.radius_for(60.0)), eyes) / light
    kept_fixed = dt.energy(dt.soften(lab, dt.RADIUS_PX), eyes) / light
    assert kept_scaled > kept_fixed + 0.04, (kept_scaled, kept_fixed)


def test_the_mix_reaches_the_target_energy_and_never_sharpens(models):
    image, face = _photo(models, "fr_obama.jpg")
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB)
    inside = np.zeros(image.shape[:2], np.uint8)
    cv2.fillConvexPoly(inside, cv2.convexHull(np.round(face.landmarks[:, :2]).astype(np.int32)), 1)
    inside = inside.astype(bool)
    soft = dt.soften(lab)
    # The same face as a softer video would show it.
    video = cv2.GaussianBlur(lab[..., 0], (0, 0), 0.8)
    stats = dt.measure(lab, soft, video, inside)
    assert stats.soft < stats.target < stats.source
    share = dt.weight(stats, 1.0)
    assert 0.0 < share < dt.MAX_WEIGHT
    reached = dt.energy(dt.apply(lab, soft, share)[..., 0], inside)
    assert reached == pytest.approx(stats.target, rel=0.08)
    # Halfway (geometrically) with strength 0.5; nothing with strength 0.
    half = dt.energy(dt.apply(lab, soft, dt.weight(stats, 1.0, 0.5))[..., 0], inside)
    assert half == pytest.approx(np.sqrt(stats.source * stats.target), rel=0.08)
    assert dt.weight(stats, 1.0, 0.0) == 0.0
    # A sharper target never sharpens the source.
    sharp = dt.measure(lab, soft, lab[..., 0], inside)
    assert dt.weight(dt.DetailStats(sharp.source, sharp.soft, 1.3 * sharp.source), 1.0) == 0.0


def _face_energy(image: np.ndarray, landmarks: np.ndarray) -> float:
    cheeks = _regions(image.shape, landmarks)[1]
    return dt.energy(cv2.cvtColor(image, cv2.COLOR_RGB2LAB)[..., 0], cheeks)


def test_rendered_skin_matches_the_frame_and_the_face_still_looks_like_the_source(models):
    """Obama's textured face onto a smooth face: the cheeks come out as smooth as the frame's."""
    from facegraft.media import VideoReader

    src_img, src_face = _photo(models, "fr_obama.jpg")
    source = SourceFace((src_img,), (src_face,), models.embedder.embed(src_img, src_face), "obama")
    with VideoReader(shared_file("videos/lp_drv_d3.mp4"), start=40, end=41) as reader:
        target = next(iter(reader)).image.copy()
    face = models.detector.detect(target)[0]
    outputs, states = {}, {}
    for strength in (0.0, 1.0):
        renderer = FaceRenderer(SwapOptions(detail_match=strength))
        prepared = prepare_textures(source, renderer.topology)
        lm = shape_still(face.landmarks, prepared.shape, renderer.topology, renderer.options.shape_strength)
        out, state = target.copy(), TrackState()
        assert renderer.render(out, lm, prepared, state, base=face.landmarks)
        outputs[strength], states[strength] = out, state
    frame_e = _face_energy(target, face.landmarks)
    plain, matched = (_face_energy(outputs[s], face.landmarks) for s in (0.0, 1.0))
    assert states[0.0].detail is None and states[1.0].detail is not None
    # Measured: frame ~1.3, photo texture rendered ~3.9, matched ~1.9 levels/pixel.
    assert abs(matched - frame_e) < 0.6 * abs(plain - frame_e), (frame_e, plain, matched)
    found = models.detector.detect(outputs[1.0])
    assert found
    emb = models.embedder.embed(outputs[1.0], found[0])
    assert np.linalg.norm(emb - source.embedding) < 0.6


def test_edge_softening_is_strongest_at_the_mask_edge_and_fades_inside():
    """The extra softening share: EDGE_SOFTEN where the blend weight leaves 1, none a band deeper, off with detail 0."""
    from facegraft.render import renderer as rr

    alpha = np.zeros((200, 200), np.float32)
    alpha[20:180, 20:180] = 1.0
    alpha = cv2.GaussianBlur(alpha, (0, 0), 4.0)  # a feathered square: 1 well inside, falling to 0 at its edge
    edge = FaceRenderer(SwapOptions())._edge_softening(alpha, 200, (400, 400))
    assert edge is not None and edge.shape == (400, 400)
    plateau = cv2.resize((alpha >= 0.999).astype(np.uint8), (400, 400), interpolation=cv2.INTER_NEAREST) > 0
    assert edge.max() == pytest.approx(rr.EDGE_SOFTEN, abs=1e-3)
    assert edge[200, 200] == 0.0  # the middle: deeper than the band
    band = int(2 * rr.EDGE_BAND * 200)
    rim = plateau & ~cv2.erode(plateau.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    assert edge[rim].mean() > 0.8 * rr.EDGE_SOFTEN  # just inside the plateau's edge
    assert np.all(edge[200, 64 + band + 8:336 - band - 8] == 0.0)  # the plateau spans ~64..336 here
    assert FaceRenderer(SwapOptions(detail_match=0.0))._edge_softening(alpha, 200, (400, 400)) is None
    # The mix: the share moves toward 1 where the extra share is set, and stays where it is not.
    rng = np.random.default_rng(0)
    lab = rng.integers(0, 256, (400, 400, 3), dtype=np.uint8)
    soft = np.full((400, 400), 128.0, np.float32)
    mixed = dt.apply(lab, soft, 0.2, edge)
    plain = dt.apply(lab, soft, 0.2)
    assert np.array_equal(mixed[edge == 0], plain[edge == 0])
    at_edge = edge > 0.25
    spread = [np.abs(m[..., 0][at_edge].astype(int) - 128).mean() for m in (mixed, plain)]
    assert spread[0] < spread[1]
