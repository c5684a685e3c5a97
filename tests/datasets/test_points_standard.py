"""The standard point-cloud loaders on tiny fixtures written in the official layouts; offline messages."""
from __future__ import annotations

import json

import numpy as np
import pytest
from spanmix.datasets import points_standard as S
from spanmix.datasets.points import DatasetNotAvailable

h5py = pytest.importorskip("h5py")
rng = np.random.default_rng(0)


def write_h5(path, m, n=32, normals=False, label_2d=True):
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f["data"] = rng.random((m, n, 3), dtype=np.float32)
        f["label"] = rng.integers(0, 4, (m, 1) if label_2d else (m,)).astype(np.uint8)
        if normals:
            f["normal"] = rng.random((m, n, 3), dtype=np.float32)


def test_modelnet40_layout(tmp_path):
    folder = tmp_path / "modelnet40_ply_hdf5_2048"
    write_h5(folder / "ply_data_train0.h5", 6)
    write_h5(folder / "ply_data_train1.h5", 4)
    write_h5(folder / "ply_data_test0.h5", 3)
    (folder / "shape_names.txt").write_text("\n".join(f"c{i}" for i in range(40)) + "\n")
    d = S.load_modelnet40_h5(cache_dir=tmp_path)
    assert d["splits"]["train"]["points"].shape == (10, 32, 3) and d["splits"]["test"]["label"].shape == (3,)
    assert d["classes"][:2] == ["c0", "c1"]
    out = S.load_standard("modelnet40", cache_dir=tmp_path, val_fraction=0.2)
    assert len(out["splits"]["val"]["label"]) == 2 and len(out["splits"]["train"]["label"]) == 8
    assert len(out["splits"]["test"]["label"]) == 3  # the test split is never touched


@pytest.mark.parametrize("variant", list(S.SCANOBJECTNN_VARIANTS))
def test_scanobjectnn_variants(tmp_path, variant):
    sub, stem = S.SCANOBJECTNN_VARIANTS[variant]
    write_h5(tmp_path / "h5_files" / sub / f"training_{stem}.h5", 5, label_2d=False)
    write_h5(tmp_path / "h5_files" / sub / f"test_{stem}.h5", 2, label_2d=False)
    d = S.load_scanobjectnn(variant, cache_dir=tmp_path)
    assert d["splits"]["train"]["points"].shape == (5, 32, 3) and len(d["classes"]) == 15


def test_shapenetpart_layout(tmp_path):
    folder = tmp_path / "shapenetcore_partanno_segmentation_benchmark_v0_normal"
    (folder / "train_test_split").mkdir(parents=True)
    (folder / "synsetoffset2category.txt").write_text("Airplane\t02691156\nBag\t02773838\n")
    lists = {"train": [], "val": [], "test": []}
    for i, (synset, parts) in enumerate([("02691156", [0, 1, 2, 3]), ("02773838", [4, 5])] * 3):
        (folder / synset).mkdir(exist_ok=True)
        rows = np.column_stack([rng.random((20, 6)), rng.choice(parts, 20)])
        np.savetxt(folder / synset / f"s{i}.txt", rows)
        lists[["train", "val", "test"][i % 3]].append(f"shape_data/{synset}/s{i}")
    for split, entries in lists.items():
        (folder / "train_test_split" / f"shuffled_{split}_file_list.json").write_text(json.dumps(entries))
    d = S.load_shapenetpart(n_points=16, cache_dir=tmp_path)
    train = d["splits"]["train"]
    assert train["points"].shape == (2, 16, 3) and train["normals"].shape == (2, 16, 3) and train["parts"].shape == (2, 16)
    assert d["classes"] == ["Airplane", "Bag"] and d["parts_of_category"] == [[0, 1, 2, 3], [4, 5]]
    for lab, parts in zip(train["label"], train["parts"]):
        assert set(parts) <= set(d["parts_of_category"][lab])


@pytest.mark.parametrize("call, match", [
    (lambda p: S.load_modelnet40_h5(cache_dir=p), "modelnet40_ply_hdf5_2048.*download=True"),
    (lambda p: S.load_scanobjectnn("OBJ_BG", cache_dir=p), "terms-of-use form"),
    (lambda p: S.load_shapenetpart(cache_dir=p), "shapenetcore_partanno_segmentation_benchmark_v0_normal"),
])
def test_missing_sets_say_where_to_put_them(tmp_path, call, match):
    with pytest.raises(DatasetNotAvailable, match=match):
        call(tmp_path)


def test_download_failure_is_a_clear_message(tmp_path, monkeypatch):
    def offline(url, path):
        raise OSError("network is unreachable")

    monkeypatch.setattr(S.urllib.request, "urlretrieve", offline)
    with pytest.raises(DatasetNotAvailable, match="offline"):
        S.load_modelnet40_h5(cache_dir=tmp_path, download=True)


def test_unknown_variant():
    with pytest.raises(ValueError, match="--data.variant"):
        S.load_scanobjectnn("PB_T25")


def test_datamodule_on_the_modelnet40_fixture(tmp_path):
    from spanmix.apps.points.data import PointDataModule

    folder = tmp_path / "modelnet40_ply_hdf5_2048"
    write_h5(folder / "ply_data_train0.h5", 10)
    write_h5(folder / "ply_data_test0.h5", 4)
    dm = PointDataModule("modelnet40", cache_dir=str(tmp_path), n_points=16, batch_size=4)
    batch = next(iter(dm.train_dataloader()))
    assert batch["points"].shape == (4, 16, 3) and dm.num_classes == 40
    assert sum(len(b["label"]) for b in dm.test_dataloader()) == 4
