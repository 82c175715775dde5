"""Occlusion: a real hand and a microphone moving over real clips stay in front of the new face.

The composites come from tests/occluders.py (an occluder pasted over a clip of
../shared/data, with its exact mask); the figures are those of the ``occlusion``
section of ``facegraft eval`` (facegraft/evaluate/occlusion.py), each checked
against a control that must read clean (the pass-through) and a broken variant
that must read bad (``occlusion="off"``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED_DATA

from facegraft import SwapOptions, swap_video
from facegraft.errors import OptionsError
from facegraft.evaluate.evaluate import make_passthrough, selected_faces
from facegraft.evaluate.occlusion import occlusion_section

pytestmark = pytest.mark.skipif(not SHARED_DATA.is_dir(),
                                reason="../shared/data is missing (real test media live outside the project)")

FRAMES = 45


@pytest.fixture(scope="module")
def composites(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    from occluders import make_composite

    folder = tmp_path_factory.mktemp("occluders")
    return {name: make_composite(name, folder, FRAMES) for name in ("hand_d10", "mic_d3")}


def _figures(video: Path, mask: Path, mode: str, models: object, folder: Path) -> tuple[dict, dict]:
    """The occlusion figures of a swap with ``occlusion=mode``, and of the pass-through (the control)."""
    options = SwapOptions(occlusion=mode, overwrite=True)
    out = folder / f"{video.stem}_{mode}.mp4"
    swap_video([SHARED_DATA / "images" / "fr_obama.jpg"], video, out, options, models=models)
    passthrough = make_passthrough(video, folder / f"{video.stem}_pass.mp4", options)
    faces, _ = selected_faces(video, options, [np.zeros(128)], models)
    return (occlusion_section(passthrough, out, mask, faces),
            occlusion_section(passthrough, passthrough, mask, faces))


def test_real_hand_stays_in_front(composites, models, tmp_path: Path) -> None:
    """A skin-coloured hand cut from a real clip, sliding over cheek and chin, survives the swap."""
    video, mask = composites["hand_d10"]
    auto, control = _figures(video, mask, "auto", models, tmp_path)
    assert control["occluder_kept"] == 1.0 and control["visible_replaced"] == 0.0
    assert auto["covered_frames"] >= 20
    assert auto["occluder_kept"] >= 0.95, auto
    assert auto["visible_replaced"] >= 0.95, auto  # the half-covered face stays swapped
    off, _ = _figures(video, mask, "off", models, tmp_path)
    assert off["occluder_kept"] < 0.5, off  # the broken variant reads bad: the new face over the hand


def test_microphone_stays_in_front(composites, models, tmp_path: Path) -> None:
    """A microphone (grey, not skin) rising in front of the mouth is found by the appearance model alone."""
    video, mask = composites["mic_d3"]
    auto, _ = _figures(video, mask, "auto", models, tmp_path)
    assert auto["occluder_kept"] >= 0.95, auto
    assert auto["visible_replaced"] >= 0.95, auto


def test_clean_face_has_no_occluder(models, tmp_path: Path) -> None:
    """On an unoccluded clip the mask stays empty (identity must not pay for occlusion), and a patch pasted
    later is found where it is and nowhere else."""
    from mediagen import trim_clip
    from occluders import microphone, paste, read_frames

    from facegraft.analysis.analyse import analyse_faces
    from facegraft.analysis.source import prepare_source
    from facegraft.render.occlusion import Occlusion
    from facegraft.render.renderer import FaceRenderer

    clip = trim_clip(SHARED_DATA / "videos" / "lp_drv_d10.mp4", tmp_path / "d10.mp4", 24)
    frames = read_frames(clip, 24)
    faces = analyse_faces(clip, models=models).frames
    reference = prepare_source([SHARED_DATA / "images" / "fr_obama.jpg"], models, embed=False).faces[0].landmarks
    renderer = FaceRenderer()
    occ = Occlusion(renderer.topology, mode="auto")
    for i in range(16):
        face = faces[i][0]
        keep = occ.keep(frames[i], 0, face.landmarks, renderer.region(face.landmarks, frames[i].shape), reference)
        assert keep is None or keep.min() > 0.5, f"frame {i}: a clean face judged covered"
    mic = microphone(200)
    for i in range(16, 24):
        face = faces[i][0]
        frame, truth = paste(frames[i], mic, (face.centre[0] + 30, face.centre[1] + 130))
        region = renderer.region(face.landmarks, frame.shape)
        keep = occ.keep(frame, 0, face.landmarks, region, reference)
    assert keep is not None
    x0, y0, x1, y1 = region
    on = truth[y0:y1, x0:x1] > 0
    inside = np.zeros_like(on)
    inside[int(0.35 * on.shape[0]):int(0.8 * on.shape[0]), int(0.3 * on.shape[1]):int(0.7 * on.shape[1])] = True
    assert np.mean(keep[on & inside] < 0.5) > 0.9  # the microphone over the face is kept
    assert np.mean(keep[~on & inside] > 0.5) > 0.6  # the rest of the face is still painted


def test_occlusion_option() -> None:
    assert SwapOptions().occlusion == "auto"
    with pytest.raises(OptionsError):
        SwapOptions(occlusion="sometimes")  # type: ignore[arg-type]
