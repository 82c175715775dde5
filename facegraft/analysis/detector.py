"""Face detection and the 478-point mesh, in full-frame pixels.

mediapipe's full-range detector looks at a 192x192 letterboxed copy of its
input, so a 40 px face in a 1080p frame shrinks to 4 px and vanishes. The
detector therefore also looks at overlapping tiles when a frame is large and
the whole-frame pass found nothing or only small faces.

The mesh then runs on a crop around each detected face, through mediapipe's
own ``FaceLandmarkCpu`` subgraph (the refined 478-point model with
attention, the one inside ``FaceMesh(refine_landmarks=True)``) fed a region
of interest directly. ``FaceMesh`` itself would rerun its short-range
detector inside every crop; that detector misses dim or blurred faces the
full-range one found (the Hamilton audience), costs extra time, and the
legacy API hides the mesh's face-presence score. Fed a region, the subgraph
applies that score itself (no landmarks when no face is there), and we
additionally drop fits whose box does not overlap the box that asked for them.

For video, :class:`DetectionStream` runs the full detector only every few
frames (or when a face is lost) and otherwise fits the mesh on regions
predicted from the previous frame's landmarks, as mediapipe's own tracking does.

Example:
    >>> faces = models.detector.detect(image_rgb)  # doctest: +SKIP
    >>> stream = models.detector.stream(every=10)  # doctest: +SKIP
    >>> for frame in frames:  # doctest: +SKIP
    ...     faces = stream.detect(frame.image, frame_index=frame.index)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from ..types import MESH_POINTS, Face, bbox_of

Box = tuple[float, float, float, float]

#: mediapipe's landmark graph fed a region instead of running its own detector.
LANDMARK_GRAPH = """
input_stream: "image"
input_stream: "roi"
input_side_packet: "with_attention"
output_stream: "face_landmarks"
node {
  calculator: "FaceLandmarkCpu"
  input_stream: "IMAGE:image"
  input_stream: "ROI:roi"
  input_side_packet: "WITH_ATTENTION:with_attention"
  output_stream: "LANDMARKS:face_landmarks"
}
"""


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _centre(box: Box) -> tuple[float, float]:
    return ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)


def _inside(point: tuple[float, float], box: Box) -> bool:
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


@dataclass(frozen=True, slots=True)
class Detection:
    """A detector hit: box (brows to chin), score, and the two eye centres (x, y)."""

    box: Box
    score: float
    right_eye: tuple[float, float]
    left_eye: tuple[float, float]


@dataclass(frozen=True, slots=True)
class Roi:
    """A rotated square where the mesh looks: centre, side and rotation (radians), in pixels."""

    cx: float
    cy: float
    side: float
    rotation: float


def _rotation(start: tuple[float, float], end: tuple[float, float]) -> float:
    """mediapipe's ROI rotation that makes the start->end eye line horizontal."""
    angle = -math.atan2(-(end[1] - start[1]), end[0] - start[0])
    return (angle + math.pi) % (2 * math.pi) - math.pi


def roi_from_detection(det: Detection, scale: float = 1.5) -> Roi:
    """As mediapipe's FaceDetectionFrontDetectionToRoi: the box, squared, x1.5, rotated by the eyes."""
    cx, cy = _centre(det.box)
    side = scale * max(det.box[2] - det.box[0], det.box[3] - det.box[1])
    return Roi(cx, cy, side, _rotation(det.right_eye, det.left_eye))


def roi_from_landmarks(landmarks: np.ndarray, scale: float = 1.5) -> Roi:
    """As mediapipe's FaceLandmarkLandmarksToRoi: the rotated extent of the mesh, squared, x1.5."""
    rot = _rotation(tuple(landmarks[33, :2]), tuple(landmarks[263, :2]))
    c, s = math.cos(rot), math.sin(rot)
    pts = landmarks[:, :2].astype(np.float64)
    # Coordinates in the ROI's frame (rotated by -rotation), where the face is upright.
    u = pts[:, 0] * c + pts[:, 1] * s
    v = -pts[:, 0] * s + pts[:, 1] * c
    uc, vc = (u.min() + u.max()) / 2, (v.min() + v.max()) / 2
    side = scale * max(u.max() - u.min(), v.max() - v.min())
    return Roi(uc * c - vc * s, uc * s + vc * c, side, rot)


#: One ``NormalizedLandmark`` with only x, y, z set, as it is serialised inside a ``NormalizedLandmarkList``
#: (field 1, length 15; then fields 1-3 as little-endian floats).
_LANDMARK_WIRE = np.dtype([("tag", "u1"), ("size", "u1"), ("tx", "u1"), ("x", "<f4"), ("ty", "u1"), ("y", "<f4"),
                           ("tz", "u1"), ("z", "<f4")])


def landmark_array(landmarks: Any) -> np.ndarray:
    """(N, 3) float32 x, y, z of a mediapipe ``NormalizedLandmarkList``.

    Read from its serialised bytes (~15 us for 478 points) rather than point by
    point through protobuf attributes (~280 us, a mesh fit's Python overhead);
    a list with any other field set falls back to the attributes.
    """
    raw = landmarks.SerializeToString()
    if len(raw) % _LANDMARK_WIRE.itemsize == 0:
        rec = np.frombuffer(raw, _LANDMARK_WIRE)
        if (np.all(rec["tag"] == 0x0A) and np.all(rec["size"] == 15) and np.all(rec["tx"] == 0x0D)
                and np.all(rec["ty"] == 0x15) and np.all(rec["tz"] == 0x1D)):
            return np.stack([rec["x"], rec["y"], rec["z"]], axis=1).astype(np.float32)
    return np.array([(p.x, p.y, p.z) for p in landmarks.landmark], np.float32).reshape(-1, 3)


def nms(dets: Sequence[Detection], threshold: float = 0.35) -> list[Detection]:
    """Greedy non-maximum suppression, best score first."""
    kept: list[Detection] = []
    for det in sorted(dets, key=lambda d: -d.score):
        if all(iou(det.box, k.box) < threshold and not _inside(_centre(det.box), k.box) for k in kept):
            kept.append(det)
    return kept


def square_crop(image: np.ndarray, box: Box, expand: float) -> tuple[np.ndarray, float, float, float]:
    """A square crop of ``expand`` times the box's longer side around its centre.

    Parts outside the frame are black, so a face at the edge keeps its place
    in the crop. Returns the crop and its (x0, y0, side) in frame pixels.
    """
    cx, cy = _centre(box)
    side = max(8.0, expand * max(box[2] - box[0], box[3] - box[1]))
    return crop_at(image, cx, cy, round(side))


def crop_at(image: np.ndarray, cx: float, cy: float, s: int) -> tuple[np.ndarray, float, float, float]:
    """A black-padded square crop of side ``s`` centred at (cx, cy); returns it and (x0, y0, s)."""
    x0, y0 = round(cx - s / 2), round(cy - s / 2)
    h, w = image.shape[:2]
    crop = np.zeros((s, s, 3), np.uint8)
    sx0, sy0, sx1, sy1 = max(0, x0), max(0, y0), min(w, x0 + s), min(h, y0 + s)
    if sx1 > sx0 and sy1 > sy0:
        crop[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = image[sy0:sy1, sx0:sx1]
    return crop, float(x0), float(y0), float(s)


class FaceDetector:
    """Full-range detection, tiles for small faces, and the mesh in each face's region.

    Built by :class:`~facegraft.analysis.models.Models`; not thread-safe (one
    mediapipe graph each), so use one per thread or process.

    Args:
        face_detection: mediapipe ``FaceDetection(model_selection=1)``.
        landmarker: a mediapipe ``SolutionBase`` running :data:`LANDMARK_GRAPH`.
        tile_size: side of the detector's tiles in large frames.
        mesh_size: the crop handed to the landmark graph is scaled so the
            region is at most this many pixels (the model sees 192).
        min_iou: least overlap between a mesh's box and the box that asked
            for it, below which the fit is taken as false.
    """

    def __init__(self, face_detection: Any, landmarker: Any, *, tile_size: int = 512, mesh_size: int = 256,
                 min_iou: float = 0.3) -> None:
        self._fd = face_detection
        self._landmarker = landmarker
        self.tile_size = tile_size
        self.mesh_size = mesh_size
        self.min_iou = min_iou

    # ------------------------------------------------------------------ boxes
    def _run_detector(self, image: np.ndarray, x0: float, y0: float, scale: float) -> list[Detection]:
        result = self._fd.process(np.ascontiguousarray(image))
        h, w = image.shape[:2]
        found = []
        for det in result.detections or []:
            rb = det.location_data.relative_bounding_box
            kp = det.location_data.relative_keypoints
            box = (x0 + rb.xmin * w * scale, y0 + rb.ymin * h * scale,
                   x0 + (rb.xmin + rb.width) * w * scale, y0 + (rb.ymin + rb.height) * h * scale)
            eyes = [(x0 + kp[i].x * w * scale, y0 + kp[i].y * h * scale) for i in (0, 1)]
            found.append(Detection(box, float(det.score[0]), eyes[0], eyes[1]))
        return found

    def find_boxes(self, image: np.ndarray, *, tiles: bool | None = None) -> list[Detection]:
        """Detector hits in frame pixels.

        Args:
            image: RGB frame.
            tiles: also search overlapping tiles; None decides: tiles are used
                when the frame is much larger than a tile and the whole-frame
                pass found no face or only faces under a tenth of its size.
        """
        h, w = image.shape[:2]
        longest = max(h, w)
        scale = min(1.0, 640 / longest)  # the detector sees 192 px anyway
        small = image if scale == 1.0 else cv2.resize(image, (round(w * scale), round(h * scale)),
                                                      interpolation=cv2.INTER_AREA)
        found = self._run_detector(small, 0.0, 0.0, 1 / scale)
        t = self.tile_size
        if tiles is None:
            tiles = longest > 1.25 * t and (not found or min(d.box[2] - d.box[0] for d in found) < longest / 10)
        if tiles and longest > t:
            for ty in _tile_starts(h, t):
                for tx in _tile_starts(w, t):
                    found += self._run_detector(image[ty:ty + t, tx:tx + t], float(tx), float(ty), 1.0)
        return nms(found)

    # ------------------------------------------------------------------ mesh
    def fit_mesh(self, image: np.ndarray, roi: Roi, *, expect: Box, score: float = 1.0,
                 frame_index: int = 0) -> Face | None:
        """Fit the 478-point mesh in a region of the frame.

        Args:
            image: RGB frame.
            roi: where the model looks (see :func:`roi_from_detection`,
                :func:`roi_from_landmarks`).
            expect: the box the face should roughly fill (detector box or
                previous mesh box); a fit that barely overlaps it is dropped.
            score: confidence to give the face.
            frame_index: stored in the returned face.

        Returns:
            The face, or None when the model saw no face there or the fit is implausible.
        """
        from mediapipe.framework.formats import rect_pb2

        # A crop that holds the rotated region (x sqrt 2), shrunk by an integer
        # factor (OpenCV's area resampling is ~15x faster at integer ratios)
        # so the region is about mesh_size pixels: the model sees 192.
        wanted = max(8.0, roi.side * math.sqrt(2.0))
        k = max(1, int(roi.side // self.mesh_size))
        crop, x0, y0, side = crop_at(image, roi.cx, roi.cy, math.ceil(wanted / k) * k)
        if k > 1:
            crop = cv2.resize(crop, (crop.shape[1] // k, crop.shape[0] // k), interpolation=cv2.INTER_AREA)
        rect = rect_pb2.NormalizedRect(x_center=(roi.cx - x0) / side, y_center=(roi.cy - y0) / side,
                                       width=roi.side / side, height=roi.side / side, rotation=roi.rotation)
        result = self._landmarker.process({"image": crop, "roi": rect})
        if result.face_landmarks is None:
            return None
        lm = landmark_array(result.face_landmarks)
        if lm.shape[0] != MESH_POINTS:
            return None
        lm *= np.float32(side)
        lm[:, 0] += np.float32(x0)
        lm[:, 1] += np.float32(y0)
        bbox = bbox_of(lm)
        size_ratio = (bbox[2] - bbox[0]) / max(1e-6, expect[2] - expect[0])
        if iou(bbox, expect) < self.min_iou or not 0.5 < size_ratio < 2.5:
            return None
        return Face(bbox=bbox, score=score, landmarks=lm, frame_index=frame_index)

    def fit_detection(self, image: np.ndarray, det: Detection, *, frame_index: int = 0) -> Face | None:
        """Fit the mesh to a detector hit, trying a few regions until the model sees a face.

        The mesh model's face-presence gate is sensitive to the region: on
        the test clips an upright 1.3x box is accepted most often (the
        detector's eye keypoints are noisy on small faces), the eye-rotated
        1.5x box of mediapipe's own pipeline catches tilted heads, and a
        wider box catches the rest.
        """
        for scale, rotate in ((1.3, False), (1.5, True), (1.8, False)):
            roi = roi_from_detection(det, scale)
            if not rotate:
                roi = Roi(roi.cx, roi.cy, roi.side, 0.0)
            face = self.fit_mesh(image, roi, expect=det.box, score=det.score, frame_index=frame_index)
            if face is not None:
                return face
        return None

    # ------------------------------------------------------------------ public
    def detect(self, image: np.ndarray, previous: Sequence[Face] | None = None, *, refresh: bool = False,
               frame_index: int = 0) -> list[Face]:
        """All faces in a frame, each with its mesh in full-frame pixels.

        Args:
            image: RGB uint8 frame (HxWx3).
            previous: faces of the previous frame, for tracking mode: the mesh
                is refitted in regions predicted from their landmarks and the
                detector runs only when ``refresh`` is set, a face was lost,
                or there was none. None runs the full detection.
            refresh: in tracking mode, also run the full detector (with tiles
                when needed) to pick up faces that entered.
            frame_index: stored in the returned faces.

        Returns:
            Faces, largest first.
        """
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an RGB uint8 HxWx3 image, got {image.dtype} {image.shape}")
        faces: list[Face] = []
        run_detector, tiles = True, None
        if previous is not None:
            for old in previous:
                face = self.fit_mesh(image, roi_from_landmarks(old.landmarks), expect=old.bbox,
                                     score=old.score, frame_index=frame_index)
                if face is not None and all(iou(face.bbox, f.bbox) < 0.5 for f in faces):
                    faces.append(face)
            lost = len(faces) < len(previous)
            run_detector = refresh or lost or not previous
            tiles = None if refresh else False
        if run_detector:
            for det in self.find_boxes(image, tiles=tiles):
                if any(iou(det.box, f.bbox) > 0.2 or _inside(_centre(det.box), f.bbox) for f in faces):
                    continue
                face = self.fit_detection(image, det, frame_index=frame_index)
                if face is not None and all(iou(face.bbox, f.bbox) < 0.5 for f in faces):
                    faces.append(face)
        return sorted(faces, key=lambda f: -f.area)

    def stream(self, *, every: int = 10) -> DetectionStream:
        """A stateful per-video detector that tracks between full detections."""
        return DetectionStream(self, every=every)


def _tile_starts(length: int, tile: int) -> list[int]:
    """Start offsets of tiles of ``tile`` px covering ``length`` with >=25 % overlap."""
    if length <= tile:
        return [0]
    n = math.ceil((length - tile) / (0.75 * tile)) + 1
    return [round(i * (length - tile) / (n - 1)) for i in range(n)]


class DetectionStream:
    """Detection for consecutive frames of one shot: full detection every ``every`` frames.

    Between full detections the mesh is refitted on regions predicted from
    the previous frame, so one face costs about one mesh fit a frame.
    Call :meth:`reset` at a scene cut so the next frame is searched afresh.

    Args:
        detector: the :class:`FaceDetector` to use.
        every: frames between full detections.
    """

    def __init__(self, detector: FaceDetector, *, every: int = 10) -> None:
        self.detector = detector
        self.every = max(1, every)
        self._previous: list[Face] | None = None
        self._since_full = 0

    def reset(self) -> None:
        """Forget the previous frame (at a scene cut)."""
        self._previous = None

    def detect(self, image: np.ndarray, *, frame_index: int = 0) -> list[Face]:
        """Faces in the next frame of the stream."""
        refresh = self._previous is None or self._since_full >= self.every
        faces = self.detector.detect(image, self._previous, refresh=refresh, frame_index=frame_index)
        self._since_full = 1 if refresh else self._since_full + 1
        self._previous = faces
        return faces
