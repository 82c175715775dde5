"""Fast tests of the web page's pieces: job folders, limits, option controls, selection, cleanup."""

from __future__ import annotations

import threading
import time
import typing
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from facegraft.errors import FacegraftError, MediaError, OptionsError
from facegraft.options import SwapOptions
from facegraft.web.config import WebConfig
from facegraft.web.controls import build_controls, control_specs, options_from_values
from facegraft.web.jobs import JobRoot, ModelPool
from facegraft.web.selection import (
    ALL,
    KEEP,
    check_target,
    composite_preview,
    default_assignments,
    describe,
    gallery_items,
    photo_choice,
    plan_swap,
    toggle,
)

# --- job folders -------------------------------------------------------------


def test_sessions_get_private_folders_under_the_root(tmp_path: Path) -> None:
    jobs = JobRoot(tmp_path)
    a, b = jobs.session("tab-a"), jobs.session("tab-b")
    assert jobs.session("tab-a") is a
    assert a.dir != b.dir
    for s in (a, b):
        assert s.dir.is_dir() and s.dir.resolve().is_relative_to(jobs.root)
        assert s.dir.stat().st_mode & 0o077 == 0, "session folders must not be readable by others"
    job = a.new_job()
    (job / "result.mp4").write_bytes(b"x")
    assert jobs.owns("tab-a", job / "result.mp4")
    assert not jobs.owns("tab-b", job / "result.mp4")
    assert not any(b.dir.iterdir()), "one session's files never appear in another's folder"
    with pytest.raises(FacegraftError):
        jobs.session(None)


def test_a_new_job_removes_the_previous_result_and_clears_cancel(tmp_path: Path) -> None:
    session = JobRoot(tmp_path).session("tab")
    first = session.new_job()
    (first / "out.mp4").write_bytes(b"x")
    session.cancel.set()
    second = session.new_job()
    assert not first.exists() and second.is_dir()
    assert not session.cancel.is_set()
    session.drop_job(second)
    assert not second.exists()


def test_closing_a_session_cancels_and_deletes_its_files(tmp_path: Path) -> None:
    jobs = JobRoot(tmp_path)
    session = jobs.session("tab")
    other = jobs.session("other")
    job = session.new_job()
    (job / "out.mp4").write_bytes(b"x")
    jobs.close("tab")
    assert session.cancel.is_set()
    assert not session.dir.exists()
    assert other.dir.is_dir()
    assert jobs.open_sessions == 1
    with pytest.raises(FacegraftError, match="reload"):
        session.new_job()
    jobs.close("never-opened")  # closing an unknown session is harmless


def test_cleanup_removes_the_app_root_but_not_its_parent(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    jobs = JobRoot(tmp_path)
    jobs.session("tab").new_job()
    assert jobs.root.parent == tmp_path.resolve()
    jobs.cleanup()
    assert not jobs.root.exists()
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_model_pool_builds_at_most_size_and_never_shares_one_at_a_time() -> None:
    built: list[object] = []
    in_use: set[int] = set()
    clashes: list[int] = []
    lock = threading.Lock()

    def factory() -> object:
        item = SimpleNamespace(closed=False, close=lambda: None)
        built.append(item)
        return item

    pool = ModelPool(2, factory)

    def job() -> None:
        with pool.borrow() as models:
            with lock:
                if id(models) in in_use:
                    clashes.append(id(models))
                in_use.add(id(models))
            time.sleep(0.02)
            with lock:
                in_use.discard(id(models))

    threads = [threading.Thread(target=job) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 1 <= len(built) <= 2
    assert not clashes


# --- limits --------------------------------------------------------------------


def _info(kind: str, width: int, height: int, duration: float) -> SimpleNamespace:
    return SimpleNamespace(kind=kind, width=width, height=height, duration=duration)


def test_limits_refuse_long_or_large_targets_with_a_clear_line() -> None:
    check_target(_info("video", 640, 360, 10.0), max_duration=10, max_side=640, name="ok.mp4")
    with pytest.raises(MediaError) as long:
        check_target(_info("video", 640, 360, 10.5), max_duration=10, max_side=0, name="talk.mp4")
    assert long.value.line() == ("talk.mp4: the video lasts 10.5 s, longer than this server accepts (10 s); "
                                 "trim it first")
    with pytest.raises(MediaError, match=r"big.png: 4000x3000 .* at most 2160 px"):
        check_target(_info("image", 4000, 3000, 0.0), max_duration=10, max_side=2160, name="big.png")
    check_target(_info("video", 8000, 8000, 1e6), max_duration=0, max_side=0, name="x.mp4")  # 0: no limit


def test_limits_apply_to_a_real_clip(tmp_path: Path) -> None:
    from facegraft.media import probe
    from facegraft.web.examples import write_zoom_clip

    grey = np.full((64, 64, 3), 90, np.uint8)
    clip = write_zoom_clip(grey, tmp_path / "c.mp4", fps=10, seconds=1.0, side=64)
    info = probe(clip)
    assert info.frame_count == 10
    check_target(info, max_duration=2, max_side=64, name="c.mp4")
    with pytest.raises(MediaError, match="trim"):
        check_target(info, max_duration=0.5, max_side=64, name="c.mp4")
    with pytest.raises(MediaError, match="scale it down"):
        check_target(info, max_duration=2, max_side=32, name="c.mp4")


def test_web_config_checks_its_values() -> None:
    assert WebConfig(max_upload_mb=1.5).max_file_size == int(1.5 * 1024 * 1024)
    for bad in ({"concurrency": 0}, {"max_upload_mb": 0}, {"max_duration": -1}, {"port": 70000}):
        with pytest.raises(OptionsError):
            WebConfig(**bad)


# --- options schema -> controls ----------------------------------------------


def test_every_ui_option_gets_a_control_of_its_type() -> None:
    hints = typing.get_type_hints(SwapOptions)
    specs = {s.name: s for s in control_specs()}
    expected = {f.name for f in SwapOptions.schema() if f.metadata["ui"] and f.metadata["group"] != "select"}
    assert set(specs) == expected
    for f in SwapOptions.schema():
        if f.name not in specs:
            continue
        spec, meta = specs[f.name], f.metadata
        assert spec.kwargs["label"] == meta["label"] and spec.kwargs["info"] == meta["help"]
        assert spec.kwargs["value"] == f.default
        if hints[f.name] is bool:
            assert spec.kind == "checkbox"
        elif meta["choices"]:
            assert spec.kind == "dropdown" and spec.kwargs["choices"] == list(meta["choices"])
        elif meta["min"] is not None and meta["max"] is not None:
            assert spec.kind == "slider"
            assert (spec.kwargs["minimum"], spec.kwargs["maximum"]) == (meta["min"], meta["max"])
            steps = (meta["max"] - meta["min"]) / spec.kwargs["step"]
            assert 10 <= steps <= 1000 or hints[f.name] is int


def test_control_values_round_trip_to_validated_options() -> None:
    specs = control_specs()
    defaults = [s.kwargs["value"] for s in specs]
    assert options_from_values(specs, defaults) == SwapOptions()
    values = [float(v) if s.value_type is int else v for s, v in zip(specs, defaults, strict=True)]
    crf = next(i for i, s in enumerate(specs) if s.name == "crf")
    values[crf] = 23.0  # sliders hand back floats
    opts = options_from_values(specs, values, select="identity", identities=(1,))
    assert opts.crf == 23 and isinstance(opts.crf, int)
    assert (opts.select, opts.identities) == ("identity", (1,))
    values[crf] = 99
    with pytest.raises(OptionsError, match="crf"):
        options_from_values(specs, values)


def test_gradio_components_carry_the_schema() -> None:
    import gradio as gr

    with gr.Blocks():
        controls = build_controls(control_specs())
    slider = controls["mask_blur"]
    assert isinstance(slider, gr.Slider)
    assert (slider.minimum, slider.maximum, slider.value) == (0.0, 0.5, 0.06)
    assert isinstance(controls["keep_eyes"], gr.Checkbox)
    assert isinstance(controls["blend"], gr.Dropdown) and controls["blend"].value == "feather"


# --- who is replaced -----------------------------------------------------------


def test_plan_fuses_all_photos_or_maps_photos_to_people() -> None:
    fused = plan_swap({0: ALL, 2: ALL, 1: KEEP}, ["a.jpg", "b.jpg"], [0, 1, 2])
    assert (fused.select, fused.identities, fused.sources) == ("identity", (0, 2), ("a.jpg", "b.jpg"))
    mapped = plan_swap({2: photo_choice(0), 0: photo_choice(1), 1: photo_choice(1)}, ["a.jpg", "b.jpg"],
                       [0, 1, 2])
    assert (mapped.select, mapped.identities) == ("map", (0, 1, 2))
    assert mapped.sources == ("b.jpg", "b.jpg", "a.jpg")
    assert set(mapped.groups) == {(("b.jpg",), (0, 1)), (("a.jpg",), (2,))}
    SwapOptions(select=mapped.select, identities=mapped.identities)  # the options accept the plan


@pytest.mark.parametrize(("assignments", "sources", "message"), [
    ({0: ALL}, [], "source photo"),
    ({}, ["a.jpg"], "pick at least one"),
    ({0: KEEP}, ["a.jpg"], "pick at least one"),
    ({5: ALL}, ["a.jpg"], "person 5"),
    ({0: ALL, 1: photo_choice(0)}, ["a.jpg"], "not a mix"),
    ({0: photo_choice(3)}, ["a.jpg"], "photo 4"),
])
def test_plan_explains_what_is_missing(assignments: dict[int, str], sources: list[str], message: str) -> None:
    with pytest.raises(FacegraftError, match=message):
        plan_swap(assignments, sources, [0, 1])


def test_gallery_clicks_toggle_and_mark_people() -> None:
    assert default_assignments([3, 1]) == {3: ALL} and default_assignments([]) == {}
    picked = toggle({}, 1)
    assert picked == {1: ALL} and toggle(picked, 1) == {}
    people = [SimpleNamespace(id=0, frames=40, thumbnail=np.zeros((8, 8, 3), np.uint8)),
              SimpleNamespace(id=1, frames=10, thumbnail=None)]
    items = gallery_items(people, 50, picked)
    assert [caption for _, caption in items] == ["Person 0 · 80%", "✓ Person 1 · 20%"]
    assert items[1][0].shape == (64, 64, 3)
    assert "Person 1" in describe(picked, ["a.jpg"]) and "a.jpg" in describe(picked, ["a.jpg"])


def test_preview_composite_changes_only_the_chosen_faces() -> None:
    frame = np.zeros((100, 200, 3), np.uint8)
    swapped = np.full_like(frame, 200)
    out = composite_preview(frame, swapped, [(20, 20, 60, 60)])
    assert out[40, 40].tolist() == [200, 200, 200]
    assert out[40, 150].tolist() == [0, 0, 0]
    assert out[:, 120:].max() == 0
    assert np.array_equal(composite_preview(frame, swapped, []), frame)


# --- the app as a whole ----------------------------------------------------------


def test_app_builds_with_example_and_cleans_up(tmp_path: Path) -> None:
    from facegraft.media import probe
    from facegraft.web.app import build_app

    app = build_app(WebConfig(root=tmp_path, max_upload_mb=5), models_factory=lambda: None)
    try:
        root = app.jobs.root
        kwargs = app.launch_kwargs()
        assert kwargs["allowed_paths"] == []  # the root is in the temp folder: no folder is served by path
        assert kwargs["max_file_size"] == 5 * 1024 * 1024
        assert app.example is not None
        assert app.example.source.stat().st_size > 10_000 and app.example.image.is_file()
        info = probe(app.example.video)
        assert (info.kind, info.frame_count) == ("video", 50)
        from facegraft.web.handlers import Handlers

        handlers = next(fn.fn.__self__ for fn in app.demo.fns.values()
                        if isinstance(getattr(fn.fn, "__self__", None), Handlers))
        session = handlers.jobs.session("tab")
        session.new_job()
        tab = SimpleNamespace(session_hash="tab")
        # Cancel with nothing running says so (instead of a "Cancelling…" that never ends) and arms nothing.
        assert handlers.cancel(tab).startswith("Nothing to cancel") and not session.cancel.is_set()
        session.running = True
        assert handlers.cancel(tab) == "Cancelling…" and session.cancel.is_set()
        handlers.unload(tab)  # the tab closed
        assert not session.dir.exists()
    finally:
        app.close()
    assert not root.exists()
    assert tmp_path.is_dir()


def test_cli_parses_web_flags() -> None:
    from facegraft.cli import build_parser

    args = build_parser().parse_args(["web", "--port", "7999", "--concurrency", "2", "--max-upload-mb", "50",
                                      "--max-duration", "30", "--max-side", "1280", "--no-example"])
    assert (args.port, args.concurrency, args.max_upload_mb, args.max_duration, args.max_side, args.example) \
        == (7999, 2, 50.0, 30.0, 1280, False)
    assert args.host == "127.0.0.1"


def test_handler_failures_reach_the_page_as_one_line(caplog: pytest.LogCaptureFixture) -> None:
    import gradio as gr

    from facegraft.web.handlers import progress_text, readable_errors

    @readable_errors
    def refuses() -> None:
        raise MediaError("the video lasts 9 s", "talk.mp4")

    @readable_errors
    def crashes() -> None:
        raise ZeroDivisionError("division by zero")

    with pytest.raises(gr.Error) as known:
        refuses()
    assert known.value.message == "talk.mp4: the video lasts 9 s"
    with pytest.raises(gr.Error) as unknown:
        crashes()
    assert "\n" not in unknown.value.message and "ZeroDivisionError" in unknown.value.message
    assert "Traceback" in caplog.text, "the server log keeps the stack trace"
    p = SimpleNamespace(stage="render", done=12, total=50, fps=6.0, eta_s=6.3)
    assert progress_text(p) == "render: 12/50 frames · 6.0 fps · 6 s left"
