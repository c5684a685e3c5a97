"""Face tracks from per-frame detections: greedy IoU linking, gap filling, smoothing.

A track is a run of frames with one box per frame. As in TalkNet/LoCoNet's demo pipeline (re-derived):
detections are linked frame by frame to the track whose last box overlaps them most (IoU >= ``iou``),
a track survives up to ``max_gap`` frames without a detection, tracks shorter than ``min_length`` are
dropped, missing frames inside a track are filled by linear interpolation of the box, and the box's
centre and size are smoothed with a centred moving average of ``smooth`` frames (edges use the nearest
values), which steadies the crops.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Track", "box_iou", "fill_gaps", "smooth_boxes", "track_faces"]


@dataclass
class Track:
    """One face track: ``frames`` (N,) int frame indices (consecutive) and ``boxes`` (N, 4) x1, y1, x2, y2;
    ``detected`` (N,) bool, False where the box was interpolated."""

    track_id: int
    frames: np.ndarray
    boxes: np.ndarray
    detected: np.ndarray

    @property
    def start(self) -> int:
        return int(self.frames[0])

    @property
    def end(self) -> int:
        """One past the last frame."""
        return int(self.frames[-1]) + 1

    def __len__(self) -> int:
        return len(self.frames)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a`` (N, 4) with every box in ``b`` (M, 4) -> (N, M)."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(-1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(-1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def fill_gaps(frames: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes at every frame from ``frames[0]`` to ``frames[-1]``, linearly interpolated where missing.
    Returns ``(all_frames, all_boxes, detected)``."""
    frames = np.asarray(frames, np.int64)
    boxes = np.asarray(boxes, np.float64)
    full = np.arange(frames[0], frames[-1] + 1)
    filled = np.stack([np.interp(full, frames, boxes[:, k]) for k in range(4)], axis=1)
    return full, filled, np.isin(full, frames)


def smooth_boxes(boxes: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average of each box's centre and size over ``window`` frames (edges padded with
    the nearest value), converted back to corners."""
    boxes = np.asarray(boxes, np.float64)
    if window <= 1 or len(boxes) < 2:
        return boxes.copy()
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    size = boxes[:, 2:] - boxes[:, :2]
    params = np.concatenate([centre, size], axis=1)
    half = window // 2
    padded = np.pad(params, ((half, window - 1 - half), (0, 0)), mode="edge")
    kernel = np.ones(window) / window
    smoothed = np.stack([np.convolve(padded[:, k], kernel, mode="valid") for k in range(4)], axis=1)
    return np.concatenate([smoothed[:, :2] - smoothed[:, 2:] / 2, smoothed[:, :2] + smoothed[:, 2:] / 2], axis=1)


def track_faces(detections: list[np.ndarray], *, iou: float = 0.3, max_gap: int = 10, min_length: int = 10,
                smooth: int = 5) -> list[Track]:
    """Link per-frame ``detections`` (a list over frames of (N_t, 4) boxes) into tracks (module docstring).
    Tracks are numbered by their first frame."""
    if iou <= 0 or iou > 1:
        raise ValueError(f"iou must be in (0, 1], got {iou}")
    if max_gap < 0 or min_length < 1 or smooth < 1:
        raise ValueError(f"need max_gap >= 0, min_length >= 1, smooth >= 1; got {max_gap}, {min_length}, {smooth}")
    open_tracks: list[tuple[list[int], list[np.ndarray]]] = []
    done: list[tuple[list[int], list[np.ndarray]]] = []
    for t, boxes in enumerate(detections):
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        still_open = []
        for track in open_tracks:  # close tracks whose gap grew too long
            (still_open if t - track[0][-1] - 1 <= max_gap else done).append(track)
        open_tracks = still_open
        unmatched = list(range(len(boxes)))
        if open_tracks and len(boxes):
            last = np.stack([tr[1][-1] for tr in open_tracks])
            scores = box_iou(last, boxes)
            # Greedy: best pair first, each track and detection used once.
            for flat in np.argsort(-scores, axis=None):
                i, j = np.unravel_index(flat, scores.shape)
                if scores[i, j] < iou:
                    break
                if j not in unmatched or open_tracks[i][0][-1] == t:
                    continue
                open_tracks[i][0].append(t)
                open_tracks[i][1].append(boxes[j])
                unmatched.remove(j)
        for j in unmatched:
            open_tracks.append(([t], [boxes[j]]))
    done += open_tracks
    tracks = []
    for frames, boxes in sorted(done, key=lambda tr: (tr[0][0], tr[1][0][0])):
        full, filled, detected = fill_gaps(np.array(frames), np.stack(boxes))
        if len(full) < min_length:
            continue
        tracks.append(Track(len(tracks), full, smooth_boxes(filled, smooth), detected))
    return tracks
