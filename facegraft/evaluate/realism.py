"""measure_realism: does the new face look lit, coloured and cut like it belongs in the shot?

Identity figures say whose face it is; these say whether it looks pasted.
On evenly spaced frames where the swapped face is found, the original frame
and the output frame are compared through regions the 478-point mesh places
on each (the original's mesh on the original, a mesh refitted on the output
around the same face on the output), and the output's feature colours are
compared with the source photo's. Every figure reads about 0 on a plain
re-encode of the original; docs/eval.md defines each one, says why, and
lists the deliberately broken renders each one was checked against.

Example:
    >>> from facegraft.evaluate.realism import measure_realism
    >>> rep = measure_realism(["me.jpg"], "clip.mp4", "swap.mp4", frames=16)  # doctest: +SKIP
    >>> rep.as_dict()["skin_de"]  # doctest: +SKIP
    2.4

Command-line probe (prints the figures as JSON)::

    python -m facegraft.evaluate.realism --source me.jpg --target clip.mp4 --output swap.mp4
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FacegraftError, NoFaceError
from ..render.topology import MeshTopology, mesh_topology
from ..types import Face
from . import realism_figures as fig
from . import realism_texture as tex

#: Inside-hull mean absolute difference (0-255) above which a face counts as swapped.
CHANGED_LEVEL = 1.5
#: Crop margin around the face, as a fraction of its size (covers the seam profile).
CROP_MARGIN = 0.3
FEATURES = ("brows", "lips", "irises")


@dataclass(slots=True)
class FrameRealism:
    """The figures of one face in one sampled frame (None: not measurable there)."""

    frame: int
    skin_de: float
    shading: float
    shading_lr: float
    shading_tb: float
    seam: float
    seam_gradient: float
    brows: float | None = None
    lips: float | None = None
    irises: float | None = None
    ghost_survived: float = 0.0
    ghost_total: float = 0.0
    hf_output: float = math.nan
    hf_original: float = math.nan


@dataclass(slots=True)
class RealismReport:
    """Realism figures of a swap, averaged over the sampled frames.

    Attributes:
        skin_de: ΔE76 between the mean L*a*b* of the skin patches (cheeks,
            forehead, chin), output against original.
        shading: RMS difference (L*) of the spherical-harmonic lighting fitted
            on the two faces' skin, over the face's normals, mean removed.
        shading_lr, shading_tb: change of the left-minus-right cheek and
            forehead-minus-chin lightness difference (L*).
        brows, lips, irises: a*b* distance from the output's feature colour
            to the segment between the source photo's and the original's.
        seam: ΔE76 colour jump across the face outline that the output adds.
        seam_gradient: extra |∇L*| ridge along the outline (L* per pixel).
        ghost: share (0-1) of the original's brow darkness still visible
            where the new face has no brow.
        grain: 10·log10 of the skin's fine-detail energy, output over
            original (dB); positive = grain added, negative = smoothed.
        frames: frames measured.
        per_frame: the per-frame records.
    """

    skin_de: float | None
    shading: float | None
    shading_lr: float | None
    shading_tb: float | None
    brows: float | None
    lips: float | None
    irises: float | None
    seam: float | None
    seam_gradient: float | None
    ghost: float | None
    grain: float | None
    frames: int
    per_frame: list[FrameRealism] = field(default_factory=list)

    def as_dict(self, *, per_frame: bool = False) -> dict[str, Any]:
        """The figures as a flat dictionary (``per_frame`` adds the records under "per_frame")."""
        out = {k: getattr(self, k) for k in ("skin_de", "shading", "brows", "lips", "irises", "seam", "ghost",
                                            "grain", "frames", "shading_lr", "shading_tb", "seam_gradient")}
        if per_frame:
            out["per_frame"] = [asdict(r) for r in self.per_frame]
        return out


@dataclass(frozen=True, slots=True)
class SourceLook:
    """What a source photo contributes: a*b* feature colours and brow darkness profiles."""

    colours: dict[str, np.ndarray | None]
    brows: np.ndarray


def _mean(values: Sequence[float | None]) -> float | None:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(vals)) if vals else None


class RealismMeter:
    """Measures the realism figures of one face per frame; settings here, data in :meth:`measure`.

    Args:
        models: loaded :class:`~facegraft.analysis.models.Models` (its detector gives the meshes).
        topology: mesh topology (built if None).
    """

    def __init__(self, models: Any, topology: MeshTopology | None = None) -> None:
        self.models = models
        self.topology = topology or mesh_topology()

    def source_look(self, image: np.ndarray, label: str = "source") -> SourceLook:
        """Feature colours and brow darkness of a source photo (its largest face)."""
        faces = self.models.detector.detect(image)
        if not faces:
            raise NoFaceError("no face found in the source photo", label)
        lab, lm = _crop(image, faces[0].landmarks)
        masks = fig.feature_masks(lab.shape, lm, self.topology)
        return SourceLook(colours={k: fig.feature_colour(lab, masks[k], k) for k in FEATURES},
                          brows=tex.brow_darkness(lab, lm, self.topology))

    def pick_face(self, original: np.ndarray, output: np.ndarray, index: int) -> tuple[Face, Face] | None:
        """The swapped face of a frame (the one the output changed most) and its refitted output mesh."""
        faces = self.models.detector.detect(original, frame_index=index)
        if not faces:
            return None
        if original.shape == output.shape and len(faces) > 1:
            from .metrics import face_region

            def change(face: Face) -> float:
                hull = face_region(original.shape, [face.landmarks], dilate=0.0)
                return float(np.abs(original[hull].astype(np.int16) - output[hull].astype(np.int16)).mean())

            changes = [change(f) for f in faces]
            if max(changes) >= CHANGED_LEVEL:
                faces = [faces[int(np.argmax(changes))]]
        face = faces[0]
        refit = self.models.detector.detect(output, [face], refresh=False, frame_index=index)
        if not refit:
            return None
        from ..analysis.detector import iou

        best = max(refit, key=lambda g: iou(g.bbox, face.bbox))
        return (face, best) if iou(best.bbox, face.bbox) > 0.3 else None

    def measure(self, original: np.ndarray, output: np.ndarray, index: int,
                sources: Sequence[SourceLook]) -> FrameRealism | None:
        """All figures of the swapped face in one frame pair (None when no face is found in both)."""
        picked = self.pick_face(original, output, index)
        if picked is None or original.shape != output.shape:
            return None
        face, oface = picked
        topo = self.topology
        ref_lab, ref_lm, box = _crop(original, face.landmarks, return_box=True)
        out_lab = fig.to_lab(output[box[1]:box[3], box[0]:box[2]])
        out_lm = oface.landmarks.copy()
        out_lm[:, 0] -= box[0]
        out_lm[:, 1] -= box[1]
        size = fig.face_size(ref_lm)
        # Skin is read at the same pixels in both frames (the original's mesh): the renderer paints the
        # new face on the target's geometry, and a mesh refitted on the output would add its own jitter.
        ref_p = out_p = fig.patch_masks(ref_lab.shape, ref_lm)
        ref_skin = np.concatenate([ref_lab[m] for m in ref_p.values()])
        out_skin = np.concatenate([out_lab[m] for m in out_p.values()])
        if len(ref_skin) < 20 or len(out_skin) < 20:
            return None
        skin_de = float(np.linalg.norm(out_skin.mean(axis=0) - ref_skin.mean(axis=0)))
        normals = fig.vertex_normals(ref_lm, topo)
        verts = fig.skin_vertices(ref_lab.shape, ref_lm, topo, normals)
        # Both lightings are fitted at the original's skin points and compared on its normals.
        shade = fig.shading_error(fig.shading_of(out_lab, ref_lm, topo, verts, out_p),
                                  fig.shading_of(ref_lab, ref_lm, topo, verts, ref_p))
        seam = tex.seam_error(tex.seam_profiles(out_lab, ref_lm, topo, tex.gradient_magnitude(out_lab)),
                              tex.seam_profiles(ref_lab, ref_lm, topo, tex.gradient_magnitude(ref_lab)), size)
        rec = FrameRealism(frame=index, skin_de=skin_de, shading=shade["sh"], shading_lr=shade["lr"],
                           shading_tb=shade["tb"], seam=seam["colour"], seam_gradient=seam["gradient"])
        ref_f, out_f = fig.feature_masks(ref_lab.shape, ref_lm, topo), fig.feature_masks(out_lab.shape, out_lm, topo)
        for k in FEATURES:
            a, b = fig.feature_colour(out_lab, out_f[k], k), fig.feature_colour(ref_lab, ref_f[k], k)
            if a is None or b is None:
                continue
            dists = [fig.segment_distance(a, b, b if s.colours[k] is None else s.colours[k]) for s in sources] or [
                float(np.linalg.norm(a - b))]
            setattr(rec, k, min(dists))
        rec.ghost_survived, rec.ghost_total = tex.ghost_brows(
            tex.brow_darkness(out_lab, out_lm, topo, frame_from=ref_lm),
            tex.brow_darkness(ref_lab, ref_lm, topo), [s.brows for s in sources])
        both = np.zeros(ref_lab.shape[:2], bool)
        for m in ref_p.values():
            both |= m
        rec.hf_output, rec.hf_original = (tex.high_frequency_energy(out_lab, both),
                                          tex.high_frequency_energy(ref_lab, both))
        return rec


def _crop(image: np.ndarray, landmarks: np.ndarray, *, return_box: bool = False) -> Any:
    """L*a*b* of the region around a face and its landmarks in that region (and the box, if asked)."""
    h, w = image.shape[:2]
    size = fig.face_size(landmarks)
    m = CROP_MARGIN * size
    x0, y0 = max(0, int(landmarks[:, 0].min() - m)), max(0, int(landmarks[:, 1].min() - m))
    x1, y1 = min(w, int(landmarks[:, 0].max() + m) + 1), min(h, int(landmarks[:, 1].max() + m) + 1)
    lm = np.asarray(landmarks, np.float64).copy()
    lm[:, 0] -= x0
    lm[:, 1] -= y0
    lab = fig.to_lab(image[y0:y1, x0:x1])
    return (lab, lm, (x0, y0, x1, y1)) if return_box else (lab, lm)


def summarise(records: Sequence[FrameRealism]) -> RealismReport:
    """Average per-frame records into a report (ghost and grain pooled over frames)."""
    total = sum(r.ghost_total for r in records)
    hf_o = sum(r.hf_output for r in records if math.isfinite(r.hf_output) and math.isfinite(r.hf_original))
    hf_r = sum(r.hf_original for r in records if math.isfinite(r.hf_output) and math.isfinite(r.hf_original))
    return RealismReport(
        skin_de=_mean([r.skin_de for r in records]), shading=_mean([r.shading for r in records]),
        shading_lr=_mean([r.shading_lr for r in records]), shading_tb=_mean([r.shading_tb for r in records]),
        brows=_mean([r.brows for r in records]), lips=_mean([r.lips for r in records]),
        irises=_mean([r.irises for r in records]), seam=_mean([r.seam for r in records]),
        seam_gradient=_mean([r.seam_gradient for r in records]),
        ghost=sum(r.ghost_survived for r in records) / total if total > 0 else None,
        grain=10.0 * math.log10(hf_o / hf_r) if hf_o > 0 and hf_r > 0 else None,
        frames=len(records), per_frame=list(records))


def measure_realism(sources: Sequence[str | Path | np.ndarray], target: str | Path, output: str | Path, *,
                    frames: int = 16, models: Any = None) -> RealismReport:
    """Realism figures of a swap output against its original, on ``frames`` evenly spaced frames.

    A sampled frame where the face is not found in the original or the
    output passes its turn to the next frame where it is.

    Args:
        sources: the source photos (paths or RGB arrays) the swap used.
        target: the original video.
        output: the swap's output video (same frame count and size).
        frames: how many frames to measure.
        models: loaded :class:`~facegraft.analysis.models.Models` (built, and closed, if None).

    Raises:
        MediaError: a file cannot be read. NoFaceError: a source photo has no face.
    """
    from ..media import VideoReader, probe, read_image

    own = models is None
    if own:
        from ..analysis.models import Models

        models = Models()
    try:
        meter = RealismMeter(models)
        looks = []
        for s in sources:
            image = s if isinstance(s, np.ndarray) else read_image(s)
            looks.append(meter.source_look(image, "<array>" if isinstance(s, np.ndarray) else str(s)))
        n = probe(target).frame_count
        probe(output)
        wanted = sorted({round(float(i)) for i in np.linspace(0, max(n - 1, 0), max(1, frames))})
        records: list[FrameRealism] = []
        with VideoReader(target) as rt, VideoReader(output) as ro:
            for ft, fo in zip(rt, ro, strict=False):
                if not wanted or len(records) >= frames:
                    break
                if ft.index < wanted[0]:
                    continue
                rec = meter.measure(ft.image, fo.image, ft.index, looks)
                if rec is not None:
                    records.append(rec)
                    wanted = [i for i in wanted if i > ft.index]
        return summarise(records)
    finally:
        if own:
            models.close()


def main(argv: Sequence[str] | None = None) -> int:
    """The command-line probe: print the realism figures of one swap as JSON."""
    ap = argparse.ArgumentParser(prog="python -m facegraft.evaluate.realism",
                                 description="Realism figures of a swap output against its original (JSON).")
    ap.add_argument("--source", action="append", required=True, metavar="PHOTO", help="Source photo (repeatable).")
    ap.add_argument("--target", required=True, help="The original video.")
    ap.add_argument("--output", required=True, help="The swap output.")
    ap.add_argument("--frames", type=int, default=16, help="Frames to sample (default: 16).")
    ap.add_argument("--per-frame", action="store_true", help="Include the per-frame records.")
    args = ap.parse_args(argv)
    from .report import jsonable

    try:
        rep = measure_realism(args.source, args.target, args.output, frames=args.frames)
    except FacegraftError as exc:
        print(f"error: {exc.line()}", file=sys.stderr)
        return 2
    json.dump(jsonable(rep.as_dict(per_frame=args.per_frame)), sys.stdout, indent=2, allow_nan=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
