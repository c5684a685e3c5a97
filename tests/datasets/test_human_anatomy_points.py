"""The shipped human anatomy set (fsaverage head structures): shapes, classes, region split, the data module's
batches, a clear error for the task it cannot serve, and the config fitting one batch offline."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from spanmix.datasets.human_anatomy_points import HUMAN_STRUCTURES, load_human_sample
from spanmix.datasets.points import DatasetNotAvailable

ROOT = Path(__file__).resolve().parents[2]
MICRO = {"size": "tiny", "npoints": [32, 16, 8, 4, 2], "dims": [16, 16, 16, 16, 16], "k": 4, "d_state": 4}


@pytest.fixture(scope="module")
def human():
    return load_human_sample()


def test_shapes_classes_and_split_sizes(human):
    assert human["structures"] == list(HUMAN_STRUCTURES) and len(HUMAN_STRUCTURES) == 6
    assert human["cls_points"].shape == (192, 512, 3) and human["cls_centre"].shape == (192, 3)
    for c in range(6):
        split = human["cls_split"][human["cls_label"] == c]
        counts = {s: int((split == s).sum()) for s in ("train", "val", "test")}
        assert counts == {"train": 20, "val": 6, "test": 6}
    np.testing.assert_allclose(human["cls_points"].mean(1), 0, atol=2e-3)     # each crop centred on its mean
    assert "FreeSurfer" in human["provenance"] and "nilearn" in human["provenance"]


def test_one_scale_keeps_relative_size(human):
    """Scaled by one factor for the whole set: the scalp's crops are larger than the inner skull's, which
    are larger than the cortex's (per-crop unit spheres would make every radius 1)."""
    radius = np.linalg.norm(human["cls_points"], axis=-1).max(1)
    mean = [radius[human["cls_label"] == c].mean() for c in range(6)]
    assert mean[0] > mean[1] > max(mean[2:]) and max(radius) <= 1.0


def test_val_and_test_crops_are_new_crops_over_seen_surface(human):
    """The shipped split (``--held-out seeds``): val/test crops are other crops than the training ones (other
    centres), yet back in the template frame their points lie on surface the training crops cover, as the
    recorded ``test_overlap`` says (1.0)."""
    from scipy.spatial import cKDTree

    assert human["held_out"] == "seeds" and human["test_overlap"] == pytest.approx(1.0)
    pts = human["cls_points"] + human["cls_centre"][:, None]
    for c in range(6):
        of = lambda s: (human["cls_label"] == c) & (human["cls_split"] == s)  # noqa: E731
        train_centres = cKDTree(human["cls_centre"][of("train")])
        train_points = cKDTree(pts[of("train")].reshape(-1, 3))
        for s in ("val", "test"):
            assert train_centres.query(human["cls_centre"][of(s)])[0].min() > 1e-2
            # 512 of each crop's 5,000 surface points are stored: a covered point is near a stored one
            # (median 0.005-0.008 here; 0.09-0.29 on the strictly disjoint ``--held-out surface`` set)
            assert np.median(train_points.query(pts[of(s)].reshape(-1, 3))[0]) < 0.02


def test_missing_file_is_one_clear_error(tmp_path):
    with pytest.raises(DatasetNotAvailable, match="prepare_human_anatomy_sample"):
        load_human_sample(tmp_path / "nope.npz")


def test_data_module_batches_and_seg_error():
    from spanmix.apps.points.data import PointDataModule

    dm = PointDataModule("human", task="cls", n_points=128, batch_size=4)
    b = next(iter(dm.train_dataloader()))
    assert b["points"].shape == (4, 128, 3) and dm.num_classes == 6 and dm.classes == list(HUMAN_STRUCTURES)
    assert len(dm.splits["test"]["label"]) == 36
    cpl = PointDataModule("human", task="completion", n_points=200, n_target=256, batch_size=2)
    b = next(iter(cpl.val_dataloader()))
    assert b["points"].shape == (2, 200, 3) and b["target"].shape == (2, 256, 3) and cpl.num_categories == 6
    with pytest.raises(ValueError, match="human set has no per-point labels"):
        PointDataModule("human", task="seg")


def test_config_fits_one_batch_offline(tmp_path, monkeypatch):
    from spanmix.apps.points.cli import main

    monkeypatch.chdir(tmp_path)
    main(["fit", "--config", str(ROOT / "apps/points/configs/point_ssm_cls_human.yaml"),
          "--model.model_options", json.dumps(MICRO), "--data.n_points", "64", "--data.batch_size", "4",
          "--trainer.max_epochs", "1",
          "--trainer.limit_train_batches", "1", "--trainer.limit_val_batches", "1",
          "--trainer.enable_progress_bar", "false"])
    run = tmp_path / "runs/points/point_ssm_cls_human"
    assert (run / "checkpoints/last.ckpt").is_file()
    assert "val/oa" in "".join(p.read_text() for p in (run / "csv").rglob("metrics.csv"))
