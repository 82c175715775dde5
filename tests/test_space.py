"""The Hugging Face Space: ``app.py`` + ``requirements.txt`` in a clean virtual environment.

A Gradio Space installs ``requirements.txt`` with pip's ordinary dependency
resolution (unlike ``make install``'s ``--no-deps``, so mediapipe brings jax,
jaxlib and the non-headless OpenCV), adds gradio at the front matter's
``sdk_version`` and runs ``python app.py`` from the repository root. The slow
test does the same in a new virtual environment, starts the page, and swaps the
built-in example with the Space's packages. A fresh install from PyPI takes
about 5.5 minutes on 2 cores, so the wheels are downloaded once into
``~/.cache/facegraft/space-wheels/<hash of the requirements>`` and each run
installs from there without the index (``--no-index --find-links``): the
environment is still new and resolved by pip; only the downloads are reused.
It skips with the reason when neither the index nor downloaded wheels are there.
The fast test checks, without any network, that ``requirements.txt`` names every
package the code imports, pinned as in ``requirements.lock``.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata as md
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO
from webserve import free_port

INDEX = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")
WHEELS = Path(os.environ.get("FACEGRAFT_SPACE_WHEELS", Path.home() / ".cache" / "facegraft" / "space-wheels"))
INSTALL_TIMEOUT_S = 900
START_TIMEOUT_S = 240


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pins(path: Path) -> dict[str, str]:
    """``{normalised name: requirement line}`` of a requirements file."""
    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    return {_name(line): line for line in lines if line}


def _version(line: str) -> str | None:
    return line.split("==", 1)[1].strip() if "==" in line else None


def _gradio_pin() -> str:
    """The gradio the Space runs: the locked version, which docs/web.md gives as ``sdk_version``."""
    return _pins(REPO / "requirements.lock")["gradio"]


def _module_owners() -> dict[str, str]:
    """Top-level importable name -> distribution of the installed packages.

    ``packages_distributions`` misses bare extension modules (dlib-bin installs ``dlib.*.so`` with no
    package folder), so a distribution whose name starts with the module's owns it too.
    """
    owners = {module: _name(dists[0]) for module, dists in md.packages_distributions().items()}
    for dist in md.distributions():
        name = _name(dist.metadata["Name"])
        owners.setdefault(name.split("-")[0], name)
    return owners


def _imported_modules() -> tuple[set[str], set[str]]:
    """Third-party top-level modules the app needs, and those it imports only optionally.

    Optional: imported inside a ``try`` that catches ImportError, an extra of pyproject.toml, or not
    installed in the project's environment at all.
    ``find_spec("name")`` string arguments count as needed (data-only packages such as the dlib weights).
    """
    needed: set[str] = set()
    optional: set[str] = set()
    files = [*sorted((REPO / "facegraft").rglob("*.py")), REPO / "app.py"]
    for path in files:
        tree = ast.parse(path.read_text())
        guarded: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Try) and any(
                    isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError")
                    for h in node.handlers):
                guarded.update(id(n) for stmt in node.body for n in ast.walk(stmt))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "find_spec" and node.args
                  and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                names = [node.args[0].value]
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top == "facegraft":
                    continue
                (optional if id(node) in guarded else needed).add(top)
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"].get("optional-dependencies", {})
    extra_names = {_name(r) for reqs in extras.values() for r in reqs}
    owners = _module_owners()
    for top in list(needed):
        # An extra, or not even in the project's own environment (installed from requirements.lock, where
        # every test passes): the code can only be using it when present.
        if owners.get(top) in extra_names or top not in owners:
            needed.discard(top)
            optional.add(top)
    return needed, optional - needed


def test_requirements_txt_has_every_package_the_app_imports_pinned_as_locked():
    space = _pins(REPO / "requirements.txt")
    lock = _pins(REPO / "requirements.lock")
    owners = _module_owners()
    needed, optional = _imported_modules()
    assert {"mediapipe", "cv2", "dlib", "av", "gradio", "face_recognition_models"} <= needed
    assert "ray" in optional  # the Ray executor is an extra, not part of the Space
    missing = []
    for module in sorted(needed):
        dist = owners[module]
        if dist == "gradio":
            continue  # the Space installs gradio itself, from the front matter's sdk_version
        if dist not in space:
            missing.append(f"{module} ({dist})")
    assert not missing, f"requirements.txt lacks what the code imports: {', '.join(missing)}"
    for name, line in space.items():
        version = _version(line)
        if version is None:
            continue
        locked = lock.get(name) or lock.get("opencv-python-headless" if name == "opencv-contrib-python" else "")
        assert locked, f"requirements.txt pins {name}, which requirements.lock does not have"
        assert _version(locked) == version, f"requirements.txt has {line}, requirements.lock {locked}"
    sdk = re.search(r"sdk_version:\s*([\w.]+)", (REPO / "docs" / "web.md").read_text())
    assert sdk and sdk.group(1) == _version(_gradio_pin()), "docs/web.md's sdk_version is not the locked gradio"


def _index_reachable() -> bool:
    try:
        with urllib.request.urlopen(f"{INDEX}/pip/", timeout=10) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _wheelhouse(python: Path) -> Path:
    """The downloaded wheels for this requirements.txt, downloading them once when the index is there.

    ``wheel`` comes too: face-recognition-models is a source package, built at install time with
    setuptools and wheel, which must then be found without the index as well.
    """
    key = hashlib.sha256((REPO / "requirements.txt").read_bytes() + _gradio_pin().encode()).hexdigest()[:16]
    folder = WHEELS / key
    if (folder / ".complete").exists():
        return folder
    if not _index_reachable():
        pytest.skip(f"no network to the pip index ({INDEX}) and no downloaded wheels in {folder}")
    part = folder.with_name(key + ".part")
    shutil.rmtree(part, ignore_errors=True)
    part.mkdir(parents=True)
    started = time.perf_counter()
    done = subprocess.run([str(python), "-m", "pip", "download", "-q", "-d", str(part), "-r",
                           str(REPO / "requirements.txt"), _gradio_pin(), "wheel"],
                          capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
    assert done.returncode == 0, f"pip download failed: {done.stderr[-2000:]}"
    (part / ".complete").write_text(f"downloaded in {time.perf_counter() - started:.0f} s\n")
    shutil.rmtree(folder, ignore_errors=True)
    part.rename(folder)
    return folder


def _wait_for_page(url: str, process: subprocess.Popen[str]) -> str:
    deadline = time.time() + START_TIMEOUT_S
    while time.time() < deadline:
        assert process.poll() is None, f"app.py exited with {process.returncode}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return str(response.read().decode())
        except (urllib.error.URLError, OSError):
            time.sleep(1)
    pytest.fail(f"the page did not answer on {url} within {START_TIMEOUT_S} s")


@pytest.mark.slow
def test_the_space_installs_in_a_clean_venv_and_serves_the_page(tmp_path: Path):
    from PIL import Image

    from facegraft.web.examples import write_example

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    wheels = _wheelhouse(python)
    started = time.perf_counter()
    done = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-index", "--find-links", str(wheels),
                           "-r", str(REPO / "requirements.txt"), _gradio_pin()],
                          capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
    assert done.returncode == 0, f"pip install of requirements.txt failed: {done.stderr[-2000:]}"
    print(f"Space install from downloaded wheels: {time.perf_counter() - started:.0f} s")
    listed = subprocess.run([str(python), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True,
                            check=True).stdout
    assert "jax==" in listed and "opencv-contrib-python==" in listed, "the Space's pip resolves mediapipe's deps"

    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    env.update(PATH=f"{venv / 'bin'}:{env.get('PATH', '')}", PYTHONDONTWRITEBYTECODE="1")
    example = write_example(tmp_path / "example", video=False)
    out = tmp_path / "swapped.png"
    swap = subprocess.run([str(python), "-m", "facegraft", "swap", "-s", str(example.source), "-t",
                           str(example.image), "-o", str(out), "-q"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)
    assert swap.returncode == 0, f"facegraft swap in the Space's environment failed: {swap.stderr[-2000:]}"
    before, after = np.asarray(Image.open(example.image)), np.asarray(Image.open(out))
    assert before.shape == after.shape and np.abs(before.astype(int) - after).mean() > 0.5

    port = free_port()
    env.update(GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port), GRADIO_ANALYTICS_ENABLED="False")
    log = (tmp_path / "app.log").open("w")
    process = subprocess.Popen([str(python), "app.py"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                               text=True)
    try:
        started = time.perf_counter()
        page = _wait_for_page(f"http://127.0.0.1:{port}/", process)
        print(f"Space page answered {time.perf_counter() - started:.0f} s after python app.py")
        assert "facegraft" in page
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=10) as response:
            config = response.read().decode()
        assert "astronaut_zoom.mp4" in config, "the page preloads the example clip"
        assert "Limits on this server: uploads up to 100 MB, videos up to 30 s" in config
    finally:
        process.send_signal(signal.SIGTERM)  # a stopping Space sends SIGTERM
        try:
            code = process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
            log.close()
    tail = (tmp_path / "app.log").read_text()[-2000:]
    assert code == 0, f"app.py did not stop cleanly on SIGTERM (exit {code}): {tail}"
