"""PointsTask / PointDataModule / PartIoU: metrics against hand counts, augmentation, voting, errors."""
from __future__ import annotations

import pytest
import torch
from spanmix.apps.points.data import PointDataModule, augment
from spanmix.apps.points.metrics import PartIoU
from spanmix.apps.points.task import PointsTask, vote_probabilities

SMALL = {"size": "tiny", "npoints": [32, 16, 8, 4], "scales": [1.0], "neighbors": 8}


def test_part_iou_follows_the_shapenetpart_convention():
    metric = PartIoU(2, 4, parts_of_category=[[0, 1], [2, 3]])
    pred = torch.tensor([[0, 0, 1, 1], [2, 2, 2, 2]])
    true = torch.tensor([[0, 1, 1, 1], [2, 2, 2, 2]])
    metric.update(pred, true, torch.tensor([0, 1]))
    out = metric.compute()
    shape0 = (1 / 2 + 2 / 3) / 2  # part 0: 1/2, part 1: 2/3
    shape1 = (1.0 + 1.0) / 2      # part 2: 4/4; part 3 in neither prediction nor truth: 1
    assert out["inst_miou"].item() == pytest.approx((shape0 + shape1) / 2)
    assert out["cls_miou"].item() == pytest.approx((shape0 + shape1) / 2)
    metric.update(pred[:1], true[:1], torch.tensor([0]))  # a second shape of category 0
    out = metric.compute()
    assert out["inst_miou"].item() == pytest.approx((2 * shape0 + shape1) / 3)
    assert out["cls_miou"].item() == pytest.approx((shape0 + shape1) / 2)


def test_kicad_datamodule_batches_and_augmentation():
    dm = PointDataModule("kicad", n_points=64, batch_size=8, rotate_up="z", point_dropout=0.5)
    assert dm.num_classes == 10 and dm.in_channels == 3
    batch = next(iter(dm.val_dataloader()))
    assert batch["points"].shape == (8, 64, 3) and batch["label"].shape == (8,)
    again = next(iter(dm.val_dataloader()))
    assert torch.equal(batch["points"], again["points"])  # evaluation samples are fixed
    seg = PointDataModule("kicad", task="partseg", n_points=64, batch_size=4, use_normals=True)
    b = next(iter(seg.train_dataloader()))
    assert b["points"].shape == (4, 64, 6) and b["parts"].shape == (4, 64) and seg.num_parts == 3


def test_augment_scales_translates_and_keeps_unit_normals():
    g = torch.Generator().manual_seed(0)
    x = torch.cat([torch.rand(100, 3), torch.nn.functional.normalize(torch.randn(100, 3), dim=1)], 1)
    y = augment(x, g, up_axis="z", point_dropout=0.0)
    assert not torch.allclose(x[:, :3], y[:, :3])
    torch.testing.assert_close(y[:, 3:].norm(dim=1), torch.ones(100))


def test_votes_of_one_is_the_softmax():
    torch.manual_seed(0)
    task = PointsTask("gpsformer", SMALL, num_classes=3).eval()
    x = torch.rand(2, 64, 3)
    with torch.no_grad():
        torch.testing.assert_close(vote_probabilities(task.net, x, 1), torch.softmax(task.net(x), -1))
        p = vote_probabilities(task.net, x, 3)
    torch.testing.assert_close(p.sum(-1), torch.ones(2))


@pytest.mark.parametrize("kwargs, match", [
    (dict(task="seg"), "--model.task"),
    (dict(optimizer="rmsprop"), "--model.optimizer"),
    (dict(votes=0), "--model.votes"),
    (dict(model_options={"num_classes": 3}), "must not set"),
    (dict(task="partseg"), "needs a part-segmentation model"),
])
def test_task_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PointsTask(**{"model": "gpsformer", "num_classes": 3, **kwargs})


@pytest.mark.parametrize("kwargs, match", [
    (dict(dataset="modelnet10"), "--data.dataset"),
    (dict(task="partseg", dataset="modelnet40"), "needs part labels"),
    (dict(n_points=4), "--data.n_points"),
    (dict(rotate_up="w"), "--data.rotate_up"),
    (dict(point_dropout=1.5), "--data.point_dropout"),
])
def test_datamodule_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PointDataModule(**kwargs)
