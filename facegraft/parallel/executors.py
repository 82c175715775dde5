"""Executors: where segments are rendered, behind one small protocol.

* ``local``: in this process, one segment after another (tests, debugging);
* ``process``: a :class:`~concurrent.futures.ProcessPoolExecutor` of
  ``workers`` spawned processes on this machine;
* ``ray``: Ray tasks, on a local Ray started for the job or on the cluster
  at ``ray_address`` (``pip install facegraft[ray]``).

An executor is a context manager with one method, ``run(tasks, progress)``,
that leaves each task's segment file at ``task.path`` and returns the
:class:`~facegraft.parallel.worker.SegmentOutput` list in task order.
``progress(segment_index, frames_done)`` is called as work advances and at
least every :data:`POLL_S` seconds; whatever it raises (the user's
cancellation) stops every worker, removes their partial files and is
re-raised. Leaving the ``with`` block releases the workers.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import queue
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from ..errors import Cancelled, OptionsError
from ..options import SwapOptions
from .worker import SegmentOutput, SegmentTask, render_segment

ProgressFn = Callable[[int, int], None]

#: Longest wait between two progress calls (so a cancel is noticed promptly).
POLL_S = 0.2
#: Pool workers report progress every this many frames.
REPORT_EVERY = 4


class Executor(Protocol):
    """Runs segment tasks somewhere and hands back their files."""

    def __enter__(self) -> Executor: ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...

    def run(self, tasks: Sequence[SegmentTask], progress: ProgressFn) -> list[SegmentOutput]:
        """Render every task; ``progress(i, frames)`` as segment ``i`` advances."""
        ...


class _Closing:
    def __enter__(self) -> Any:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Release the workers."""


class LocalExecutor(_Closing):
    """Renders the segments here, one after another (progress every frame)."""

    def __init__(self, options: SwapOptions | None = None) -> None:
        self.options = options

    def run(self, tasks: Sequence[SegmentTask], progress: ProgressFn) -> list[SegmentOutput]:
        outputs = []
        for task in tasks:
            index = task.segment.index
            outputs.append(render_segment(task, lambda n, i=index: progress(i, n)))
        return outputs


def _pool_render(task: SegmentTask, reports: Any, stop: Any) -> SegmentOutput:
    """A pool worker's body: render, reporting progress and obeying ``stop`` every frame."""
    index = task.segment.index

    def tick(n: int) -> None:
        if stop.is_set():
            raise Cancelled("cancelled")
        if n % REPORT_EVERY == 0:
            reports.put((index, n))

    return render_segment(task, tick)


class ProcessExecutor(_Closing):
    """A pool of ``workers`` spawned processes on this machine.

    Spawned, not forked: the caller may hold threads (decoder, web server)
    and loaded models that a fork would copy half-way. Workers report
    progress through a manager queue and stop at the next frame when the
    shared ``stop`` event is set.
    """

    def __init__(self, options: SwapOptions) -> None:
        self.workers = options.workers
        self._context = multiprocessing.get_context("spawn")
        self._manager = self._context.Manager()
        self._pool = cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=self._context)

    def run(self, tasks: Sequence[SegmentTask], progress: ProgressFn) -> list[SegmentOutput]:
        reports, stop = self._manager.Queue(), self._manager.Event()
        futures = {self._pool.submit(_pool_render, task, reports, stop): i for i, task in enumerate(tasks)}
        outputs: list[SegmentOutput | None] = [None] * len(tasks)
        pending = set(futures)
        try:
            while pending:
                done, pending = cf.wait(pending, timeout=POLL_S, return_when=cf.FIRST_COMPLETED)
                _drain(reports, progress)
                for future in done:
                    out = future.result()
                    outputs[futures[future]] = out
                    progress(out.segment.index, out.result.frames)
                if not done:
                    progress(-1, 0)  # no news: still lets the caller cancel
        except BaseException:
            stop.set()
            for future in pending:
                future.cancel()
            cf.wait(pending)
            raise
        return [o for o in outputs if o is not None]

    def close(self) -> None:
        try:
            self._pool.shutdown(wait=True, cancel_futures=True)
        finally:
            self._manager.shutdown()


def _drain(reports: Any, progress: ProgressFn) -> None:
    while True:
        try:
            index, frames = reports.get_nowait()
        except queue.Empty:
            return
        progress(index, frames)


def _ray_render(task: SegmentTask, shipped: list[Any]) -> tuple[SegmentOutput, bytes]:
    """A Ray task's body: render into a temporary file on the worker, return the file's bytes.

    Returning bytes (not a path) works on a cluster without a shared file
    system; ``shipped`` (nested so Ray does not resolve it eagerly) holds the
    object ref of the input's bytes when the input must travel too.
    """
    import ray

    with tempfile.TemporaryDirectory(prefix="facegraft-segment-") as tmp:
        job = task.job
        if shipped:
            source = Path(tmp) / f"input{task.job.target.suffix}"
            source.write_bytes(ray.get(shipped[0]))
            job = replace(job, target=source)
        out = render_segment(replace(task, job=job), path=Path(tmp) / task.path.name)
        data = out.path.read_bytes()
    return replace(out, path=task.path), data


class RayExecutor(_Closing):
    """Ray tasks: on the cluster at ``options.ray_address``, or a local Ray of ``workers`` CPUs.

    A Ray this executor started is shut down when it closes; one the caller
    (or another job) started is left running.

    Args:
        options: ``workers`` and ``ray_address``.
        ship_input: send the input's bytes through Ray's object store for
            workers that cannot see its path (default: when an address is given).
    """

    def __init__(self, options: SwapOptions, *, ship_input: bool | None = None) -> None:
        try:
            import ray
        except ImportError as exc:
            raise OptionsError("executor=ray needs Ray: pip install 'facegraft[ray]'") from exc
        self._ray = ray
        self._started = not ray.is_initialized()
        if self._started:
            import logging

            kwargs: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING,
                                      "log_to_driver": False}
            if options.ray_address:
                ray.init(address=options.ray_address, **kwargs)
            else:
                ray.init(num_cpus=options.workers, **kwargs)
        self.ship_input = bool(options.ray_address) if ship_input is None else ship_input
        self._remote = ray.remote(num_cpus=1, max_retries=0)(_ray_render)

    def run(self, tasks: Sequence[SegmentTask], progress: ProgressFn) -> list[SegmentOutput]:
        ray = self._ray
        shipped = []
        if self.ship_input and tasks:
            shipped = [ray.put(tasks[0].job.target.read_bytes())]
        refs = {self._remote.remote(task, shipped): i for i, task in enumerate(tasks)}
        outputs: list[SegmentOutput | None] = [None] * len(tasks)
        pending = list(refs)
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1, timeout=POLL_S)
                for ref in done:
                    out, data = ray.get(ref)
                    out.path.write_bytes(data)
                    outputs[refs[ref]] = out
                    progress(out.segment.index, out.result.frames)
                if not done:
                    progress(-1, 0)
        except BaseException:
            for ref in pending:
                ray.cancel(ref)  # KeyboardInterrupt in the task: its temporary files are removed
            ray.wait(pending, num_returns=len(pending), timeout=10)
            raise
        return [o for o in outputs if o is not None]

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()


#: Executor name -> factory taking the options.
EXECUTORS: dict[str, Callable[[SwapOptions], Executor]] = {
    "local": LocalExecutor,
    "process": ProcessExecutor,
    "ray": RayExecutor,
}


def make_executor(options: SwapOptions) -> Executor:
    """The executor named by ``options.executor``."""
    try:
        factory = EXECUTORS[options.executor]
    except KeyError:
        raise OptionsError(f"unknown executor {options.executor!r}; choose one of {', '.join(EXECUTORS)}") from None
    return factory(options)
