"""The face models, loaded once per process from installed packages.

mediapipe's legacy *solutions* give a full-range face detector (faces far
from the camera) and the 478-point refined face mesh (its landmark subgraph,
fed regions by our detector); dlib, with the weights
shipped in the ``face_recognition_models`` package, gives the 128-d identity
embedding and the 5/68-point shape predictors. Nothing is downloaded: every
file comes from ``site-packages``.

Loading takes about a second and each model holds native resources, so a
:class:`Models` is built once and handed to every stage (the rembg "session"
idea without its hidden reloads).

Example:
    >>> from facegraft.analysis.models import Models
    >>> with Models() as models:  # doctest: +SKIP
    ...     faces = models.detector.detect(image_rgb)
    ...     vector = models.embedder.embed(image_rgb, faces[0])
"""

from __future__ import annotations

import importlib.util
import os
from functools import cached_property
from pathlib import Path
from typing import Any

from ..errors import FacegraftError
from .detector import LANDMARK_GRAPH, FaceDetector
from .embedder import FaceEmbedder

# mediapipe's C++ side logs through glog/absl; keep its INFO chatter off the
# user's terminal unless they asked for it.
os.environ.setdefault("GLOG_minloglevel", "2")


def dlib_model_dir() -> Path:
    """The folder of dlib weights inside the installed ``face_recognition_models``.

    Found through the import system without importing the package, whose
    ``__init__`` imports the deprecated ``pkg_resources`` and warns.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FacegraftError("the face_recognition_models package is not installed (dlib weights)")
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    if not folder.is_dir():
        raise FacegraftError("weights folder missing", folder)
    return folder


class Models:
    """mediapipe detector + mesh and dlib embedder, built once and reused.

    Args:
        detection_score: minimum confidence of the full-range face detector.
        tile_size: side in pixels of the tiles the detector also looks at in
            large frames, so that faces ~40 px wide in a 1080p crowd are found.
        mesh_size: the crop around each face is scaled down so the mesh's
            region is at most this many pixels (the model itself sees 192).

    Attributes:
        detector: :class:`~facegraft.analysis.detector.FaceDetector`.
        embedder: :class:`~facegraft.analysis.embedder.FaceEmbedder`.
    """

    def __init__(self, *, detection_score: float = 0.5, tile_size: int = 512, mesh_size: int = 256) -> None:
        import dlib
        import mediapipe as mp
        from mediapipe.python.solution_base import SolutionBase

        self._detection_score = detection_score
        self._spare_graphs: tuple[Any, ...] = ()
        self._face_detection = mp.solutions.face_detection.FaceDetection(
            model_selection=1, min_detection_confidence=detection_score)
        # The refined 478-point mesh model of FaceMesh(refine_landmarks=True),
        # fed regions directly (see detector.py for why not FaceMesh itself).
        self._face_mesh = SolutionBase(graph_config=LANDMARK_GRAPH, side_inputs={"with_attention": True},
                                       outputs=["face_landmarks"])
        folder = dlib_model_dir()
        self._dlib_dir = folder
        self.detector = FaceDetector(self._face_detection, self._face_mesh, tile_size=tile_size,
                                     mesh_size=mesh_size)
        self.embedder = FaceEmbedder(
            dlib.face_recognition_model_v1(str(folder / "dlib_face_recognition_resnet_model_v1.dat")),
            dlib.shape_predictor(str(folder / "shape_predictor_5_face_landmarks.dat")))
        self._closed = False
        if (os.cpu_count() or 1) > 1:
            # Long videos are analysed in two threads: build the second graphs with the rest (~0.2 s).
            _ = self.spare_detector

    @cached_property
    def spare_detector(self) -> FaceDetector:
        """A second detector with its own mediapipe graphs, so two threads can analyse at once (built on first use)."""
        import mediapipe as mp
        from mediapipe.python.solution_base import SolutionBase

        face_detection = mp.solutions.face_detection.FaceDetection(
            model_selection=1, min_detection_confidence=self._detection_score)
        face_mesh = SolutionBase(graph_config=LANDMARK_GRAPH, side_inputs={"with_attention": True},
                                 outputs=["face_landmarks"])
        self._spare_graphs = (face_detection, face_mesh)
        return FaceDetector(face_detection, face_mesh, tile_size=self.detector.tile_size,
                            mesh_size=self.detector.mesh_size)

    @cached_property
    def shape68(self) -> Any:
        """dlib's 68-point predictor (loaded on first use: ~1 s, ~100 MB)."""
        import dlib

        return dlib.shape_predictor(str(self._dlib_dir / "shape_predictor_68_face_landmarks.dat"))

    def close(self) -> None:
        """Release mediapipe's graphs (safe to call twice)."""
        if not self._closed:
            for graph in (self._face_detection, self._face_mesh, *self._spare_graphs):
                graph.close()
            self._closed = True

    def __enter__(self) -> Models:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
