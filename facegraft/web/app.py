"""The page's layout and wiring: :func:`build_app` and :func:`serve`.

The layout follows the work: photos and target on the left, the people found
in the target on the right, a one-frame before/after preview, the options
(generated from the schema), then Swap / Cancel and the result. All files go
under one app root that is also the only extra folder Gradio may serve.

Example:
    >>> from facegraft.web import WebConfig, serve
    >>> serve(WebConfig(port=7860))  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from .cache import gradio_cache_dir
from .config import WebConfig
from .controls import GROUP_TITLES, build_controls, control_specs
from .examples import Example, write_example
from .handlers import Handlers
from .jobs import JobRoot, ModelPool
from .live import LiveRoom, build_live_page

log = logging.getLogger(__name__)

TITLE = "facegraft: put a face from photos into a video"
INTRO = ("Upload one or more photos of a face and a target video or image, pick who to replace in the "
         "face gallery, preview a frame, then **Swap**. Everything runs on this server's CPU; your files "
         "are private to this browser tab and deleted, with the server's cached copies, when you close "
         "it.")
CSS = "#faces .caption-label {font-size: 0.8rem} #status {min-height: 2.5em}"


@dataclass
class App:
    """A built page and what it owns.

    Attributes:
        demo: the Gradio Blocks.
        jobs: the app root and its per-session folders.
        models: the face model pool.
        example: the example files, or None.
        config: the settings it was built with.
        live: the Live page's camera streams (facegraft/web/live.py).
    """

    demo: gr.Blocks
    jobs: JobRoot
    models: ModelPool
    example: Example | None
    config: WebConfig
    live: LiveRoom | None = None

    def launch_kwargs(self) -> dict[str, Any]:
        """Arguments of ``demo.launch``: address, limits, and no extra served folder when avoidable.

        Gradio copies what a handler returns into its own cache and serves only that copy, and it
        may take files from the system's temp folder. So with the job root there (the default), no
        folder is added to ``allowed_paths``: a job folder is then never served by path, and one
        session cannot fetch another's files even if it learnt the path. A root elsewhere
        (``--root``) must be allowed for Gradio to read the results at all.
        """
        return {"server_name": self.config.host, "server_port": self.config.port,
                "max_file_size": self.config.max_file_size, "allowed_paths": self.served_paths(),
                "show_error": True, "css": CSS, "theme": gr.themes.Soft(), "footer_links": []}

    def served_paths(self) -> list[str]:
        """Folders Gradio may serve directly: none when the job root lies in the temp folder."""
        temp = Path(tempfile.gettempdir()).resolve()
        root = self.jobs.root.resolve()
        return [] if root.is_relative_to(temp) else [str(root)]

    def close(self) -> None:
        """Stop the server (if launched), release the models, delete every file."""
        self.demo.close()
        if self.live is not None:
            self.live.close()
        self.models.close()
        self.jobs.cleanup()


def build_app(config: WebConfig, *, models_factory: Any = None) -> App:
    """Build the page (not yet listening).

    Args:
        config: server settings.
        models_factory: builds one face models object (tests may share one);
            ``facegraft.analysis.models.Models`` by default.
    """
    jobs = JobRoot(config.root, cache_dir=gradio_cache_dir())
    example = write_example(jobs.root / "example") if config.example else None
    models = ModelPool(config.concurrency, models_factory)
    specs = control_specs()
    handlers = Handlers(config, jobs, models, specs)
    limit = config.concurrency

    with gr.Blocks(title="facegraft", delete_cache=(900, 3600)) as demo:
        gr.Markdown(f"## {TITLE}\n{INTRO}")
        assignments = gr.State({})
        person = gr.State(None)
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=280):
                sources = gr.File(
                    value=[str(example.source)] if example else None, file_count="multiple",
                    file_types=["image"], label="1. Source photos (the face to put in)", elem_id="sources")
                target = gr.File(
                    value=str(example.video or example.image) if example else None, file_types=["video", "image"],
                    label="2. Target video or image", elem_id="target")
                limits = [f"uploads up to {config.max_upload_mb:g} MB"]
                if config.max_duration:
                    limits.append(f"videos up to {config.max_duration:g} s")
                if config.max_side:
                    limits.append(f"up to {config.max_side} px on the longer side")
                gr.Markdown("Limits on this server: " + ", ".join(limits) + ".")
                if example:
                    with gr.Row():
                        example_image = gr.Button("Example: photo", size="sm")
                        example_video = gr.Button("Example: video", size="sm",
                                                  visible=example.video is not None)
            with gr.Column(scale=3, min_width=320):
                gallery = gr.Gallery(label="3. People in the target: click to pick or un-pick",
                                     columns=4, fit_columns=False, height=210, allow_preview=False,
                                     object_fit="contain", elem_id="faces", interactive=False, buttons=[])
                found = gr.Markdown(elem_id="found")
                chosen = gr.Markdown(elem_id="chosen")
                replace_with = gr.Dropdown(label="Replaced with", visible=False, interactive=True,
                                           elem_id="replace-with")
                with gr.Row():
                    everyone = gr.Button("Everyone", size="sm")
                    nobody = gr.Button("Nobody", size="sm")
        with gr.Accordion("4. Preview one frame", open=True):
            with gr.Row():
                frame = gr.Slider(0, 1, value=0, step=1, label="Frame", visible=False, elem_id="frame")
                preview = gr.Button("Preview this frame", elem_id="preview", scale=0, min_width=180)
            with gr.Row():
                before = gr.Image(label="Before", interactive=False, height=300, elem_id="before",
                                  buttons=["fullscreen"])
                after = gr.Image(label="After", interactive=False, height=300, elem_id="after",
                                 buttons=["fullscreen", "download"])
        with gr.Accordion("Options", open=False):
            controls: dict[str, Any] = {}
            for group, title in GROUP_TITLES.items():
                group_specs = [s for s in specs if s.group == group]
                if group_specs:
                    gr.Markdown(f"**{title}**")
                    with gr.Row():
                        controls.update(build_controls(group_specs))
            rest = [s for s in specs if s.group not in GROUP_TITLES]
            if rest:
                controls.update(build_controls(rest))
        with gr.Row():
            swap = gr.Button("5. Swap", variant="primary", elem_id="swap")
            cancel = gr.Button("Cancel", variant="stop", elem_id="cancel", scale=0, min_width=120)
        status = gr.Markdown(elem_id="status")
        with gr.Row():
            result_video = gr.Video(label="Result", interactive=False, height=440, elem_id="result-video")
            result_image = gr.Image(label="Result", interactive=False, visible=False, height=440,
                                    elem_id="result-image")
        download = gr.DownloadButton("Download the result", visible=False, elem_id="download")

        control_list = [controls[s.name] for s in specs]
        handlers.bind(sources=sources, assignments=assignments, frame=frame, controls=control_list)
        selection_out = [gallery, assignments, person, replace_with, chosen]
        analyse_io = {"fn": handlers.analyse, "inputs": [target, sources],
                      "outputs": [*selection_out, frame, before, after, found],
                      "concurrency_limit": limit, "concurrency_id": "cpu"}
        target.change(**analyse_io)
        demo.load(**analyse_io)
        sources.change(handlers.sources_changed, [assignments, person, sources], selection_out)
        gallery.select(handlers.pick, [assignments, sources], selection_out)
        replace_with.input(handlers.reassign, [assignments, person, replace_with, sources], selection_out)
        everyone.click(handlers.pick_everyone, [sources], selection_out)
        nobody.click(handlers.pick_nobody, [sources], selection_out)
        frame.release(handlers.show_frame, [frame], [before])
        data_inputs = {sources, assignments, frame, *control_list}
        preview.click(handlers.preview, data_inputs, [before, after],
                      concurrency_limit=limit, concurrency_id="cpu")
        swap.click(handlers.render, data_inputs, [result_video, result_image, download, status],
                   concurrency_limit=limit, concurrency_id="cpu")
        cancel.click(handlers.cancel, None, [status], concurrency_limit=None)
        if example:
            example_image.click(lambda: ([str(example.source)], str(example.image)), None, [sources, target])
            if example.video is not None:
                example_video.click(lambda: ([str(example.source)], str(example.video)), None,
                                    [sources, target])
        demo.unload(handlers.unload)
    live = LiveRoom(cache=jobs.cache)
    with demo.route("Live", "/live"):
        build_live_page(demo, live, example_source=example.source if example else None, concurrency=limit)
    demo.queue(default_concurrency_limit=limit)
    return App(demo=demo, jobs=jobs, models=models, example=example, config=config, live=live)


def serve(config: WebConfig, *, block: bool = True) -> App:
    """Build the page and start listening on ``config.host:config.port``.

    Args:
        config: server settings.
        block: keep serving until interrupted (the CLI); False returns at once
            with the server running in the background (tests).
    """
    app = build_app(config)
    try:
        app.demo.launch(prevent_thread_lock=not block, quiet=not block, **app.launch_kwargs())
    except BaseException:
        app.close()
        raise
    if block:
        app.close()
    return app
