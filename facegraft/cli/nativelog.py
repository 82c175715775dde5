"""Keep the native libraries' INFO/WARNING chatter off the user's terminal.

mediapipe's C++ graphs log through absl before anyone initialises absl
logging, and TensorFlow Lite prints ``INFO: Created TensorFlow Lite XNNPACK
delegate``; neither honours an environment variable, and both write straight
to file descriptor 2. So a failed ``facegraft swap`` would print four lines of
noise around its one-line error. :func:`quiet_native_logs` points fd 2 at a
pipe whose reader drops those informational lines and forwards everything
else (native errors and fatal messages stay visible), while Python's own
``sys.stderr`` (progress bars, warnings, the error line) writes to the real
terminal directly.
"""

from __future__ import annotations

import io
import os
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: absl/glog INFO and WARNING lines ("W0000 00:00:1795.. 123 file.cc:114] ..."), TFLite's "INFO: ...",
#: and absl's notice that logging was not initialised.
NOISE = re.compile(rb"^(?:[IW]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^\]]+\] |INFO: |WARNING: All log messages before "
                   rb"absl::InitializeLog\(\))")


def _forward(read_fd: int, write_fd: int) -> None:
    with os.fdopen(read_fd, "rb", buffering=0) as pipe:
        pending = b""
        while chunk := pipe.read(65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if not NOISE.match(line):
                    os.write(write_fd, line + b"\n")
        if pending and not NOISE.match(pending):
            os.write(write_fd, pending)


@contextmanager
def quiet_native_logs() -> Iterator[None]:
    """Filter native INFO/WARNING log lines from fd 2 for the duration of the block."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # stderr replaced (pytest capture, no console)
        yield
        return
    sys.stderr.flush()
    terminal = os.dup(fd)
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, fd)
    os.close(write_fd)
    python_stderr = sys.stderr
    sys.stderr = io.TextIOWrapper(os.fdopen(os.dup(terminal), "wb", buffering=0), encoding=python_stderr.encoding,
                                  errors="backslashreplace", line_buffering=True, write_through=True)
    reader = threading.Thread(target=_forward, args=(read_fd, terminal), name="facegraft-native-log",
                              daemon=True)
    reader.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        sys.stderr.close()
        sys.stderr = python_stderr
        os.dup2(terminal, fd)  # closes the pipe's last write end in this process: the reader sees EOF
        reader.join(timeout=2.0)  # a child process still holding the pipe must not hang the exit
        if not reader.is_alive():
            os.close(terminal)
