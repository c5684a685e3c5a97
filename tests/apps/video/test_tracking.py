"""The face tracker: IoU linking, gap filling, smoothing, two faces crossing nothing."""
from __future__ import annotations

import numpy as np
import pytest

from spanmix.apps.video.asd.tracking import box_iou, fill_gaps, smooth_boxes, track_faces


def test_box_iou_hand_computed():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 10, 10]])
    np.testing.assert_allclose(box_iou(a, b), [[50 / 150, 0.0, 1.0]])


def test_two_faces_become_two_tracks_and_a_gap_is_filled_linearly():
    left = [np.array([10.0 + t, 10, 50 + t, 50]) for t in range(30)]
    right = [np.array([200.0, 10 + t, 240, 50 + t]) for t in range(30)]
    detections = []
    for t in range(30):
        boxes = [right[t]]
        if t not in (10, 11, 12):  # the left face is missed for 3 frames
            boxes.insert(0, left[t])
        detections.append(np.stack(boxes))
    tracks = track_faces(detections, max_gap=5, min_length=5, smooth=1)
    assert len(tracks) == 2
    first = tracks[0]
    np.testing.assert_array_equal(first.frames, np.arange(30))
    np.testing.assert_allclose(first.boxes, np.stack(left))  # linear motion: interpolation is exact
    assert not first.detected[10:13].any() and first.detected[:10].all()
    np.testing.assert_allclose(tracks[1].boxes, np.stack(right))


def test_a_long_gap_splits_the_track_and_short_tracks_are_dropped():
    box = np.array([[10.0, 10, 50, 50]])
    none = np.zeros((0, 4))
    detections = [box] * 12 + [none] * 8 + [box] * 12 + [none] * 5 + [box] * 3
    tracks = track_faces(detections, max_gap=4, min_length=10, smooth=1)
    assert [(t.start, t.end) for t in tracks] == [(0, 12), (20, 32)]


def test_low_overlap_starts_a_new_track():
    detections = [np.array([[0.0, 0, 10, 10]])] * 10 + [np.array([[8.0, 8, 18, 18]])] * 10
    tracks = track_faces(detections, iou=0.3, min_length=5, smooth=1)
    assert [(t.start, t.end) for t in tracks] == [(0, 10), (10, 20)]


def test_smoothing_removes_jitter_but_keeps_a_constant_box():
    rng = np.random.default_rng(0)
    true = np.tile([100.0, 100, 160, 160], (50, 1))
    noisy = true + rng.normal(0, 3, true.shape)
    smooth = smooth_boxes(noisy, 9)
    assert np.abs(smooth - true).mean() < 0.5 * np.abs(noisy - true).mean()
    np.testing.assert_allclose(smooth_boxes(true, 9), true)


def test_fill_gaps_reports_detected_frames():
    frames, boxes, detected = fill_gaps(np.array([2, 5]), np.array([[0.0, 0, 3, 3], [3, 0, 6, 3]]))
    np.testing.assert_array_equal(frames, [2, 3, 4, 5])
    np.testing.assert_allclose(boxes[:, 0], [0, 1, 2, 3])
    np.testing.assert_array_equal(detected, [True, False, False, True])


def test_bad_options():
    with pytest.raises(ValueError, match="iou"):
        track_faces([], iou=0)
    with pytest.raises(ValueError, match="min_length"):
        track_faces([], min_length=0)
