"""The AVA-ActiveSpeaker metric, re-derived from the official ``get_ava_active_speaker_performance.py``
(which no longer runs on NumPy 2: it uses ``np.float``/``np.NAN``).

Predictions are matched to ground-truth rows by (video_id, frame_timestamp, box); every ground-truth row
needs exactly one prediction. Rows are sorted by score (descending; stable for ties), a row is a true
positive when its ground-truth label is ``SPEAKING_AUDIBLE`` (``NOT_SPEAKING`` and ``SPEAKING_NOT_AUDIBLE``
are negatives), and AP is the VOC-style area under the precision-recall curve whose precision is made
monotone (maximum to the right), times 100.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

__all__ = ["POSITIVE", "ava_map", "average_precision", "row_key"]

POSITIVE = "SPEAKING_AUDIBLE"
LABELS = ("SPEAKING_AUDIBLE", "SPEAKING_NOT_AUDIBLE", "NOT_SPEAKING")


def average_precision(scores: Iterable[float], positives: Iterable[bool]) -> float:
    """VOC-style AP in [0, 1] of ``scores`` for binary ``positives`` (module docstring)."""
    scores = np.asarray(list(scores), np.float64)
    positives = np.asarray(list(positives), bool)
    if scores.shape != positives.shape or scores.ndim != 1:
        raise ValueError(f"scores and labels must be two 1-D arrays of one length, got {scores.shape}, "
                         f"{positives.shape}")
    if not np.isfinite(scores).all():
        raise ValueError("scores contain NaN or infinite values")
    n_pos = positives.sum()
    if n_pos == 0:
        raise ValueError("AP is undefined without a positive (SPEAKING_AUDIBLE) ground-truth row")
    order = np.argsort(-scores, kind="stable")
    tp = np.cumsum(positives[order])
    precision = tp / np.arange(1, len(order) + 1)
    recall = tp / n_pos
    recall = np.concatenate([[0.0], recall, [1.0]])
    precision = np.concatenate([[0.0], precision, [0.0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.flatnonzero(recall[1:] != recall[:-1]) + 1
    return float(np.sum((recall[steps] - recall[steps - 1]) * precision[steps]))


def row_key(row: Mapping) -> tuple:
    """(video_id, timestamp, box) of a CSV row, with the timestamp and box rounded as the official merge."""
    box = tuple(round(float(row[k]), 3) for k in ("x1", "y1", "x2", "y2"))
    return (str(row["video_id"]), round(float(row["frame_timestamp"]), 2)) + box


def ava_map(ground_truth: Iterable[Mapping], predictions: Iterable[Mapping]) -> float:
    """AVA mAP (x100) of ``predictions`` (rows with video_id, frame_timestamp, x1..y2, label, score) against
    ``ground_truth`` (rows with video_id, frame_timestamp, x1..y2, label)."""
    truth: dict[tuple, str] = {}
    for row in ground_truth:
        if row["label"] not in LABELS:
            raise ValueError(f"unknown ground-truth label {row['label']!r}; expected one of {LABELS}")
        key = row_key(row)
        if key in truth:
            raise ValueError(f"duplicate ground-truth row {key}")
        truth[key] = row["label"]
    scored: dict[tuple, float] = {}
    for row in predictions:
        if row.get("label", POSITIVE) != POSITIVE:
            raise ValueError(f"prediction labels must be {POSITIVE!r} (the score is its probability), "
                             f"got {row['label']!r}")
        key = row_key(row)
        if key in scored:
            raise ValueError(f"duplicate prediction for {key}")
        scored[key] = float(row["score"])
    missing = [k for k in truth if k not in scored]
    if missing:
        raise ValueError(f"{len(missing)} ground-truth rows have no prediction with the same video, timestamp "
                         f"and box, e.g. {missing[0]}")
    keys = list(truth)
    return 100.0 * average_precision([scored[k] for k in keys], [truth[k] == POSITIVE for k in keys])
