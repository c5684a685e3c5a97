"""AVA AP on hand-computed cases, and the matching rules."""
from __future__ import annotations

import pytest

from spanmix.apps.video.asd.metric import ava_map, average_precision


def test_perfect_and_worst_ranking():
    assert average_precision([0.9, 0.8, 0.1], [True, True, False]) == pytest.approx(1.0)
    # Positive ranked last of 3: precision at its recall step is 1/3.
    assert average_precision([0.9, 0.8, 0.1], [False, False, True]) == pytest.approx(1 / 3)


def test_hand_computed_voc_area_with_monotone_precision():
    # ranking: P N P N P -> precision 1, 1/2, 2/3, 2/4, 3/5 at recall 1/3, 1/3, 2/3, 2/3, 1
    # monotone precision (max to the right) at the recall steps: 1, 2/3, 3/5
    ap = average_precision([5, 4, 3, 2, 1], [True, False, True, False, True])
    assert ap == pytest.approx((1 + 2 / 3 + 3 / 5) / 3)
    # N P P: precision 0, 1/2, 2/3 at recall 0, 1/2, 1 -> monotone: 2/3 at both steps
    assert average_precision([3, 2, 1], [False, True, True]) == pytest.approx(2 / 3)


def test_ties_keep_the_given_order():
    assert average_precision([1, 1], [False, True]) == pytest.approx(0.5)
    assert average_precision([1, 1], [True, False]) == pytest.approx(1.0)


def _row(ts, x1, label=None, score=None, video="v1"):
    row = {"video_id": video, "frame_timestamp": ts, "x1": x1, "y1": 0.1, "x2": x1 + 0.2, "y2": 0.5}
    if label:
        row["label"] = label
    if score is not None:
        row.update(label="SPEAKING_AUDIBLE", score=score)
    return row


def test_ava_map_matches_by_video_timestamp_and_box():
    gt = [_row(900.0, 0.1, "SPEAKING_AUDIBLE"), _row(900.0, 0.5, "NOT_SPEAKING"),
          _row(900.04, 0.1, "SPEAKING_NOT_AUDIBLE"), _row(900.04, 0.5, "SPEAKING_AUDIBLE")]
    preds = [_row(900.04, 0.5, score=0.2), _row(900.0, 0.1, score=0.9), _row(900.0, 0.5, score=0.3),
             _row(900.04, 0.1, score=0.1), _row(950.0, 0.1, score=1.0)]  # extra predictions are ignored
    # ranking by score: P(0.9) N(0.3) P(0.2) N(0.1) -> (1 + 2/3) / 2
    assert ava_map(gt, preds) == pytest.approx(100 * (1 + 2 / 3) / 2)


def test_ava_map_errors():
    gt = [_row(900.0, 0.1, "SPEAKING_AUDIBLE")]
    with pytest.raises(ValueError, match="no prediction with the same video, timestamp and box"):
        ava_map(gt, [_row(900.0, 0.3, score=0.5)])
    with pytest.raises(ValueError, match="prediction labels must be"):
        ava_map(gt, [{**_row(900.0, 0.1, score=0.5), "label": "NOT_SPEAKING"}])
    with pytest.raises(ValueError, match="unknown ground-truth label"):
        ava_map([_row(900.0, 0.1, "TALKING")], [])
    with pytest.raises(ValueError, match="without a positive"):
        average_precision([0.1], [False])
    with pytest.raises(ValueError, match="NaN"):
        average_precision([float("nan")], [True])
