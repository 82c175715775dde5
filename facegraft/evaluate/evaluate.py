"""evaluate_swap: measure a swap output against its target video, in one pass.

The target is analysed once (the same analysis and selection rule the
pipeline uses, so the evaluator knows which faces were meant to be
replaced). A pass-through encode of the target with the same codec settings
is the reference for every pixel metric, so encoder noise is not blamed on
the swap. Then target, pass-through and output are decoded in lockstep: the
mesh is refitted on the output around each selected target face every
frame; dlib embeddings (~70 ms a face) only on every ``sample_every``-th frame.

Example:
    >>> from facegraft.evaluate import evaluate_swap
    >>> result = evaluate_swap(["me.jpg"], "clip.mp4", "out.mp4")  # doctest: +SKIP
    >>> result["identity"]["closer_to_source"]  # doctest: +SKIP
    0.96
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np

from ..options import SwapOptions
from ..types import Face
from . import identity as ident
from .container import compare_containers
from .metrics import (
    eye_opening,
    face_region,
    mean_abs_change,
    mean_level,
    mouth_opening,
    pearson,
    pose_difference,
    psnr_from_mse,
    ratio,
    second_difference_energy,
    summary,
    texture_energy,
)
from .perframe import FrameRecord, match_faces

#: Mean absolute difference (0-255) inside the face hull under which an output
#: face counts as the untouched original (two encodes of the same pixels differ
#: by well under one level; any real swap changes the face by far more).
UNCHANGED_LEVEL = 1.5
#: Dilation of the face hull, as a fraction of face size, for flicker and for
#: the region excluded from the outside-face PSNR (covers the feathered edge).
FLICKER_DILATE = 0.15
OUTSIDE_DILATE = 0.3

ProgressFn = Callable[[int, int], None]


def make_passthrough(target: str | Path, output: str | Path, options: SwapOptions) -> Path:
    """Re-encode the target untouched with the swap's codec settings and audio.

    This is what the output would be if nothing were swapped, so comparing
    against it isolates the swap from the encoder.
    """
    from ..media import VideoReader, VideoWriter, probe

    info = probe(target)
    with VideoReader(target) as reader, VideoWriter(
            output, like=info, codec=options.codec, crf=options.crf, preset=options.preset,
            fps=options.fps, audio_from=target, overwrite=True) as writer:
        for frame in reader:
            writer.write(frame.image, pts=frame.pts, time_base=frame.time_base)
    return Path(output)


def selected_faces(target: str | Path, options: SwapOptions, source_embs: list[np.ndarray],
                   models: Any) -> tuple[list[list[Face]], dict[int, np.ndarray | None]]:
    """The target faces the pipeline would replace, per frame, and each person's embedding.

    Uses :func:`facegraft.analysis.analyse.analyse_faces` and the pipeline's
    selection rule, so "which face should have changed" is defined the same
    way for the evaluator as for the swap.
    """
    from ..analysis.analyse import analyse_faces
    from ..analysis.selection import select_identities

    analysis = analyse_faces(target, models=models, max_gap=options.max_gap)
    references = ident.source_embeddings(options.references, models) if options.references else []
    # The pipeline fuses all photos into one person unless each photo maps to its own (select=map).
    people = source_embs if options.select == "map" else [np.mean(source_embs, axis=0)]
    selection = select_identities(analysis, options, people, reference_embeddings=references)
    chosen = set(selection.mapping)
    frames = [[f for f in faces if f.identity_id in chosen] for faces in analysis.frames]
    embeddings = {i.id: i.embedding for i in analysis.identities if i.id in chosen}
    return frames, embeddings


def evaluate_swap(sources: Sequence[str | Path | np.ndarray], target: str | Path, output: str | Path, *,
                  options: SwapOptions | None = None, models: Any = None,
                  gallery: Sequence[ident.GalleryEntry] | None = None, sample_every: int = 5,
                  passthrough: str | Path | None = None, progress: ProgressFn | None = None,
                  keep_frames: bool = True, occluder_mask: str | Path | None = None,
                  realism_frames: int = 16) -> dict[str, Any]:
    """Identity, pose, expression, temporal and fidelity metrics of a swap output.

    Args:
        sources: the source photos (paths or RGB arrays) the swap used.
        target: the original target video.
        output: the swap's output video.
        options: the swap's options (selection rule and codec settings).
        models: loaded :class:`~facegraft.analysis.models.Models` (built if None).
        gallery: faces of other people for ID retrieval (see
            :func:`facegraft.evaluate.identity.build_gallery`); None skips retrieval.
        sample_every: embeddings on every N-th frame only.
        passthrough: an existing pass-through encode of the target; made in a
            temporary folder when None.
        progress: called with (frames done, total frames).
        keep_frames: include the per-frame records in the result.
        occluder_mask: a grayscale video of the ground-truth occluder (255 on it, frame for frame
            with the target); adds the ``occlusion`` section (:mod:`~facegraft.evaluate.occlusion`).
        realism_frames: frames sampled for the ``realism`` section
            (:mod:`~facegraft.evaluate.realism`, compared with the target itself); 0 leaves it out.

    Returns:
        The result dictionary (schema in ``docs/eval.md``); infinite PSNR is ``math.inf``.
    """
    options = options or SwapOptions()
    if models is None:
        from ..analysis.models import Models

        models = Models()
    sample_every = max(1, int(sample_every))
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    source_embs = ident.source_embeddings(sources, models)
    source_mean = np.mean(source_embs, axis=0)
    timings["sources"] = time.perf_counter() - t0

    t = time.perf_counter()
    container = compare_containers(target, output)
    target_faces, person_embs = selected_faces(target, options, source_embs, models)
    timings["analyse_target"] = time.perf_counter() - t

    with ExitStack() as stack:
        if passthrough is None:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="facegraft-eval-")))
            t = time.perf_counter()
            passthrough = make_passthrough(target, tmp / ("passthrough" + Path(output).suffix), options)
            timings["passthrough"] = time.perf_counter() - t
        t = time.perf_counter()
        records, pixel = _lockstep(passthrough, output, target_faces, source_mean, person_embs, gallery,
                                   models, sample_every, progress)
        timings["lockstep"] = time.perf_counter() - t
        if occluder_mask is not None:
            from .occlusion import occlusion_section

            t = time.perf_counter()
            occlusion = occlusion_section(passthrough, output, occluder_mask, target_faces)
            timings["occlusion"] = time.perf_counter() - t
    if realism_frames > 0:
        from .realism import measure_realism

        t = time.perf_counter()
        realism = measure_realism(sources, target, output, frames=realism_frames, models=models).as_dict()
        timings["realism"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    result = _summarise(records, pixel, container, person_embs, gallery, source_mean)
    if occluder_mask is not None:
        result["occlusion"] = occlusion
    if realism_frames > 0:
        result["realism"] = realism
    result["inputs"] = {
        "sources": [_name(s) for s in sources],
        "target": str(target), "output": str(output), "sample_every": sample_every,
        "selected_identities": sorted(person_embs),
        "gallery_faces": None if gallery is None else len(gallery),
        "options": {"select": options.select, "codec": options.codec, "crf": options.crf,
                    "preset": options.preset},
    }
    result["timings"] = timings
    if keep_frames:
        result["frames"] = [r.as_dict() for r in records]
    return result


def _name(src: str | Path | np.ndarray) -> str:
    return "<array>" if isinstance(src, np.ndarray) else str(src)


def _refit(models: Any, image: np.ndarray, faces: list[Face]) -> list[tuple[Face, Face | None]]:
    """Each face paired with its mesh refitted on ``image`` around the face's place (None if lost).

    Uses the detector's tracking mode (refit around the given faces) so the
    crops depend only on ``faces``: the same pixels give the same meshes.
    """
    if not faces:
        return []
    found = models.detector.detect(image, faces, refresh=False, frame_index=faces[0].frame_index)
    return [(f, None if g is None else g.with_(identity_id=f.identity_id, track_id=f.track_id))
            for f, g in match_faces(faces, found)]


def _lockstep(passthrough: str | Path, output: str | Path, target_faces: list[list[Face]],
              source_mean: np.ndarray, person_embs: dict[int, np.ndarray | None],
              gallery: Sequence[ident.GalleryEntry] | None, models: Any, sample_every: int,
              progress: ProgressFn | None) -> tuple[list[FrameRecord], dict[str, float]]:
    """Decode pass-through and output together and measure each selected face in each frame.

    Target and output meshes are both refitted here, on the same crop around
    the analysed target face, so the measurement is symmetric: an output
    identical to the pass-through gives exactly zero pose error and a jitter
    ratio of one, whatever the analysis's own detection schedule was.
    """
    from ..media import VideoReader

    pixel = {"flicker_out": 0.0, "flicker_ref": 0.0, "flicker_n": 0.0, "outside_sq": 0.0,
             "outside_n": 0.0, "frames": 0.0, "tnorm_out": 0.0, "tnorm_ref": 0.0, "tnorm_n": 0.0}
    levels: dict[int, list[tuple[int, float, float]]] = {}
    galleries: dict[int, list[ident.GalleryEntry]] = {}
    records: list[FrameRecord] = []
    total = len(target_faces)
    prev_ref = prev_out = None
    prev_regions: dict[int, np.ndarray] = {}
    with VideoReader(passthrough) as rp, VideoReader(output) as ro:
        for fp, fo in zip(rp, ro, strict=False):
            i = fp.index
            ref, out = fp.image, fo.image
            same_size = ref.shape == out.shape
            faces = target_faces[i] if i < len(target_faces) else []
            outputs = [g for _, g in _refit(models, out, faces)]
            faces = [g or f for f, g in _refit(models, ref, faces)]
            pairs = list(zip(faces, outputs, strict=True))
            outside = ~face_region(ref.shape, [f.landmarks for f in faces], dilate=OUTSIDE_DILATE)
            if same_size:
                diff = ref[outside].astype(np.float64) - out[outside].astype(np.float64)
                pixel["outside_sq"] += float((diff**2).sum())
                pixel["outside_n"] += float(diff.size)
            regions = {}
            for tface, oface in pairs:
                key = int(tface.identity_id or 0)
                rec = _measure(FrameRecord(frame=i, identity=key, output_found=oface is not None),
                               tface, oface, ref, out)
                if i % sample_every == 0:
                    _identity(rec, ref, out, (tface, oface), source_mean, person_embs, gallery, galleries,
                              models)
                regions[key] = face_region(ref.shape, [tface.landmarks], dilate=FLICKER_DILATE)
                if prev_ref is not None and key in prev_regions and same_size and prev_ref.shape == ref.shape:
                    mask = regions[key] | prev_regions[key]
                    a, b = mean_abs_change(prev_out, out, mask), mean_abs_change(prev_ref, ref, mask)
                    if a is not None and b is not None:
                        pixel["flicker_out"] += a
                        pixel["flicker_ref"] += b
                        pixel["flicker_n"] += 1
                        ta, tb = texture_energy(prev_out, out, mask), texture_energy(prev_ref, ref, mask)
                        if ta and tb:
                            pixel["tnorm_out"] += a / ta
                            pixel["tnorm_ref"] += b / tb
                            pixel["tnorm_n"] += 1
                if same_size:
                    la, lb = mean_level(out, regions[key]), mean_level(ref, regions[key])
                    if la is not None and lb is not None:
                        levels.setdefault(key, []).append((i, la, lb))
                records.append(rec)
            prev_ref, prev_out, prev_regions = ref, out, regions
            pixel["frames"] += 1
            if progress is not None:
                progress(i + 1, total)
    # Brightness flicker: frame-to-frame jumps of the face's mean level beyond its smooth trend.
    b_out, b_ref = [], []
    for series in levels.values():
        run = np.array(series)
        if len(run) >= 5:
            b_out.append(float(np.mean(np.diff(run[:, 1], 2) ** 2)))
            b_ref.append(float(np.mean(np.diff(run[:, 2], 2) ** 2)))
    pixel["brightness_out"] = float(np.mean(b_out)) if b_out else 0.0
    pixel["brightness_ref"] = float(np.mean(b_ref)) if b_ref else 0.0
    return records, pixel


def _measure(rec: FrameRecord, tface: Face, oface: Face | None, ref: np.ndarray, out: np.ndarray,
             ) -> FrameRecord:
    """Pixel change, pose and expression of one target face and its output counterpart."""
    tight = face_region(ref.shape, [tface.landmarks], dilate=0.0)
    if tight.any() and ref.shape == out.shape:
        rec.inside_mad = float(np.abs(ref[tight].astype(np.int16) - out[tight].astype(np.int16)).mean())
        rec.unchanged = rec.inside_mad < UNCHANGED_LEVEL
    rec.mouth_target, rec.eye_target = mouth_opening(tface.landmarks), eye_opening(tface.landmarks)
    rec.landmarks_target = tface.landmarks[:, :2]
    if oface is not None:
        rec.pose = pose_difference(tface.landmarks, oface.landmarks)
        rec.mouth_output, rec.eye_output = mouth_opening(oface.landmarks), eye_opening(oface.landmarks)
        rec.landmarks_output = oface.landmarks[:, :2]
    return rec


def _identity(rec: FrameRecord, orig: np.ndarray, out: np.ndarray, pair: tuple[Face, Face | None],
              source_mean: np.ndarray, person_embs: dict[int, np.ndarray | None],
              gallery: Sequence[ident.GalleryEntry] | None, galleries: dict[int, list[ident.GalleryEntry]],
              models: Any) -> None:
    """Embeddings of the output and original faces in one sampled frame."""
    tface, oface = pair
    rec.sampled = True
    target_emb = np.asarray(models.embedder.embed(orig, tface), np.float64)
    if oface is None:
        return
    out_emb = np.asarray(models.embedder.embed(out, oface), np.float64)
    rec.dist_source = ident.distance(out_emb, source_mean)
    rec.dist_target = ident.distance(out_emb, target_emb)
    rec.target_to_source = ident.distance(target_emb, source_mean)
    if gallery is not None:
        key = rec.identity
        if key not in galleries:
            person = person_embs.get(key)
            galleries[key], _ = ident.with_subjects(gallery, source_mean, person if person is not None
                                                    else target_emb)
        rec.nearest = ident.nearest(out_emb, galleries[key])


def _share(flags: list[bool]) -> float | None:
    return float(np.mean(flags)) if flags else None


def _summarise(records: list[FrameRecord], pixel: dict[str, float], container: dict[str, Any],
               person_embs: dict[int, np.ndarray | None], gallery: Sequence[ident.GalleryEntry] | None,
               source_mean: np.ndarray) -> dict[str, Any]:
    sampled = [r for r in records if r.sampled]
    embedded = [r for r in sampled if r.dist_source is not None]
    fallback = [r.is_fallback() for r in sampled]
    identity = {
        "sampled_faces": len(sampled),
        "embedded_faces": len(embedded),
        "dist_source": summary(r.dist_source for r in embedded),
        "dist_target": summary(r.dist_target for r in embedded),
        "target_to_source": summary(r.target_to_source for r in embedded),
        "closer_to_source": _share([r.dist_source < r.dist_target for r in embedded]),  # type: ignore[operator]
        "within_threshold_of_source": _share([r.dist_source < ident.SAME_PERSON for r in embedded]),  # type: ignore[operator]
        "threshold": ident.SAME_PERSON,
        "retrieval_top1": None if gallery is None else _share([r.nearest == "source" for r in embedded]),
        "retrieval_gallery_faces": None if gallery is None else len(gallery),
    }
    if gallery is not None:
        _, aliased = ident.with_subjects(gallery, source_mean, None)
        identity["retrieval_source_aliases"] = aliased
    posed = [r for r in records if r.pose is not None]
    pose = {"faces": len(posed)}
    for k, name in enumerate(("yaw", "pitch", "roll")):
        pose[name] = summary(abs(r.pose[k]) for r in posed)  # type: ignore[index]
    by_id: dict[int, list[FrameRecord]] = {}
    for r in records:
        by_id.setdefault(r.identity, []).append(r)
    mouth, eye, jit_out, jit_ref = [], [], [], []
    for recs in by_id.values():
        mouth.append(pearson([_nan(r.mouth_output) for r in recs], [r.mouth_target for r in recs]))
        eye.append(pearson([_nan(r.eye_output) for r in recs], [r.eye_target for r in recs]))
        out_track, ref_track = _tracks(recs)
        jit_out.append(second_difference_energy(out_track))
        jit_ref.append(second_difference_energy(ref_track))
    flicker_out = pixel["flicker_out"] / pixel["flicker_n"] if pixel["flicker_n"] else None
    flicker_ref = pixel["flicker_ref"] / pixel["flicker_n"] if pixel["flicker_n"] else None
    j_out = _mean(jit_out)
    j_ref = _mean(jit_ref)
    with_face = len(records)
    return {
        "version": 1,
        "container": container,
        "identity": identity,
        "pose": pose,
        "expression": {"mouth_corr": _mean(mouth), "eye_corr": _mean(eye), "faces": len(posed)},
        "temporal": {
            "flicker_output": flicker_out, "flicker_reference": flicker_ref,
            "flicker_ratio": ratio(flicker_out, flicker_ref),
            "flicker_texture_normalised_ratio": ratio(
                pixel["tnorm_out"] / pixel["tnorm_n"] if pixel["tnorm_n"] else None,
                pixel["tnorm_ref"] / pixel["tnorm_n"] if pixel["tnorm_n"] else None),
            "brightness_flicker_ratio": ratio(pixel["brightness_out"] or None, pixel["brightness_ref"] or None),
            "jitter_output": j_out, "jitter_reference": j_ref, "jitter_ratio": ratio(j_out, j_ref),
        },
        "fallback": {
            "target_faces": with_face,
            "sampled_faces": len(sampled),
            "fallback_faces": int(sum(fallback)),
            "fallback_share": _share(fallback),
            "no_face_in_output": sum(not r.output_found for r in records),
            "unchanged_faces": sum(r.unchanged for r in records),
            "unchanged_share": _share([r.unchanged for r in records]),
        },
        "fidelity": {"psnr_outside_face": psnr_from_mse(pixel["outside_sq"], int(pixel["outside_n"])),
                     "frames": int(pixel["frames"])},
    }


def _nan(value: float | None) -> float:
    return math.nan if value is None else value


def _mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(vals)) if vals else None


def _tracks(recs: list[FrameRecord]) -> tuple[np.ndarray, np.ndarray]:
    """(T, 478, 2) landmark trajectories of output and target over the frame span, NaN in gaps."""
    first, last = recs[0].frame, recs[-1].frame
    out = np.full((last - first + 1, 478, 2), np.nan)
    ref = np.full_like(out, np.nan)
    for r in recs:
        if r.landmarks_output is not None:
            out[r.frame - first] = r.landmarks_output
            ref[r.frame - first] = r.landmarks_target
    return out, ref
