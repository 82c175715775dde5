"""Benchmark results as docs: JSON, a markdown section in docs/benchmarks.md, a plot."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

from .report import fmt, replace_section, save_figure, write_json

STAGES = ("prepare", "analyse", "render", "encode")
HEADER = ("# Benchmarks\n\nMeasured on the machine named in each section; regenerate with the commands "
          "shown.\n")


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine()}


def bench_markdown(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """The benchmark section: one row per case, then stage times."""
    lines = ["## Swap speed (facegraft bench)", "",
             f"`{meta.get('command', 'facegraft bench')}` on {meta['machine']['cpus']} CPU cores "
             f"({meta['machine']['platform']}), {meta.get('date', '')}. fps counts the whole swap "
             "(decode, analysis, render, encode, mux) without model loading; *× ffmpeg* is the swap time "
             "over a plain `ffmpeg -c:v libx264` transcode of the same clip with the same CRF and preset, "
             "measured in the same run. Peak RSS is the swap subprocess's own maximum resident memory.", "",
             "| case | size | frames | swapped | fps | ffmpeg fps | × ffmpeg | peak RSS (MB) | load (s) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['case']} | {r['width']}x{r['height']} | {r['frames']} | {r['frames_swapped']} | "
                     f"{fmt(r['fps'], 1)} | {fmt(r['ffmpeg_fps'], 1)} | {fmt(r['ratio_to_ffmpeg'], 1)} | "
                     f"{fmt(r['peak_rss_mb'], 0)} | {fmt(r['load_s'], 1)} |")
    lines += ["", "Seconds per stage (from `SwapReport.timings`):", "",
              "| case | " + " | ".join(STAGES) + " | total |", "|---" * (len(STAGES) + 2) + "|"]
    for r in rows:
        t = r["timings"]
        lines.append(f"| {r['case']} | " + " | ".join(fmt(t.get(s), 2) for s in STAGES)
                     + f" | {fmt(t.get('total'), 2)} |")
    evals = [r for r in rows if "eval" in r]
    if evals:
        lines += ["", "Quality of the same outputs (`facegraft eval` metrics):", "",
                  "| case | ID dist. to source | closer to source | retrieval top-1 | pose err. roll (°) | "
                  "mouth corr. | flicker ratio | jitter ratio | fall-backs | PSNR outside (dB) |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for r in evals:
            e = r["eval"]
            i, f = e["identity"], e["fallback"]
            lines.append(
                f"| {r['case']} | {fmt(i['dist_source']['median'])} | {fmt(i['closer_to_source'], 2)} | "
                f"{fmt(i['retrieval_top1'], 2)} | {fmt(e['pose']['roll']['median'], 2)} | "
                f"{fmt(e['expression']['mouth_corr'], 2)} | {fmt(e['temporal']['flicker_ratio'], 2)} | "
                f"{fmt(e['temporal']['jitter_ratio'], 2)} | {f['fallback_faces']}/{f['sampled_faces']} | "
                f"{fmt(e['fidelity']['psnr_outside_face'], 1)} |")
    warnings = [(r["case"], w) for r in rows for w in r.get("warnings", [])]
    if warnings:
        lines += ["", "Warnings:", ""] + [f"- {c}: {w}" for c, w in warnings]
    lines += ["", "![stage times](benchmarks.png)"]
    return "\n".join(lines) + "\n"


def bench_plot(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """Stacked seconds-per-frame by stage for each case, with ffmpeg's as a marker."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    names = [r["case"] for r in rows]
    bottom = [0.0] * len(rows)
    for stage in STAGES:
        ms = [1000 * r["timings"].get(stage, 0.0) / max(1, r["frames"]) for r in rows]
        ax.barh(names, ms, left=bottom, label=stage)
        bottom = [b + m for b, m in zip(bottom, ms, strict=True)]
    ax.scatter([1000 * r["ffmpeg_s"] / max(1, r["frames"]) for r in rows], names, marker="|", s=300,
               color="black", label="ffmpeg transcode", zorder=3)
    ax.set_xlabel("ms per frame (stage times may overlap: decode/encode run in their own threads)")
    ax.legend(fontsize=8, loc="lower right")
    return save_figure(fig, path)


def write_bench(rows: list[dict[str, Any]], meta: dict[str, Any], out_dir: str | Path) -> dict[str, Path]:
    """Write benchmarks.json (this section's data), the markdown section and the plot into ``out_dir``."""
    out = Path(out_dir)
    return {
        "json": write_json(out / "benchmarks-swap.json", {"meta": meta, "cases": rows}),
        "plot": bench_plot(rows, out / "benchmarks.png"),
        "markdown": replace_section(out / "benchmarks.md", "bench", bench_markdown(rows, meta),
                                    header=HEADER),
    }
