"""The live path: causal filters, the swap of a real clip frame by frame, frame dropping, the CLI."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest
from conftest import shared_file

from facegraft.evaluate.metrics import second_difference_energy
from facegraft.temporal import CausalSmoother, OneEuroFilter

FRAMES = 45


def _noisy_walk(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(times at 30 fps, a smooth 2-D path, the path with noise)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 30.0
    clean = np.stack([np.sin(2 * np.pi * 0.5 * t), 0.5 * np.cos(2 * np.pi * 0.3 * t)], axis=1)
    return t, clean, clean + rng.normal(0, 0.05, clean.shape)


def test_one_euro_is_causal():
    """The output at t is the same whatever comes after t."""
    t, _, x = _noisy_walk(120, 0)
    later = x.copy()
    later[60:] += 5.0 * np.random.default_rng(1).normal(size=later[60:].shape)
    runs = []
    for signal in (x, later):
        f = OneEuroFilter(min_cutoff=1.0, beta=0.5)
        runs.append(np.stack([f(v, ti) for v, ti in zip(signal, t, strict=True)]))
    np.testing.assert_array_equal(runs[0][:60], runs[1][:60])
    assert not np.allclose(runs[0][60:], runs[1][60:])


def test_one_euro_reduces_jitter_and_follows_the_signal():
    t, clean, x = _noisy_walk(300, 2)
    f = OneEuroFilter(min_cutoff=1.0, beta=2.0)
    y = np.stack([f(v, ti) for v, ti in zip(x, t, strict=True)])
    d2 = lambda a: float(np.mean(np.diff(a, 2, axis=0) ** 2))  # noqa: E731
    assert d2(y) < 0.25 * d2(x)
    assert np.sqrt(np.mean((y - clean) ** 2)) < np.sqrt(np.mean((x - clean) ** 2))


@pytest.fixture(scope="module")
def live_clip(tmp_path_factory):
    """The first 1.5 s of lp_drv_d10 as a 480x360 clip (360x360 picture, padded), like a webcam's shape."""
    from facegraft.media import VideoReader, VideoWriter, probe

    src = shared_file("videos/lp_drv_d10.mp4")
    out = tmp_path_factory.mktemp("live") / "cam.mp4"
    info = probe(src)
    with VideoReader(src, end=FRAMES) as reader, VideoWriter(out, like=info, crf=12) as writer:
        for frame in reader:
            canvas = np.zeros((360, 480, 3), np.uint8)
            canvas[:, 60:420] = cv2.resize(frame.image, (360, 360), interpolation=cv2.INTER_AREA)
            writer.write(canvas, pts=frame.pts, time_base=frame.time_base)
    return out


@pytest.fixture(scope="module")
def frames(live_clip):
    from facegraft.media import VideoReader

    with VideoReader(live_clip) as reader:
        return [(f.image, f.time) for f in reader]


@pytest.fixture(scope="module")
def swapper(models):
    from facegraft.live import LiveSwapper

    with LiveSwapper([shared_file("images/fr_obama.jpg")], models=models) as live:
        yield live


def test_causal_smoother_on_a_real_mesh_is_causal_and_reduces_jitter(models, frames):
    """Pose-normalised One-Euro smoothing of a moving, jittering real mesh."""
    face = models.detector.detect(frames[0][0])[0]
    rng = np.random.default_rng(3)
    n = 60
    track = []
    for i in range(n):
        a = 0.15 * np.sin(i / 12)
        rot = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
        lm = (face.landmarks - 240) @ rot.T + 240 + [2.0 * i, 0, 0]
        track.append(lm + rng.normal(0, 1.0, lm.shape))
    t = np.arange(n) / 30.0
    runs = []
    for changed in (False, True):
        smoother = CausalSmoother(0.5)
        seq = [lm + (rng.normal(0, 8.0, lm.shape) if changed and i >= 30 else 0) for i, lm in enumerate(track)]
        runs.append(np.stack([smoother.update(lm, ti)[0] for lm, ti in zip(seq, t, strict=True)]))
    np.testing.assert_array_equal(runs[0][:30], runs[1][:30])
    assert second_difference_energy(runs[0]) < 0.5 * second_difference_energy(np.stack(track))


def test_live_swaps_every_frame_with_the_face_in_view(models, swapper, frames):
    """Frame by frame (none dropped): every frame swapped, no fall-back, and the faces look like the source."""
    from facegraft.evaluate.identity import distance, largest_face, source_embeddings

    swapper.reset()
    outs = [swapper.process(image, timestamp=ts) for image, ts in frames]
    assert all(o.info.face_found for o in outs)
    assert [o.info.index for o in outs] == list(range(len(frames)))
    assert sum(o.info.fallback for o in outs) == 0
    assert all(o.info.swapped and o.landmarks is not None for o in outs)
    assert all(o.image.shape == frames[0][0].shape for o in outs)
    src = source_embeddings([shared_file("images/fr_obama.jpg")], models)[0]
    closer = []
    for k in range(0, len(frames), 11):
        orig, out = frames[k][0], outs[k].image
        a, b = largest_face(models.detector.detect(orig)), largest_face(models.detector.detect(out))
        assert a is not None and b is not None
        emb = models.embedder.embed(out, b)
        closer.append(distance(emb, src) < distance(emb, models.embedder.embed(orig, a)))
    assert all(closer), closer
    # The input frames were not painted on.
    assert not np.array_equal(outs[10].image, frames[10][0])


def test_runner_drops_frames_rather_than_lagging(swapper, frames):
    """Frames fed far faster than they are processed: the newest wins, latency does not pile up."""
    from facegraft.live import LiveRunner

    swapper.reset()
    seen = []
    runner = LiveRunner(swapper, on_frame=seen.append)
    fed = []
    deadline = time.perf_counter() + 20.0
    while len(seen) < 12 and time.perf_counter() < deadline:
        k = len(fed)
        runner.submit(frames[k % len(frames)][0], timestamp=k / 30.0)
        fed.append(k / 30.0)
        time.sleep(0.003)
    runner.drain()
    stats = runner.close()
    assert stats.received == len(fed)
    assert stats.processed + stats.dropped == stats.received
    assert stats.processed == len(seen) and stats.received > 3 * stats.processed
    # In order, and the last frame submitted is the last one delivered (the newest frame won).
    stamps = [o.info.timestamp for o in seen]
    assert stamps == sorted(stamps) and stamps[-1] == fed[-1]
    # A queue would make the k-th frame wait for every frame before it (latency growing with k);
    # with one slot a frame waits at most for the frames in progress.
    work = max(o.info.done - o.info.started for o in seen)
    assert all(o.info.started - o.info.received < 2 * work + 0.05 for o in seen)
    assert stats.latency_max_ms < 1000.0 * (3 * work + 0.05)


def test_cli_live_records_a_valid_file(live_clip, tmp_path, capsys):
    from facegraft.cli import main
    from facegraft.media import probe

    out = tmp_path / "rec.mp4"
    rc = main(["live", "-s", str(shared_file("images/fr_obama.jpg")), "--input", str(live_clip),
               "--output", str(out), "-q"])
    assert rc == 0
    info = probe(out)
    assert (info.width, info.height) == (480, 360)
    assert 10 <= info.frame_count <= FRAMES
    assert "wrote" in capsys.readouterr().out


@pytest.mark.parametrize("kind", ["missing", "text", "image"])
def test_cli_live_bad_input_exits_2_with_one_line(kind, tmp_path, capsys):
    from facegraft.cli import main

    bad = tmp_path / ("frame.png" if kind == "image" else "clip.mp4")
    if kind == "text":
        bad.write_text("not a video")
    elif kind == "image":
        cv2.imwrite(str(bad), np.zeros((32, 32, 3), np.uint8))
    out = tmp_path / "rec.mp4"
    rc = main(["live", "-s", str(shared_file("images/fr_obama.jpg")), "--input", str(bad), "--output", str(out)])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1 and str(bad) in err
    assert not out.exists()


def test_reference_photo_picks_the_person_and_a_stranger_is_left_alone(models, frames):
    """With a reference, the matching face is swapped (after its background embedding); another person's
    reference swaps nothing, and that is no fall-back."""
    from facegraft.live import LiveSwapper

    source = shared_file("images/fr_obama.jpg")
    for reference, wanted in ((frames[-1][0], True), (shared_file("images/fr_biden.jpg"), False)):
        with LiveSwapper([source], models=models, reference=reference) as live:
            outs = []
            for image, ts in frames[:20]:
                outs.append(live.process(image, timestamp=ts))
                time.sleep(0.02)  # real time: the embedding thread gets its turn
        swapped = [o.info.swapped for o in outs]
        if wanted:
            assert all(swapped[5:]), swapped
        else:
            assert not any(swapped) and not any(o.info.fallback for o in outs)
