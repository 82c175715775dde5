"""The benchmark: swap speed on standard cases, against a plain ffmpeg transcode.

Each case runs :func:`facegraft.swap_video` in its own subprocess, so its peak
memory (the child's own ``ru_maxrss``) and its model loading are measured in
isolation. In the same run the same clip is transcoded by the ``ffmpeg`` CLI
with the same H.264 settings: the ratio of the two is the cost of the swap
over "just re-encoding", which stays meaningful across machines.

Example:
    $ facegraft bench --cases 512-talking-head --out docs/
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FacegraftError
from ..options import SwapOptions


@dataclass(frozen=True)
class Case:
    """A benchmark case: a target clip made from shared media, a source and a selection rule.

    Attributes:
        name: short id used on the command line and in the table.
        clip: video under ``../shared/data/videos``.
        seconds: trim length (0 keeps the whole clip).
        vf: ffmpeg video filter that makes the case's frame size (None keeps it).
        source: a photo under ``../shared/data/images`` or ``builtin:astronaut`` /
            ``builtin:grace_hopper``.
        select: the swap's selection rule.
    """

    name: str
    clip: str
    seconds: float
    vf: str | None
    source: str
    select: str = "auto"


CASES = (
    Case("720p-one-face", "lp_drv_d10.mp4", 5.0, "scale=720:720:flags=bicubic,pad=1280:720:280:0,setsar=1",
         "fr_obama.jpg"),
    Case("1080p-crowd", "facenet_video_crowd_1080p.mp4", 0.0, None, "lp_src_s1.jpg", select="all"),
    Case("512-talking-head", "lp_drv_d3.mp4", 5.0, None, "builtin:astronaut"),
)


def shared_data() -> Path:
    """``../shared/data`` beside the project."""
    return Path(__file__).resolve().parents[3] / "shared" / "data"


def resolve_source(spec: str) -> str | np.ndarray:
    """A source path, or the RGB array of a built-in example photo."""
    if spec == "builtin:astronaut":
        from skimage import data

        return np.ascontiguousarray(data.astronaut())
    if spec == "builtin:grace_hopper":
        import matplotlib.cbook
        from PIL import Image

        with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as fh:
            return np.asarray(Image.open(fh).convert("RGB"))
    path = Path(spec) if Path(spec).is_absolute() else shared_data() / "images" / spec
    if not path.exists():
        raise FacegraftError("benchmark source photo not found", path)
    return str(path)


def ffmpeg() -> str:
    """The ffmpeg executable (the baseline needs it)."""
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise FacegraftError("ffmpeg is not installed; the benchmark compares against it")
    return exe


def make_clip(case: Case, folder: Path) -> Path:
    """The case's target clip (cut and scaled from shared media with near-lossless H.264, audio kept)."""
    src = shared_data() / "videos" / case.clip
    if not src.exists():
        raise FacegraftError("benchmark clip not found", src)
    out = folder / f"{case.name}.mp4"
    if out.exists():
        return out
    cmd = [ffmpeg(), "-v", "error", "-y", "-i", str(src)]
    if case.seconds:
        cmd += ["-t", str(case.seconds)]
    if case.vf:
        cmd += ["-vf", case.vf]
    cmd += ["-c:v", "libx264", "-crf", "12", "-preset", "fast", "-pix_fmt", "yuv420p", "-c:a", "aac",
            str(out)]
    subprocess.run(cmd, check=True)
    return out


def ffmpeg_transcode(clip: Path, out: Path, options: SwapOptions) -> float:
    """Seconds for ffmpeg to decode and re-encode the clip with the swap's encoder settings."""
    cmd = [ffmpeg(), "-v", "error", "-y", "-i", str(clip), "-c:v", "libx264", "-crf", str(options.crf),
           "-preset", options.preset, "-pix_fmt", "yuv420p", "-c:a", "copy", str(out)]
    t = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - t


def run_child(case: Case, clip: Path, output: Path) -> dict[str, Any]:
    """Run one swap in a fresh Python process; returns its report, timings and peak memory."""
    cmd = [sys.executable, "-m", "facegraft.evaluate.bench", json.dumps(
        {"case": asdict(case), "clip": str(clip), "output": str(output)})]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"
        raise FacegraftError(f"benchmark case {case.name} failed: {tail}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _child(spec: dict[str, Any]) -> dict[str, Any]:
    """Body of the subprocess: load models, swap, report."""
    import facegraft
    from facegraft.analysis.models import Models

    case = Case(**spec["case"])
    options = SwapOptions(select=case.select, overwrite=True)  # type: ignore[arg-type]
    t = time.perf_counter()
    models = Models()
    load = time.perf_counter() - t
    source = resolve_source(case.source)
    t = time.perf_counter()
    report = facegraft.swap_video([source], spec["clip"], spec["output"], options, models=models)
    wall = time.perf_counter() - t
    return {"frames": report.frames, "frames_swapped": report.frames_swapped, "timings": report.timings,
            "warnings": report.warnings, "wall_s": wall, "load_s": load,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run_case(case: Case, folder: Path, *, evaluate: bool = False, models: Any = None,
             gallery: Any = None) -> dict[str, Any]:
    """Time one case: the swap (subprocess), the ffmpeg baseline, optionally the quality metrics."""
    from ..media import probe

    clip = make_clip(case, folder)
    info = probe(clip)
    options = SwapOptions(select=case.select)  # type: ignore[arg-type]
    base_s = ffmpeg_transcode(clip, folder / f"{case.name}.ffmpeg.mp4", options)
    out = folder / f"{case.name}.swap.mp4"
    child = run_child(case, clip, out)
    swap_s = float(child["timings"].get("total", child["wall_s"]))
    row: dict[str, Any] = {
        "case": case.name, "clip": case.clip, "source": case.source, "select": case.select,
        "width": info.width, "height": info.height, "frames": child["frames"],
        "frames_swapped": child["frames_swapped"], "swap_s": swap_s,
        "fps": child["frames"] / swap_s if swap_s > 0 else None,
        "ffmpeg_s": base_s, "ffmpeg_fps": info.frame_count / base_s if base_s > 0 else None,
        "ratio_to_ffmpeg": swap_s / base_s if base_s > 0 else None,
        "load_s": child["load_s"], "peak_rss_mb": child["peak_rss_mb"], "timings": child["timings"],
        "warnings": child["warnings"],
    }
    if evaluate:
        from .evaluate import evaluate_swap

        result = evaluate_swap([resolve_source(case.source)], clip, out, options=options, models=models,
                               gallery=gallery, keep_frames=False)
        row["eval"] = {k: result[k] for k in ("identity", "pose", "expression", "temporal", "fallback",
                                              "fidelity")}
    return row


if __name__ == "__main__":
    print(json.dumps(_child(json.loads(sys.argv[1]))))
