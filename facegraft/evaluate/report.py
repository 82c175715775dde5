"""Writing evaluation results: strict JSON, a markdown table and a plot.

JSON has no infinity, so an infinite PSNR (output identical to the
pass-through outside the face) is written as the string ``"inf"``; NaN
becomes ``null``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np


def jsonable(value: Any) -> Any:
    """A copy of ``value`` that :func:`json.dumps` writes as strict JSON."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(path: str | Path, data: Any) -> Path:
    """Write ``data`` as indented strict JSON (parent folders created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(jsonable(data), indent=2, allow_nan=False) + "\n")
    return path


def fmt(value: Any, digits: int = 3) -> str:
    """A table cell: numbers rounded, None as a dash, inf as ∞."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isinf(value):
            return "∞"
        return f"{value:.{digits}f}"
    return str(value)


def _med(section: dict[str, Any], key: str) -> Any:
    item = section.get(key)
    return item.get("median") if isinstance(item, dict) else item


def eval_rows(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(metric, value, what good looks like) rows of one evaluation."""
    i, p, e, t, f = (result[k] for k in ("identity", "pose", "expression", "temporal", "fallback"))
    c = result["container"]
    return [
        ("ID distance to source (median)", fmt(_med(i, "dist_source")), "< 0.6, lower is better"),
        ("ID distance to original (median)", fmt(_med(i, "dist_target")), "higher than to source"),
        ("closer to source than original", fmt(i["closer_to_source"]), "1.0"),
        (f"within {i['threshold']} of source", fmt(i["within_threshold_of_source"]), "1.0"),
        ("ID retrieval top-1 = source", fmt(i["retrieval_top1"]), "1.0"),
        ("pose error yaw / pitch / roll (median °)",
         " / ".join(fmt(_med(p, k), 2) for k in ("yaw", "pitch", "roll")), "< 2°"),
        ("mouth-opening correlation", fmt(e["mouth_corr"]), "≈ 1"),
        ("eye-opening correlation", fmt(e["eye_corr"]), "≈ 1"),
        ("flicker ratio (output / pass-through)", fmt(t["flicker_ratio"]), "≤ 1 ideally, ≈ 1 fine"),
        ("landmark jitter ratio", fmt(t["jitter_ratio"]), "≈ 1"),
        ("fall-back faces (sampled)", f"{f['fallback_faces']} / {f['sampled_faces']}", "0"),
        ("unchanged faces (all frames)", f"{f['unchanged_faces']} / {f['target_faces']}", "0"),
        ("PSNR outside the face (dB)", fmt(result["fidelity"]["psnr_outside_face"], 2), "∞ or > 45"),
        ("frames out / in", f"{c['output']['frames']} / {c['target']['frames']}", "equal"),
        ("timestamps identical", fmt(c["pts_match"]), "yes"),
        ("audio out / in (s)",
         f"{fmt(c['output']['audio_duration'], 2)} / {fmt(c['target']['audio_duration'], 2)}", "equal"),
    ]


def eval_markdown(result: dict[str, Any], *, title: str = "Swap evaluation") -> str:
    """A markdown section with the evaluation's summary table."""
    inp = result.get("inputs", {})
    lines = [f"## {title}", "",
             f"Target `{Path(inp.get('target', '?')).name}`, output `{Path(inp.get('output', '?')).name}`, "
             f"sources {', '.join(Path(s).name for s in inp.get('sources', []))}; embeddings every "
             f"{inp.get('sample_every', '?')} frames.", "",
             "| metric | value | good |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in eval_rows(result)]
    if result.get("realism"):
        lines += ["", f"Realism ({result['realism'].get('frames', 0)} sampled frames, see docs/eval.md):", "",
                  "| figure | value | target |", "|---|---|---|"]
        lines += [f"| {a} | {b} | {c} |" for a, b, c in realism_rows(result["realism"])]
    return "\n".join(lines) + "\n"


def realism_rows(realism: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(figure, value, target) rows of the ``realism`` section."""
    r = realism
    return [
        ("skin tone error (ΔE76)", fmt(r.get("skin_de"), 2), "≤ 2.0"),
        ("shading error (SH fit, RMS L*)", fmt(r.get("shading"), 2), "≤ 2.5"),
        ("cheek L−R / forehead−chin change (L*)",
         f"{fmt(r.get('shading_lr'), 2)} / {fmt(r.get('shading_tb'), 2)}", "small"),
        ("brow / lip / iris colour error (a*b*)",
         " / ".join(fmt(r.get(k), 2) for k in ("brows", "lips", "irises")), "≤ 3 / ≤ 3 / ≤ 4"),
        ("seam colour jump (ΔE76) / gradient ridge (L*/px)",
         f"{fmt(r.get('seam'), 2)} / {fmt(r.get('seam_gradient'), 2)}", "≈ 1 / ≈ 0.1 (a re-encode)"),
        ("ghost brows (share of the original's)", fmt(r.get("ghost"), 2), "≈ 0"),
        ("skin grain (dB, output / original)", fmt(r.get("grain"), 2), "≈ 0 (−1 for a re-encode)"),
    ]


def eval_plot(result: dict[str, Any], path: str | Path) -> Path | None:
    """Per-frame identity distances, pose error and mouth opening, as a PNG (None without frames)."""
    frames = result.get("frames") or []
    if not frames:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(8, 7), sharex=True)
    emb = [r for r in frames if r.get("dist_source") is not None]
    axes[0].plot([r["frame"] for r in emb], [r["dist_source"] for r in emb], "o-", label="to source")
    axes[0].plot([r["frame"] for r in emb], [r["dist_target"] for r in emb], "s-", label="to original")
    axes[0].axhline(0.6, color="grey", ls=":", lw=1)
    axes[0].set_ylabel("ID distance")
    axes[0].legend(loc="upper right")
    posed = [r for r in frames if r.get("pose") is not None]
    for k, name in enumerate(("yaw", "pitch", "roll")):
        axes[1].plot([r["frame"] for r in posed], [abs(r["pose"][k]) for r in posed], lw=1, label=name)
    axes[1].set_ylabel("pose error (°)")
    axes[1].legend(loc="upper right")
    axes[2].plot([r["frame"] for r in frames], [r.get("mouth_target") for r in frames], lw=1, label="target")
    axes[2].plot([r["frame"] for r in posed], [r.get("mouth_output") for r in posed], lw=1, label="output")
    axes[2].set_ylabel("mouth opening")
    axes[2].set_xlabel("frame")
    axes[2].legend(loc="upper right")
    return save_figure(fig, path)


def save_figure(fig: Any, path: str | Path) -> Path:
    """Lay out, write (creating the folder) and close a matplotlib figure."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def replace_section(path: str | Path, name: str, body: str, *, header: str = "") -> Path:
    """Put ``body`` between ``<!-- name:start -->`` and ``<!-- name:end -->`` in a markdown file.

    Other sections of the file (another engineer's) are left as they are; the
    section is appended when the markers are absent, and the file is created
    with ``header`` when missing.
    """
    path = Path(path)
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{body.rstrip()}\n{end}\n"
    text = path.read_text() if path.exists() else header
    if start in text and end in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1].lstrip("\n")
        text = before + block + after
    else:
        text = (text.rstrip() + "\n\n" if text.strip() else "") + block
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
