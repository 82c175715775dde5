"""A facegraft web app served on a free loopback port, for the web tests."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_app(**config: Any) -> Iterator[tuple[str, Any]]:
    """Build and launch the app in this process; yield (base URL, app); stop it and check it left no file."""
    from facegraft.web import WebConfig
    from facegraft.web.app import build_app

    cfg = WebConfig(port=free_port(), **config)
    app = build_app(cfg)
    app.demo.launch(prevent_thread_lock=True, quiet=True, **app.launch_kwargs())
    try:
        yield f"http://127.0.0.1:{cfg.port}", app
    finally:
        app.close()
    assert not app.jobs.root.exists(), "stopping the server removes every file it wrote"
