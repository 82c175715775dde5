"""facegraft.evaluate.realism on real media: a re-encode reads clean, broken renders read bad.

The target is a 20-frame trim of a real clip (a woman talking, lp_drv_d10)
and the source a real photo (fr_biden). Outputs: a plain re-encode (the
control), the default swap, and deliberately wrong ones: colour transfer
off, a hard mask, the default swap with an additive L*a*b* shift on the
face, with grain added to the face, and with the original's face mixed
back in at 40 % (a ghost). Each figure must read about 0 on the control
and clearly worse on the broken render it is meant to catch.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import shared_file
from mediagen import trim_clip

from facegraft.evaluate import realism_figures as fig
from facegraft.evaluate import realism_texture as tex
from facegraft.evaluate.realism import RealismReport, main, measure_realism
from facegraft.evaluate.report import realism_rows

FRAMES = 20
SAMPLED = 8


def _face_weight(models, image: np.ndarray) -> np.ndarray:
    """A feathered face-outline weight (like the renderer's mask) from the image's own mesh."""
    from facegraft.render.topology import mesh_topology

    faces = models.detector.detect(image)
    weight = np.zeros(image.shape[:2], np.float32)
    if faces:
        lm = faces[0].landmarks
        size = fig.face_size(lm)
        cv2.fillPoly(weight, [np.round(lm[list(mesh_topology().face_oval), :2]).astype(np.int32)], 1.0)
        k = int(0.04 * size) | 1
        weight = cv2.erode(weight, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
        weight = cv2.GaussianBlur(weight, (0, 0), 0.03 * size)
    return weight[..., None]


def _rewrite(src: Path, dst: Path, transform) -> Path:
    from facegraft.media import VideoReader, VideoWriter, probe

    with VideoReader(src) as reader, VideoWriter(dst, like=probe(src), overwrite=True) as writer:
        for frame in reader:
            writer.write(transform(frame.index, frame.image), pts=frame.pts, time_base=frame.time_base)
    return dst


@pytest.fixture(scope="module")
def media(models, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from facegraft import SwapOptions, swap_video
    from facegraft.evaluate import make_passthrough
    from facegraft.media import VideoReader

    photo = shared_file("images/fr_biden.jpg")
    work = tmp_path_factory.mktemp("realism")
    clip = trim_clip(shared_file("videos/lp_drv_d10.mp4"), work / "clip.mp4", FRAMES)
    out = {"photo": photo, "clip": clip, "control": make_passthrough(clip, work / "control.mp4", SwapOptions())}
    for name, extra in {"default": {}, "none": {"colour": "none"},
                        "hard": {"mask_blur": 0.0, "mask_erode": 0.0}}.items():
        swap_video([photo], clip, work / f"{name}.mp4", SwapOptions(overwrite=True, **extra), models=models)
        out[name] = work / f"{name}.mp4"
    with VideoReader(clip) as reader:
        originals = [f.image for f in reader]
    weights = [_face_weight(models, im) for im in originals]
    shift = np.array([4.0, 5.0, 5.0], np.float32)
    rng = np.random.default_rng(0)

    def lab_shift(i: int, im: np.ndarray) -> np.ndarray:
        lab = fig.to_lab(im) + weights[i] * shift
        return np.clip(cv2.cvtColor(lab, cv2.COLOR_Lab2RGB) * 255 + 0.5, 0, 255).astype(np.uint8)

    def grain(i: int, im: np.ndarray) -> np.ndarray:
        noise = rng.normal(0.0, 6.0, im.shape).astype(np.float32)
        return np.clip(im + weights[i] * noise + 0.5, 0, 255).astype(np.uint8)

    def ghost(i: int, im: np.ndarray) -> np.ndarray:
        mix = 0.4 * weights[i]
        return np.clip(im * (1 - mix) + originals[i] * mix + 0.5, 0, 255).astype(np.uint8)

    for name, transform in {"labshift": lab_shift, "grain": grain, "ghost": ghost}.items():
        out[name] = _rewrite(out["default"], work / f"{name}.mp4", transform)
    return out


@pytest.fixture(scope="module")
def reports(models, media: dict[str, Path]) -> dict[str, RealismReport]:
    return {name: measure_realism([media["photo"]], media["clip"], media[name], frames=SAMPLED, models=models)
            for name in ("control", "default", "none", "hard", "labshift", "grain", "ghost")}


def test_re_encode_reads_about_zero(reports: dict[str, RealismReport]) -> None:
    r = reports["control"]
    assert r.frames == SAMPLED
    assert r.skin_de < 1.0 and r.shading < 1.0 and r.shading_lr < 1.5 and r.shading_tb < 1.5
    assert r.brows < 1.0 and r.lips < 1.0 and r.irises < 1.5
    assert r.seam < 1.6 and r.seam_gradient < 0.3
    assert r.ghost < 0.05
    assert abs(r.grain) < 1.5


def test_swap_reads_worse_than_re_encode(reports: dict[str, RealismReport]) -> None:
    c, d = reports["control"], reports["default"]
    assert d.skin_de > c.skin_de + 1.0
    assert d.shading > c.shading + 1.0
    assert d.seam > 2 * c.seam


def test_lab_shift_reads_on_skin_tone(reports: dict[str, RealismReport]) -> None:
    d, s = reports["default"], reports["labshift"]
    assert s.skin_de > d.skin_de + 1.5
    # An overall shift is not a lighting change: the SH comparison removes the mean.
    assert abs(s.shading - d.shading) < 1.0


def test_no_colour_transfer_reads_on_skin_and_shading(reports: dict[str, RealismReport]) -> None:
    d, n = reports["default"], reports["none"]
    assert n.skin_de > 3 * d.skin_de
    assert n.shading > d.shading


def test_hard_mask_reads_on_seam(reports: dict[str, RealismReport]) -> None:
    d, h = reports["default"], reports["hard"]
    assert h.seam > 1.5 * d.seam
    assert h.seam_gradient > 2 * d.seam_gradient


def test_added_grain_reads_on_grain(reports: dict[str, RealismReport]) -> None:
    assert reports["grain"].grain > reports["default"].grain + 3.0


def test_original_mixed_back_reads_as_ghost(reports: dict[str, RealismReport]) -> None:
    assert reports["ghost"].ghost > reports["default"].ghost + 0.05
    assert reports["ghost"].ghost > 5 * reports["control"].ghost


def test_report_dict_and_markdown_rows(reports: dict[str, RealismReport]) -> None:
    d = reports["default"].as_dict()
    for key in ("skin_de", "shading", "brows", "lips", "irises", "seam", "ghost", "grain", "frames"):
        assert key in d
    assert d["frames"] == SAMPLED
    rows = realism_rows(d)
    assert rows[0][1] == f"{d['skin_de']:.2f}"
    assert "per_frame" in reports["default"].as_dict(per_frame=True)


def test_probe_prints_json_and_refuses_bad_input(media: dict[str, Path], tmp_path: Path, capsys) -> None:
    assert main(["--source", str(media["photo"]), "--target", str(media["clip"]), "--output",
                 str(media["control"]), "--frames", "2"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["frames"] == 2 and printed["skin_de"] < 1.5
    missing = tmp_path / "nope.mp4"
    assert main(["--source", str(media["photo"]), "--target", str(media["clip"]), "--output", str(missing)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope.mp4" in err[0]


# ------------------------------------------------------------------ figures on arrays
def test_segment_distance() -> None:
    a, b = np.array([0.0, 0.0]), np.array([10.0, 0.0])
    assert fig.segment_distance(np.array([5.0, 3.0]), a, b) == pytest.approx(3.0)
    assert fig.segment_distance(np.array([-4.0, 3.0]), a, b) == pytest.approx(5.0)
    assert fig.segment_distance(np.array([1.0, 1.0]), a, a) == pytest.approx(np.sqrt(2.0))


def test_sh_fit_recovers_directional_light() -> None:
    rng = np.random.default_rng(1)
    n = rng.normal(size=(400, 3))
    n[:, 2] = -np.abs(n[:, 2]) - 0.5  # a face: normals toward the camera
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    light = 60 + 12 * n[:, 0]  # lit from the image's right
    coeffs = fig.sh_fit(light, n)
    assert coeffs[1] == pytest.approx(12, rel=0.15)
    assert abs(coeffs[2]) < 1.0


def test_ghost_profiles() -> None:
    t = np.arange(23, dtype=np.float64)
    old = 30 * np.exp(-((t - 12) / 2.0) ** 2)  # the original's brow, higher up
    src = 30 * np.exp(-((t - 5) / 2.0) ** 2)  # the source's brow, lower
    shape = (2, 8, 23)
    o, s = np.broadcast_to(old, shape), np.broadcast_to(src, shape)
    clean, _ = tex.ghost_brows(s.copy(), o, [s])
    kept, _ = tex.ghost_brows(o.copy(), o, [s])
    ghost, total = tex.ghost_brows(0.6 * s + 0.4 * o, o, [s])
    assert clean < 0.02 * total and kept < 0.02 * total
    assert ghost > 0.5 * total
