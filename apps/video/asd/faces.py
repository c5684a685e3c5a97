"""Face detection per frame with OpenCV's Haar cascade (Viola & Jones 2001), whose weights ship inside the
``opencv-python-headless`` wheel (``cv2.data.haarcascades``), so nothing is downloaded.

Why Haar and not a better detector: the S3FD detector the official LoCoNet/TalkNet pipeline uses, and
OpenCV's own YuNet (``cv2.FaceDetectorYN``), both need weight files that no registry package ships. OpenCV 5
dropped ``CascadeClassifier``, hence ``opencv-python-headless<5``. Haar misses profile and small faces
(the tracker's gap filling bridges short misses).
"""
from __future__ import annotations

import numpy as np

__all__ = ["HaarFaceDetector"]


class HaarFaceDetector:
    """Frontal-face Haar cascade. ``detect(frame)`` -> ``(N, 4)`` float boxes ``x1, y1, x2, y2`` in pixels.

    Args:
        min_size: smallest face side in pixels; ``scale_factor``, ``min_neighbors``: OpenCV's options.
        cascade: a file in ``cv2.data.haarcascades``.
    """

    def __init__(self, min_size: int = 24, scale_factor: float = 1.1, min_neighbors: int = 5,
                 cascade: str = "haarcascade_frontalface_default.xml"):
        import cv2

        self.cv2 = cv2
        self.classifier = cv2.CascadeClassifier(cv2.data.haarcascades + cascade)
        if self.classifier.empty():
            raise ValueError(f"cannot load the Haar cascade {cascade!r} from {cv2.data.haarcascades}")
        self.min_size, self.scale_factor, self.min_neighbors = min_size, scale_factor, min_neighbors

    def detect(self, frame: np.ndarray) -> np.ndarray:
        frame = np.asarray(frame)
        if frame.ndim == 3:
            frame = self.cv2.cvtColor(frame, self.cv2.COLOR_RGB2GRAY)
        if frame.ndim != 2 or frame.dtype != np.uint8:
            raise ValueError(f"frame must be (H, W, 3) RGB or (H, W) gray uint8, got {frame.shape} {frame.dtype}")
        found = self.classifier.detectMultiScale(frame, scaleFactor=self.scale_factor,
                                                 minNeighbors=self.min_neighbors,
                                                 minSize=(self.min_size, self.min_size))
        if len(found) == 0:
            return np.zeros((0, 4), np.float32)
        found = np.asarray(found, np.float32)
        return np.concatenate([found[:, :2], found[:, :2] + found[:, 2:]], axis=1)
