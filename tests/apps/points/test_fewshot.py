"""The few-shot episode sampler (disjoint, sized, seeded) and one tiny end-to-end fold (slow)."""
from __future__ import annotations

import numpy as np
import pytest
from spanmix.apps.points.fewshot import episodes, format_few_shot, run_few_shot


def test_episodes_are_seeded_sized_and_within_their_classes():
    train = np.repeat(np.arange(6), 12)
    test = np.repeat(np.arange(6), 5)
    eps = episodes(train, test, way=5, shot=10, query=20, folds=10, seed=1)
    assert len(eps) == 10
    for classes, sup, qry in eps:
        assert len(set(classes)) == 5 and len(sup) == 50 and len(qry) == 25  # 5 test clouds per class
        assert set(train[sup]) == set(classes) and set(test[qry]) == set(classes)
        assert len(set(sup)) == len(sup) and len(set(qry)) == len(qry)
    again = episodes(train, test, way=5, shot=10, query=20, folds=10, seed=1)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(eps, again))
    assert len({tuple(sorted(e[0])) for e in eps}) > 1  # the folds differ


def test_too_few_classes_is_a_clear_error():
    with pytest.raises(ValueError, match="--way 10 needs 10"):
        episodes(np.repeat(np.arange(3), 20), np.arange(3), way=10, shot=10)


@pytest.mark.slow
def test_one_fold_end_to_end():
    res = run_few_shot("gpsformer", {"size": "tiny", "npoints": [32, 16, 8, 4], "scales": [1.0], "neighbors": 8},
                       way=2, shot=4, query=4, folds=1, epochs=1, n_points=64)
    assert len(res["acc"]) == 1 and 0 <= res["mean"] <= 1
    assert "2-way 4-shot" in format_few_shot(res)
