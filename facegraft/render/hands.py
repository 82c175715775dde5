"""Hands in front of a face, from mediapipe's hand models (palm detection + 21 landmarks).

The models ship in the mediapipe wheel (``mediapipe/modules/palm_detection``
and ``hand_landmark``); nothing is downloaded. A call costs 10-35 ms on a CPU
core, several times the rest of the occlusion work, so the caller decides
when to run it (:class:`~facegraft.render.occlusion.Occlusion` runs it on a
crop around the face when the face's appearance changed, while a hand is
known to be there, and every few frames otherwise).

Landmarks become a mask by drawing each finger's bones as thick lines and
filling the palm polygon: the landmarks sit on the bones' axes, so the line
width (a share of the palm's size) stands in for the finger's flesh.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

#: Finger chains of mediapipe's 21 hand landmarks (wrist = 0).
FINGERS = ((0, 1, 2, 3, 4), (0, 5, 6, 7, 8), (9, 10, 11, 12), (13, 14, 15, 16), (0, 17, 18, 19, 20))
#: Palm polygon.
PALM = (0, 1, 2, 5, 9, 13, 17)
#: Finger width as a share of the palm's length (wrist to middle-finger base). A real finger is
#: ~0.25 of it; the landmark model's error on a blurred, fast hand is about as large again.
FINGER_WIDTH = 0.42


class HandFinder:
    """mediapipe's legacy Hands solution, built on first use.

    Args:
        max_hands: hands looked for in one crop.
        min_score: palm detection confidence.
    """

    def __init__(self, *, max_hands: int = 2, min_score: float = 0.4) -> None:
        self.max_hands, self.min_score = max_hands, min_score
        self._hands: Any = None

    def find(self, image: np.ndarray) -> list[np.ndarray]:
        """The hands in an RGB image: a (21, 2) float32 array of pixel positions per hand."""
        if self._hands is None:
            import mediapipe as mp

            # Each call is a still: the crops move with the face, so mediapipe's own ROI tracking
            # (a palm detection only when it loses the hand) would follow stale crop coordinates.
            # The lite landmark model found the composite hand of tests/occluders.py in 42 of 42
            # frames, the full one in 38, at the same cost on a CPU.
            self._hands = mp.solutions.hands.Hands(static_image_mode=True, max_num_hands=self.max_hands,
                                                   model_complexity=0, min_detection_confidence=self.min_score)
        h, w = image.shape[:2]
        result = self._hands.process(np.ascontiguousarray(image))
        hands = []
        for lms in result.multi_hand_landmarks or ():
            pts = np.array([(p.x * w, p.y * h) for p in lms.landmark], np.float32)
            hands.append(pts)
        return hands

    def close(self) -> None:
        """Release the graph (safe to call twice)."""
        if self._hands is not None:
            self._hands.close()
            self._hands = None


def hand_mask(hands: list[np.ndarray], size: tuple[int, int]) -> np.ndarray:
    """A float32 (h, w) mask, 1 on the hands: palm polygon plus each finger's bones as thick lines.

    Args:
        hands: (21, 2) landmark arrays in the mask's pixel coordinates.
        size: (height, width) of the mask.
    """
    mask = np.zeros(size, np.uint8)
    for pts in hands:
        palm = float(np.linalg.norm(pts[9] - pts[0]))
        width = max(2, round(FINGER_WIDTH * palm))
        ipts = np.round(pts * 4).astype(np.int32)
        cv2.fillPoly(mask, [cv2.convexHull(ipts[list(PALM)])], 255, cv2.LINE_8, 2)
        for chain in FINGERS:
            cv2.polylines(mask, [ipts[list(chain)]], False, 255, width, cv2.LINE_8, 2)
        for i in (4, 8, 12, 16, 20):  # round fingertips reach past the last landmark
            cv2.circle(mask, tuple(int(v) for v in ipts[i]), width * 2, 255, -1, cv2.LINE_8, 2)
    return mask.astype(np.float32) * np.float32(1.0 / 255.0)
