"""Medical point clouds: MedPointS loaders on fixtures in the official folder layouts, the coarse-class
rule, the 20%-removal partials, the shipped frog set, clear errors."""
from __future__ import annotations

import numpy as np
import pytest
from spanmix.datasets import medical_points as M
from spanmix.datasets.points import DatasetNotAvailable, PointDataError


def write_ply(path, pts):
    path.parent.mkdir(parents=True, exist_ok=True)
    head = f"ply\nformat ascii 1.0\nelement vertex {len(pts)}\nproperty float x\nproperty float y\nproperty float z\nend_header\n"
    path.write_text(head + "\n".join(" ".join(f"{v:.6f}" for v in p) for p in pts) + "\n")


def cloud(n, seed):
    return np.random.default_rng(seed).normal(size=(n, 3)).astype(np.float32)


@pytest.fixture
def medpoints(tmp_path):
    root = tmp_path / "MedPointS"
    for fold in (1, 2):
        write_ply(root / "classification" / f"fold{fold}" / "kidneyleft" / "s1.ply", cloud(30, fold))
        write_ply(root / "classification" / f"fold{fold}" / "liver" / "s1.ply", cloud(40, fold + 10))
        pcd = cloud(50, fold + 20)
        write_ply(root / "segmentation" / f"fold{fold}" / "pcd" / "b1.ply", pcd)
        (root / "segmentation" / f"fold{fold}" / "coarse_label").mkdir(parents=True)
        np.savetxt(root / "segmentation" / f"fold{fold}" / "coarse_label" / "b1.seg", (np.arange(50) % 46) + 1, fmt="%d")
        write_ply(root / "completion" / f"fold{fold}" / "partial" / "costa3right" / "s2.ply", cloud(24, fold + 30))
        write_ply(root / "completion" / f"fold{fold}" / "target" / "costa3right" / "s2.ply", cloud(30, fold + 40))
    return root


def test_classification_layout(medpoints):
    d = M.load_medpoints("cls", medpoints / "classification", folds=[1, 2])
    assert [len(p) for p in d["points"]] == [30, 40, 30, 40]
    assert d["label"].tolist() == [M.MEDPOINTS_CLASSES.index("kidney"), M.MEDPOINTS_CLASSES.index("liver")] * 2
    np.testing.assert_allclose(d["points"][0], cloud(30, 1), atol=1e-5)       # read back exactly (6 decimals)


def test_segmentation_layout_labels_are_zero_based(medpoints):
    d = M.load_medpoints("seg", medpoints / "segmentation", folds=[2])
    assert len(d["points"]) == 1 and d["points"][0].shape == (50, 3)
    assert d["labels"][0].tolist() == (np.arange(50) % 46).tolist()


def test_completion_layout_pairs_partial_and_target(medpoints):
    d = M.load_medpoints("cpl", medpoints / "completion", folds=[1, 2])
    assert [len(p) for p in d["points"]] == [24, 24] and [len(t) for t in d["target"]] == [30, 30]
    assert d["label"].tolist() == [M.MEDPOINTS_CLASSES.index("costa")] * 2


def test_coarse_class_rule():
    assert len(M.MEDPOINTS_CLASSES) == 46
    for fine, coarse in [("kidneyright", "kidney"), ("costa10left", "costa"), ("vertebraeT10", "vertebrae"),
                         ("lungupperlobeleft", "lung"), ("gluteusmediusright", "gluteusmaximus"),
                         ("urinarybladder", "bladder"), ("heartventricleleft", "heart"), ("ribleft7", "rib"),
                         ("clavicularight", "clavicula"), ("Spleen", "spleen")]:
        assert M.MEDPOINTS_CLASSES[M.coarse_class(fine)] == coarse


def test_bad_layouts_are_one_clear_error(medpoints, tmp_path):
    with pytest.raises(DatasetNotAvailable, match="fold5 is missing"):
        M.load_medpoints("cls", medpoints / "classification", folds=[5])
    (medpoints / "classification" / "fold1" / "teapot").mkdir()
    with pytest.raises(PointDataError, match="teapot: not a MedPointS organ folder"):
        M.load_medpoints("cls", medpoints / "classification", folds=[1])
    seg = medpoints / "segmentation" / "fold1" / "coarse_label" / "b1.seg"
    np.savetxt(seg, np.ones(49), fmt="%d")
    with pytest.raises(PointDataError, match="49 labels for 50 points"):
        M.load_medpoints("seg", medpoints / "segmentation", folds=[1])
    np.savetxt(seg, np.zeros(50), fmt="%d")
    with pytest.raises(PointDataError, match=r"labels must be in 1..46"):
        M.load_medpoints("seg", medpoints / "segmentation", folds=[1])
    with pytest.raises(PointDataError, match="task must be"):
        M.load_medpoints("det", medpoints)


def test_remove_nearest_drops_the_ratio_nearest_a_seed_point():
    pts = cloud(100, 0)
    part = M.remove_nearest(pts, 0.2, seed=3)
    assert part.shape == (80, 3)
    centre = pts[np.random.default_rng(3).integers(100)]
    kept = ((part - centre) ** 2).sum(1)
    removed = np.array([p for p in pts if not (part == p).all(1).any()])
    assert len(removed) == 20 and ((removed - centre) ** 2).sum(1).max() <= kept.min()
    with pytest.raises(PointDataError, match="ratio"):
        M.remove_nearest(pts, 1.5)


def test_shipped_frog_sample():
    d = M.load_frog_sample()
    assert d["tissues"] == list(M.FROG_TISSUES)
    assert d["cls_points"].shape == (480, 512, 3) and d["seg_points"].shape == (32, 2048, 3)
    assert np.bincount(d["cls_label"]).tolist() == [32] * 15
    assert {s: int((d["cls_split"] == s).sum()) for s in ("train", "val", "test")} == {"train": 300, "val": 90, "test": 90}
    assert d["seg_labels"].min() >= 0 and d["seg_labels"].max() <= 14
    assert np.allclose(np.linalg.norm(d["seg_points"], axis=-1).max(1), 1.0, atol=2e-3)   # seg crops: unit sphere
    # classification crops: centred, ONE frog-wide scale, so organ size survives (spleen crops far smaller
    # than skeleton crops)
    assert np.abs(d["cls_points"].mean(1)).max() < 2e-3
    r = np.linalg.norm(d["cls_points"], axis=-1).max(1)
    assert abs(r.max() - 1.0) < 2e-3
    size = {t: np.median(r[d["cls_label"] == i]) for i, t in enumerate(M.FROG_TISSUES)}
    assert size["spleen"] < 0.1 < 0.5 < size["skeleton"]
