"""Point SSM tasks: the segmentation and completion losses against direct formulas, the data module's medical
batches, task/data errors, and ``spanmix points fit`` offline for the three frog configs (slow)."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from spanmix.apps.points import chamfer
from spanmix.apps.points.data import PointDataModule
from spanmix.apps.points.task import PointsTask, dice_loss

ROOT = Path(__file__).resolve().parents[3]
MICRO = {"size": "tiny", "npoints": [32, 16, 8, 4, 2], "dims": [16, 16, 16, 16, 16], "k": 4, "d_state": 4}


def test_dice_loss_matches_the_formula():
    g = torch.Generator().manual_seed(0)
    logits, target = torch.randn(2, 20, 4, generator=g), torch.randint(0, 3, (2, 20), generator=g)
    p = torch.softmax(logits, -1).reshape(-1, 4)
    y = F.one_hot(target.reshape(-1), 4).float()
    per_class = [2 * (p[:, c] * y[:, c]).sum() / (p[:, c].sum() + y[:, c].sum()) for c in range(4)]
    torch.testing.assert_close(dice_loss(logits, target), 1 - torch.stack(per_class).mean(), rtol=1e-5, atol=1e-6)
    assert float(dice_loss(torch.where(F.one_hot(target, 4).bool(), 50.0, -50.0), target)) < 1e-5


def test_frog_batches_for_the_three_tasks():
    cls = PointDataModule("frog", task="cls", n_points=128, batch_size=4)
    b = next(iter(cls.train_dataloader()))
    assert b["points"].shape == (4, 128, 3) and cls.num_classes == 15 and cls.classes[0] == "blood"
    seg = PointDataModule("frog", task="seg", n_points=256, batch_size=2)
    b = next(iter(seg.val_dataloader()))
    assert b["parts"].shape == (2, 256) and int(b["parts"].max()) < 15
    cpl = PointDataModule("frog", task="completion", n_points=200, n_target=256, batch_size=3)
    assert cpl.num_categories == 15
    b1, b2 = next(iter(cpl.test_dataloader())), next(iter(cpl.test_dataloader()))
    assert b1["points"].shape == (3, 200, 3) and b1["target"].shape == (3, 256, 3)
    assert torch.equal(b1["points"], b2["points"])                       # fixed partials for val/test
    # the partial misses a region of the target: some target point is far from every input point
    d, _ = chamfer.nearest(b1["target"], b1["points"])
    assert float(d.max(1).values.min()) > 0.01


def test_completion_loss_is_dcd_plus_weighted_chamfer():
    torch.manual_seed(0)
    task = PointsTask("point_ssm_completion", dict(MICRO, n_out=16, fold_hidden=[16], dense=[16]), task="completion",
                      num_classes=3, num_categories=3)
    pred, target = torch.rand(2, 16, 3), torch.rand(2, 20, 3)
    expected = (chamfer.density_aware_chamfer(pred, target, alpha=40, n_lambda=0.5).mean()
                + 0.001 * chamfer.chamfer_distance(pred, target).mean())
    torch.testing.assert_close(task._loss(pred, {"target": target}), expected)


@pytest.mark.parametrize("make, match", [
    (lambda: PointsTask("point_ssm", MICRO, task="seg", num_classes=3), "needs a seg model"),
    (lambda: PointsTask("point_ssm_seg", MICRO, task="cls", num_classes=3), "needs a classification model"),
    (lambda: PointsTask("point_ssm", MICRO, num_classes=3, schedule="step"), "schedule must be"),
    (lambda: PointDataModule("kicad", task="seg"), "needs a medical set"),
    (lambda: PointDataModule("frog", task="partseg"), "use seg with frog"),
    (lambda: PointDataModule("medpoints", task="cls", cache_dir="/nonexistent/medpoints"), "fold1 is missing"),
])
def test_bad_task_or_data_is_one_clear_error(make, match):
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        make()


@pytest.mark.slow
@pytest.mark.parametrize("task, metric", [("cls", "val/oa"), ("seg", "val/miou"), ("completion", "val/cd_l2")])
def test_fit_offline_on_the_frog_configs(task, metric, tmp_path, monkeypatch):
    from spanmix.apps.points.cli import main

    monkeypatch.chdir(tmp_path)
    options = dict(MICRO)
    if task == "seg":
        options["fp_dims"] = [16, 16, 16, 16, 16]
    if task == "completion":
        options.update(n_out=16, fold_hidden=[16], dense=[16])
    cfg = ROOT / f"apps/points/configs/point_ssm_{task}_frog.yaml"
    import json

    main(["fit", "--config", str(cfg), "--model.model_options", json.dumps(options), "--data.n_points", "64",
          "--data.batch_size", "4", "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2",
          "--trainer.limit_val_batches", "1", "--trainer.enable_progress_bar", "false"])
    run = tmp_path / f"runs/points/point_ssm_{task}_frog"
    assert (run / "checkpoints/last.ckpt").is_file()
    text = "".join(p.read_text() for p in (run / "csv").rglob("metrics.csv"))
    assert metric in text


def _ply(path, pts):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("ply\nformat ascii 1.0\nelement vertex %d\nproperty float x\nproperty float y\nproperty float z\n"
                    "end_header\n" % len(pts) + "\n".join("%.5f %.5f %.5f" % tuple(p) for p in pts) + "\n")


def test_medpoints_folds_through_the_data_module(tmp_path):
    """Folds 1-3 train, 4 val, 5 test, in the official layouts; clouds of any size sampled to n_points."""
    import numpy as np

    rng = np.random.default_rng(0)
    for fold in range(1, 6):
        _ply(tmp_path / "cls" / f"fold{fold}" / "liver" / "a.ply", rng.normal(size=(10 + fold, 3)))
        _ply(tmp_path / "seg" / f"fold{fold}" / "pcd" / "a.ply", rng.normal(size=(40, 3)))
        (tmp_path / "seg" / f"fold{fold}" / "coarse_label").mkdir(parents=True)
        np.savetxt(tmp_path / "seg" / f"fold{fold}" / "coarse_label" / "a.seg", rng.integers(1, 47, 40), fmt="%d")
        for part in ("partial", "target"):
            _ply(tmp_path / "cpl" / f"fold{fold}" / part / "kidneyleft" / "a.ply", rng.normal(size=(30, 3)))
    cls = PointDataModule("medpoints", task="cls", cache_dir=str(tmp_path / "cls"), n_points=16, batch_size=8)
    assert cls.num_classes == 46 and [len(cls.splits[s]["label"]) for s in ("train", "val", "test")] == [3, 1, 1]
    b = next(iter(cls.train_dataloader()))
    assert b["points"].shape == (3, 16, 3) and b["label"].tolist() == [26] * 3
    seg = PointDataModule("medpoints", task="seg", cache_dir=str(tmp_path / "seg"), n_points=32, batch_size=8)
    assert next(iter(seg.test_dataloader()))["parts"].shape == (1, 32)
    cpl = PointDataModule("medpoints", task="completion", cache_dir=str(tmp_path / "cpl"), n_points=20, n_target=24)
    b = next(iter(cpl.val_dataloader()))
    assert b["points"].shape == (1, 20, 3) and b["target"].shape == (1, 24, 3) and b["category"].tolist() == [25]


@pytest.mark.parametrize("name, dataset", [("point_ssm_cls_frog", "frog"), ("point_ssm_cls_human", "human")])
def test_shipped_classifiers_give_finite_logits_on_every_eval_cloud(name, dataset):
    """Without range_guard the BatchNorm classifiers overflowed to NaN on 5/90 frog and 4/36 human test clouds."""
    from spanmix.apps.harness import load_pretrained
    from spanmix.apps.points.classify import n_points_of

    path = ROOT / "pretrained" / "points" / name
    task = load_pretrained(str(path)).eval()
    dm = PointDataModule(dataset, task="cls", n_points=n_points_of(str(path)), batch_size=500)
    dm.setup("fit")
    dm.setup("test")
    for loader in (dm.val_dataloader(), dm.test_dataloader()):
        for batch in loader:
            with torch.no_grad():
                assert bool(torch.isfinite(task.net(batch["points"])).all())
