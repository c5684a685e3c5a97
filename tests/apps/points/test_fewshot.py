"""The few-shot episode sampler (disjoint, sized, seeded) and one tiny end-to-end fold (slow)."""
from __future__ import annotations

import json

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


@pytest.mark.slow
def test_fewshot_command_writes_every_fold(tmp_path, capsys):
    from spanmix.apps.points.cli import main

    cfg = tmp_path / "tiny.yaml"
    cfg.write_text("trainer: {max_epochs: 1}\n"
                   "model: {model: dgcnn, model_options: {k: 4, emb_dims: 32, widths: [8, 8, 8, 8]}, lr: 0.002}\n"
                   "data: {dataset: kicad, n_points: 32, batch_size: 8}\n")
    out = tmp_path / "fs.json"
    main(["fewshot", "--config", str(cfg), "--way", "2", "--shot", "3", "--query", "2", "--folds", "2",
          "--out", str(out)])
    res = json.loads(out.read_text())
    assert res["model"] == "dgcnn" and res["way"] == 2 and res["shot"] == 3 and len(res["acc"]) == 2
    assert res["mean"] == pytest.approx(np.mean(res["acc"]))
    assert "2-way 3-shot, 2 folds" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--config", "missing.yaml"], "no such file"),
    (["--config", "apps/points/configs/gpsformer_partseg_kicad.yaml"], "classification config"),
    (["--config", "apps/points/configs/dgcnn_kicad.yaml", "--way", "1"], "--way must be >= 2"),
])
def test_fewshot_command_errors(argv, message):
    from spanmix.apps.harness.errors import SpanmixError
    from spanmix.apps.points.cli import main

    with pytest.raises(SpanmixError, match=message):
        main(["fewshot", *argv])
