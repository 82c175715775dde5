"""Face analysis: detection + 478-point mesh (mediapipe), identity (dlib), tracks, people.

Modules (imported directly; nothing heavy is loaded by this package itself):

- :mod:`.models`: :class:`~.models.Models`, built once per process.
- :mod:`.detector`: ``models.detector.detect(image)`` and ``.stream(every=10)``.
- :mod:`.embedder`: ``models.embedder.embed(image, face)`` -> (128,) float32.
- :mod:`.tracker`: :class:`~.tracker.FaceTracker`, :class:`~.tracker.SceneCutDetector`.
- :mod:`.analyse`: :func:`~.analyse.analyse_faces` -> :class:`~.analyse.VideoAnalysis`.
- :mod:`.selection`: :func:`~.selection.select_identities` -> :class:`~.selection.Selection`.
- :mod:`.source`: :func:`~.source.prepare_source` -> :class:`~facegraft.types.SourceFace`.
"""
