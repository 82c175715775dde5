"""What the page's buttons do: analyse a target, pick people, preview a frame, render, cancel.

:class:`Handlers` holds the server's shared pieces (settings, job folders,
model pool) and nothing per visitor: a visitor's files and analysis live in
their :class:`~facegraft.web.jobs.Session`, found by Gradio's session id. Every
handler turns a :class:`~facegraft.errors.FacegraftError` into a
``gr.Error`` with its one-line message; anything unexpected is logged with
its stack trace on the server and shown to the visitor as one line.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import gradio as gr
import numpy as np

from ..errors import FacegraftError
from .config import WebConfig
from .controls import ControlSpec, options_from_values
from .jobs import JobRoot, ModelPool, Session
from .selection import (
    KEEP,
    check_target,
    composite_preview,
    default_assignments,
    describe,
    gallery_items,
    plan_swap,
    source_choices,
    toggle,
    upload_name,
)

log = logging.getLogger(__name__)
T = TypeVar("T")


def readable_errors(fn: Callable[..., T]) -> Callable[..., T]:
    """Show failures as one line in the page, never a stack trace."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except FacegraftError as exc:
            raise gr.Error(exc.line(), print_exception=False) from exc
        except Exception as exc:
            config = getattr(args[0], "config", None) if args else None
            if getattr(config, "log_uploads", False):
                log.exception("unexpected failure in %s", fn.__name__)
            else:  # the message may name the visitor's file: the frames say where, not what
                frames = "".join(f'\n  File "{f.filename}", line {f.lineno}, in {f.name}'
                                 for f in traceback.extract_tb(exc.__traceback__))
                log.error("unexpected failure in %s (its message is not logged; --log-uploads logs it)\n"
                          "Traceback (most recent call last):%s\n%s", fn.__name__, frames, type(exc).__name__)
            raise gr.Error(f"unexpected failure ({type(exc).__name__}: {exc}); the server log has the "
                           "details", print_exception=False) from exc

    return wrapper


def run_reporting(work: Callable[[Callable[[Any], None]], T], report: Callable[[Any], None],
                  *, every: float = 0.25) -> T:
    """Run ``work(callback)`` in a thread and hand its latest progress to ``report`` from this one.

    The pipeline may call its progress callback from any of its threads, while
    ``gr.Progress`` only works in the handler's own thread; polling here
    bridges the two and rate-limits updates to the browser.
    """
    latest: list[Any] = []
    outcome: dict[str, Any] = {}

    def note(*args: Any) -> None:  # Progress(...) from swap_video, (done, total) from analyse_faces
        value = args[0] if len(args) == 1 else args
        if latest:
            latest[0] = value
        else:
            latest.append(value)

    def target() -> None:
        try:
            outcome["value"] = work(note)
        except BaseException as exc:  # handed back to the caller's thread below
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="facegraft-web-job", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(every)
        if latest:
            report(latest[0])
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def progress_text(p: Any) -> str:
    """E.g. "render: 120/300 frames · 6.2 fps · 29 s left"."""
    text = f"{p.stage}: {p.done}/{p.total} frames" if p.total else f"{p.stage}: {p.done} frames"
    if getattr(p, "fps", 0):
        text += f" · {p.fps:.1f} fps"
    if getattr(p, "eta_s", None) is not None:
        text += f" · {p.eta_s:.0f} s left"
    return text


def _paths(files: Any) -> list[str]:
    if not files:
        return []
    items = files if isinstance(files, list | tuple) else [files]
    return [str(getattr(f, "name", f)) for f in items]


class Handlers:
    """The page's event handlers, sharing settings, job folders and models.

    Args:
        config: the server's settings (limits).
        jobs: the per-session folders.
        models: the pool of face models.
        specs: the option controls, in the order their values arrive.
    """

    def __init__(self, config: WebConfig, jobs: JobRoot, models: ModelPool, specs: Sequence[ControlSpec]):
        self.config = config
        self.jobs = jobs
        self.models = models
        self.specs = list(specs)
        self.inputs: dict[str, Any] = {}

    def bind(self, **components: Any) -> None:
        """Name the components whose values arrive in the ``data`` dict of preview and render.

        Gradio hands a handler given a set of inputs one dict keyed by
        component; naming them here keeps the handlers readable and lets
        the option controls be any number.
        """
        self.inputs = components

    def _unpack(self, data: dict[Any, Any]) -> dict[str, Any]:
        values = {name: data.get(comp) for name, comp in self.inputs.items() if name != "controls"}
        values["values"] = [data.get(comp) for comp in self.inputs["controls"]]
        return values

    def _session(self, request: gr.Request | None) -> Session:
        return self.jobs.session(getattr(request, "session_hash", None))

    # Gradio caches every upload and a copy of everything a handler returns (facegraft/web/cache.py):
    # the uploads a handler receives are recorded, and what it returns is put in the cache here, so
    # that all of them are deleted when the session ends.
    def _keep(self, session: Session, *files: Any) -> None:
        if self.jobs.cache is not None:
            self.jobs.cache.hold(session.id, [p for f in files for p in _paths(f)])

    def _image(self, session: Session, image: np.ndarray | None) -> Any:
        if image is None or self.jobs.cache is None:
            return image
        return self.jobs.cache.publish_image(session.id, image)

    def _file(self, session: Session, path: Path) -> str:
        return str(path) if self.jobs.cache is None else self.jobs.cache.publish_file(session.id, path)

    def _gallery(self, session: Session, items: list[tuple[np.ndarray, str]]) -> list[tuple[Any, str]]:
        return [(self._image(session, thumb), caption) for thumb, caption in items]

    # --- target analysis and the face gallery -------------------------------
    @readable_errors
    def analyse(self, target: Any, sources: Any, request: gr.Request, progress: gr.Progress = gr.Progress()  # noqa: B008 (Gradio finds it by default)
                ) -> tuple[Any, ...]:
        """Find the people in a new target: gallery, default choice, frame slider, first frame."""
        from ..analysis.analyse import analyse_faces
        from ..media import probe
        from ..media.limits import FrameLimits

        session = self._session(request)
        session.target, session.analysis = None, None
        self._keep(session, target, sources)
        paths = _paths(target)
        if not paths:
            return self._empty_target()
        path = paths[0]
        try:
            info = probe(path, limits=FrameLimits())  # a decompression bomb is refused from its header
            check_target(info, max_duration=self.config.max_duration, max_side=self.config.max_side,
                         name=upload_name(path))
        except FacegraftError as exc:
            # Refused uploads are expected: say why in the page and in a toast, and clear the
            # target's outputs rather than marking them all as failed.
            if self.config.log_uploads:
                log.info("refused upload: %s", exc.line())
            gr.Warning(exc.line(), title="This file cannot be used")
            return self._empty_target(f"⚠ {exc.line()}")
        progress(0, desc="finding faces")
        with self.models.borrow() as models:
            analysis = run_reporting(
                lambda cb: analyse_faces(path, models=models, progress=cb),
                lambda p: progress((int(p[0]), int(p[1]) or None), desc="finding faces", unit="frames"))
        session.target, session.analysis = path, analysis
        ids = [ident.id for ident in analysis.identities]
        assignments = default_assignments(ids)
        frame = analysis.identities[0].first_frame if ids else 0
        names = [upload_name(p) for p in _paths(sources)]
        found = (f"Found {len(ids)} {'person' if len(ids) == 1 else 'people'} in {upload_name(path)} "
                 f"({info.width}x{info.height}, {info.frame_count} frame{'s' * (info.frame_count > 1)}). "
                 "Click a face to pick or un-pick it.") if ids else \
            f"No face found in {upload_name(path)}: there is nobody to replace."
        return (
            gr.Gallery(value=self._gallery(session, gallery_items(analysis.identities, info.frame_count,
                                                                  assignments))),
            assignments,
            ids[0] if ids else None,
            self._replace_dropdown(ids[0] if ids else None, assignments, names),
            describe(assignments, names),
            gr.Slider(minimum=0, maximum=max(1, info.frame_count - 1), value=frame,
                      visible=info.frame_count > 1, interactive=True),
            self._image(session, self._frame(path, frame)),
            None,
            found,
        )

    def _empty_target(self, message: str = "Upload a target video or image.") -> tuple[Any, ...]:
        return (gr.Gallery(value=[]), {}, None, gr.Dropdown(visible=False), describe({}, []),
                gr.Slider(visible=False), None, None, message)

    @staticmethod
    def _replace_dropdown(person: int | None, assignments: dict[int, str], names: list[str]) -> Any:
        if person is None:
            return gr.Dropdown(visible=False)
        return gr.Dropdown(choices=source_choices(names), value=assignments.get(person, KEEP),
                           label=f"Person {person} is replaced with", visible=True)

    @readable_errors
    def pick(self, assignments: dict[int, str], sources: Any, evt: gr.SelectData, request: gr.Request
             ) -> tuple[Any, ...]:
        """Gallery click: toggle that person and show their "replace with" choice."""
        session = self._session(request)
        if session.analysis is None:
            raise FacegraftError("upload a target first")
        person = session.analysis.identities[int(evt.index)].id
        assignments = toggle(assignments or {}, person)
        return self._selection_outputs(session, assignments, person, sources)

    @readable_errors
    def reassign(self, assignments: dict[int, str], person: int | None, choice: str, sources: Any,
                 request: gr.Request) -> tuple[Any, ...]:
        """The "replace with" dropdown changed for the current person."""
        session = self._session(request)
        assignments = dict(assignments or {})
        if person is not None and choice:
            assignments[person] = choice
            if choice == KEEP:
                assignments.pop(person)
        return self._selection_outputs(session, assignments, person, sources)

    @readable_errors
    def pick_everyone(self, sources: Any, request: gr.Request) -> tuple[Any, ...]:
        """The "Everyone" button: every person found, with all photos."""
        return self._pick_all(True, sources, request)

    @readable_errors
    def pick_nobody(self, sources: Any, request: gr.Request) -> tuple[Any, ...]:
        """The "Nobody" button."""
        return self._pick_all(False, sources, request)

    def _pick_all(self, everyone: bool, sources: Any, request: gr.Request) -> tuple[Any, ...]:
        session = self._session(request)
        ids = [i.id for i in session.analysis.identities] if session.analysis is not None else []
        assignments = {i: "all" for i in ids} if everyone else {}
        return self._selection_outputs(session, assignments, ids[0] if ids else None, sources)

    def sources_changed(self, assignments: dict[int, str], person: int | None, sources: Any,
                        request: gr.Request) -> tuple[Any, ...]:
        """New photos: refresh the "replace with" choices (photo numbers may have changed)."""
        return self._selection_outputs(self._session(request), assignments or {}, person, sources)

    def _selection_outputs(self, session: Session, assignments: dict[int, str], person: int | None,
                           sources: Any) -> tuple[Any, ...]:
        self._keep(session, sources)
        names = [upload_name(p) for p in _paths(sources)]
        analysis = session.analysis
        items = gallery_items(analysis.identities, analysis.info.frame_count, assignments) if analysis else []
        items = self._gallery(session, items)
        return (gr.Gallery(value=items), assignments, person,
                self._replace_dropdown(person, assignments, names), describe(assignments, names))

    # --- preview -------------------------------------------------------------
    def _frame(self, path: str, index: int) -> np.ndarray:
        from ..media import VideoReader, is_image, read_image

        if is_image(path):
            return read_image(path)
        with VideoReader(path, start=int(index), end=int(index) + 1) as reader:
            for frame in reader:
                return frame.image
        raise FacegraftError(f"frame {index} could not be decoded", upload_name(path))

    @readable_errors
    def show_frame(self, index: float, request: gr.Request) -> Any:
        """The slider moved: show the original frame at once (the preview is a button away)."""
        session = self._session(request)
        if session.target is None:
            return None
        return self._image(session, self._frame(session.target, int(index or 0)))

    @readable_errors
    def preview(self, data: dict[Any, Any], request: gr.Request) -> tuple[Any, Any]:
        """Swap one frame (before, after): the chosen people only, in about a second."""
        from .. import swap_image

        session = self._session(request)
        if session.analysis is None or session.target is None:
            raise FacegraftError("upload a target first")
        data = self._unpack(data)
        self._keep(session, data["sources"])
        index = int(data["frame"] or 0)
        plan = plan_swap(data["assignments"] or {}, _paths(data["sources"]),
                         [i.id for i in session.analysis.identities])
        options = options_from_values(self.specs, data["values"], select="all")
        frame = self._frame(session.target, index)
        faces = session.analysis.frames[index] if index < len(session.analysis.frames) else []
        out = frame
        with self.models.borrow() as models:
            for group_sources, people in plan.groups:
                boxes = [f.bbox for f in faces if f.identity_id in people]
                if boxes:
                    swapped = swap_image(list(group_sources), frame, options=options, models=models)
                    out = composite_preview(out, swapped, boxes)
        if out is frame:
            gr.Info(f"none of the chosen people is in frame {index}; move the slider")
        return self._image(session, frame), self._image(session, out)

    # --- render --------------------------------------------------------------
    @readable_errors
    def render(self, data: dict[Any, Any], request: gr.Request, progress: gr.Progress = gr.Progress()  # noqa: B008 (Gradio finds it by default)
               ) -> tuple[Any, ...]:
        """Swap the whole target with progress; the result plays in the page and downloads."""
        from .. import swap_video
        from ..media import is_image

        session = self._session(request)
        if session.analysis is None or session.target is None:
            raise FacegraftError("upload a target first")
        target = session.target
        data = self._unpack(data)
        self._keep(session, data["sources"])
        plan = plan_swap(data["assignments"] or {}, _paths(data["sources"]),
                         [i.id for i in session.analysis.identities])
        options = options_from_values(self.specs, data["values"], select=plan.select,
                                      identities=plan.identities, max_side=self.config.max_side,
                                      max_duration=self.config.max_duration, overwrite=True)
        image = is_image(target)
        suffix = ".png" if image else (".webm" if options.codec == "vp9" else ".mp4")
        job = session.new_job()
        output = job / f"{Path(upload_name(target)).stem}-facegraft{suffix}"
        progress(0, desc="starting")
        started = time.perf_counter()
        session.running = True
        try:
            with self.models.borrow() as models:
                report = run_reporting(
                    lambda cb: swap_video(list(plan.sources), target, output, options, models=models,
                                          progress=cb, cancel=session.cancel, analysis=session.analysis),
                    lambda p: progress((p.done, p.total or None), desc=progress_text(p), unit="frames"))
        except FacegraftError:
            session.drop_job(job)
            if not session.cancel.is_set():
                raise
            gr.Info("Cancelled; nothing was kept.")
            return self._no_result("Cancelled.")
        except BaseException:
            session.drop_job(job)
            raise
        finally:
            session.running = False
        seconds = time.perf_counter() - started
        status = (f"Done in {seconds:.1f} s: {report.frames_swapped} of {report.frames} "
                  f"frame{'s' * (report.frames > 1)} swapped")
        status += "." if image else f" ({report.frames / max(seconds, 1e-6):.1f} fps)."
        for warning in report.warnings:
            status += f"\n\n⚠ {warning}"
        if not image and options.codec != "h264":
            status += f"\n\nBrowsers may not play {options.codec}; use Download."
        result = self._file(session, report.output)
        return (gr.Video(value=result if not image else None, visible=not image),
                gr.Image(value=result if image else None, visible=image),
                gr.DownloadButton(value=result, visible=True), status)

    @staticmethod
    def _no_result(status: str) -> tuple[Any, ...]:
        return (gr.Video(value=None), gr.Image(value=None), gr.DownloadButton(visible=False), status)

    def cancel(self, request: gr.Request) -> str:
        """Cancel button: the running swap stops at its next frame and leaves nothing behind."""
        session = self._session(request)
        if not session.running:
            return "Nothing to cancel: no swap is running."
        session.cancel.set()
        return "Cancelling…"

    def unload(self, request: gr.Request) -> None:
        """The tab closed or reloaded: stop its job and delete its files now."""
        self.jobs.close(getattr(request, "session_hash", None))
