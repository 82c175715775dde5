"""Container checks: did the output keep every frame, its timestamps and the audio?

Read by demuxing packets only (no decoding), so it costs milliseconds even for
long files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..media.probe import open_input


def stream_times(path: str | Path) -> dict[str, Any]:
    """Video frame times and audio extent of a file, from its packets.

    Returns:
        ``{"frames", "pts" (sorted seconds of the video frames), "duration",
        "fps", "width", "height", "video_codec", "has_audio", "audio_codec",
        "audio_duration"}``; durations in seconds.
    """
    with open_input(path) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        streams = [video] + ([audio] if audio is not None else [])
        pts: list[float] = []
        last_video_dur = 0.0
        a_start, a_end = None, None
        for packet in container.demux(*streams):
            if packet.pts is None or packet.size == 0:
                continue
            t = float(packet.pts * packet.time_base)
            dur = float((packet.duration or 0) * packet.time_base)
            if packet.stream.type == "video":
                pts.append(t)
                last_video_dur = dur
            else:
                a_start = t if a_start is None else min(a_start, t)
                a_end = t + dur if a_end is None else max(a_end, t + dur)
        pts.sort()
        width, height = video.codec_context.width, video.codec_context.height
        codec = video.codec_context.name
        audio_codec = audio.codec_context.name if audio is not None else None
    duration = (pts[-1] - pts[0] + last_video_dur) if pts else 0.0
    return {
        "frames": len(pts), "pts": pts, "duration": duration,
        "fps": (len(pts) / duration) if duration > 0 else 0.0,
        "width": width, "height": height, "video_codec": codec,
        "has_audio": audio is not None, "audio_codec": audio_codec,
        "audio_duration": (a_end - a_start) if a_start is not None and a_end is not None else 0.0,
    }


def compare_containers(target: str | Path, output: str | Path) -> dict[str, Any]:
    """Frame count, timestamps, duration and audio of the output against the target.

    Timestamps are compared relative to each file's first frame (a muxer may
    shift the start), to the nearest 0.5 ms.
    """
    t, o = stream_times(target), stream_times(output)
    n = min(t["frames"], o["frames"])
    t0 = t["pts"][0] if t["pts"] else 0.0
    o0 = o["pts"][0] if o["pts"] else 0.0
    diffs = [abs((o["pts"][i] - o0) - (t["pts"][i] - t0)) for i in range(n)]
    max_diff = max(diffs, default=0.0)
    strip = ("frames", "duration", "fps", "width", "height", "video_codec", "has_audio", "audio_codec",
             "audio_duration")
    return {
        "target": {k: t[k] for k in strip},
        "output": {k: o[k] for k in strip},
        "frames_match": t["frames"] == o["frames"],
        "pts_match": t["frames"] == o["frames"] and max_diff < 5e-4,
        "max_pts_diff_s": max_diff,
        "duration_diff_s": o["duration"] - t["duration"],
        "audio_match": t["has_audio"] == o["has_audio"],
        "audio_duration_diff_s": o["audio_duration"] - t["audio_duration"],
    }


__all__ = ["compare_containers", "stream_times"]
