"""Markdown tables for docs/quality.md and docs/temporal.md from quality_report.py's results."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any


def _f(value: Any, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    if isinstance(value, float) and math.isinf(value):
        return "∞"
    return f"{value:.{digits}f}"


#: How the feature comparison names each variant.
FEATURE_OFF = {"default": "defaults", "no_shape": "identity shape off", "no_detail": "detail matching off"}


def _label(src: str) -> str:
    return f"{Path(src.split(':')[1]).name} frame {src.split(':')[2]}" if src.startswith("self:") else Path(src).name


def _pose(ev: dict) -> str:
    pose = ev.get("pose", {})
    meds = [pose.get(k, {}).get("median") for k in ("yaw", "pitch", "roll")]
    return " / ".join(_f(m, 1) for m in meds)


def write_tables(results: dict, pairs: dict, docs: Path) -> None:
    q = ["| clip | pair | frames swapped | closer to source | within 0.6 of source | median dist source / target |"
         " ID retrieval top-1 | pose error yaw / pitch / roll (median °) | mouth corr | eye corr |"
         " PSNR outside face (dB) |",
         "|---|---|---|---|---|---|---|---|---|---|---|"]
    t = ["| clip | variant | flicker ratio (raw) | flicker ratio (texture-normalised) | brightness flicker ratio |"
         " landmark jitter ratio | fall-back faces (sampled) | unchanged faces (all frames) |",
         "|---|---|---|---|---|---|---|---|"]
    s = ["| clip | variant | closer to source | within 0.6 | median dist to source | flicker (raw) |"
         " pose error yaw / pitch / roll (median °) |",
         "|---|---|---|---|---|---|---|"]
    for name, variants in results.items():
        src, tgt, _, what = pairs[name]
        ev = variants.get("default")
        if ev:
            i, e, sw = ev["identity"], ev["expression"], ev["swap"]
            q.append(f"| {Path(tgt).name} | {_label(src)} → ({what}) | {sw['frames_swapped']}/{sw['frames']} |"
                     f" {_f(i['closer_to_source'])} | {_f(i['within_threshold_of_source'])} |"
                     f" {_f(i['dist_source']['median'])} / {_f(i['dist_target']['median'])} |"
                     f" {_f(i.get('retrieval_top1'))} | {_pose(ev)} | {_f(e['mouth_corr'])} | {_f(e['eye_corr'])} |"
                     f" {_f(ev['fidelity']['psnr_outside_face'], 1)} |")
        for variant, ev in variants.items():
            tm, fb = ev["temporal"], ev["fallback"]
            clip = Path(tgt).name + (" (self-swap control)" if src.startswith("self:") else "")
            t.append(f"| {clip} | {variant} | {_f(tm['flicker_ratio'], 3)} |"
                     f" {_f(tm.get('flicker_texture_normalised_ratio'), 3)} |"
                     f" {_f(tm.get('brightness_flicker_ratio'), 2)} | {_f(tm['jitter_ratio'], 2)} |"
                     f" {fb['fallback_faces']}/{fb['sampled_faces']} | {fb['unchanged_faces']}/{fb['target_faces']} |")
        for variant in ("default", "no_shape", "no_detail"):
            ev = variants.get(variant)
            if ev:
                i = ev["identity"]
                s.append(f"| {Path(tgt).name} | {FEATURE_OFF.get(variant, variant)} |"
                         f" {_f(i['closer_to_source'])} | {_f(i['within_threshold_of_source'])} |"
                         f" {_f(i['dist_source']['median'], 3)} | {_f(ev['temporal']['flicker_ratio'], 3)} |"
                         f" {_pose(ev)} |")
    _replace(docs / "quality.md", "quality-table",
             "\n".join(q) + "\n\nThe defaults against one feature turned off:\n\n" + "\n".join(s))
    _replace(docs / "temporal.md", "temporal-table", "\n".join(t))
    realism = realism_table(results, pairs)
    if realism:
        _replace(docs / "quality.md", "realism-table", realism)


def realism_table(results: dict, pairs: dict) -> str:
    """The realism figures of each clip's default swap (``facegraft.evaluate.realism``), or "" when none."""
    rows = ["| clip | pair | skin ΔE | shading | brows | lips | irises | seam | seam gradient | ghost | grain (dB) |"
            " frames |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, variants in results.items():
        r = (variants.get("default") or {}).get("realism")
        if not r:
            continue
        src, tgt, _, _ = pairs[name]
        rows.append(f"| {Path(tgt).name} | {_label(src)} | {_f(r['skin_de'])} | {_f(r['shading'])} |"
                    f" {_f(r['brows'])} | {_f(r['lips'])} | {_f(r['irises'])} | {_f(r['seam'])} |"
                    f" {_f(r['seam_gradient'])} | {_f(r['ghost'])} | {_f(r['grain'], 1)} | {r['frames']} |")
    return "\n".join(rows) if len(rows) > 2 else ""


def _replace(path: Path, name: str, body: str) -> None:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = path.read_text() if path.exists() else f"{start}\n{end}\n"
    if start not in text:
        text += f"\n{start}\n{end}\n"
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{start}\n{body}\n{end}{tail}")
