"""Standard point-cloud benchmarks in their official layouts, read from the cache (``$SPANMIX_CACHE/points``).

    from spanmix.datasets.points_standard import load_modelnet40_h5, load_scanobjectnn, load_shapenetpart

    d = load_modelnet40_h5()                       # {"splits": {"train": {...}, "test": {...}}, "classes": [...]}
    d = load_scanobjectnn("PB_T50_RS")             # also "OBJ_BG", "OBJ_ONLY"
    d = load_shapenetpart()                        # points, normals, per-point parts (50), 16 categories

Layouts (what the authors' archives unpack to, under ``cache_dir("points")``):

- **ModelNet40** (Wu et al. 2015; PointNet's resampling, Qi et al. 2017): ``modelnet40_ply_hdf5_2048/``
  with ``ply_data_train{0..4}.h5`` / ``ply_data_test{0,1}.h5`` (``data`` (M, 2048, 3) float32, ``label``
  (M, 1), optionally ``normal``) and ``shape_names.txt``. ``download=True`` fetches ``MODELNET40_URL``
  (the original Stanford link; no checksum was ever published, so the download is unverified).
- **ScanObjectNN** (Uy et al., ICCV 2019): ``h5_files/main_split/{training,test}_objectdataset_augmentedrot_scale75.h5``
  (PB_T50_RS), ``h5_files/main_split/{training,test}_objectdataset.h5`` (OBJ_BG) and
  ``h5_files/main_split_nobg/...`` (OBJ_ONLY); ``data`` (M, 2048, 3), ``label`` (M,). The authors hand out
  the download link after a terms-of-use form, so there is no automatic download: put the files there.
- **ShapeNetPart** (Yi et al. 2016): ``shapenetcore_partanno_segmentation_benchmark_v0_normal/`` with
  ``synsetoffset2category.txt``, ``<synset>/<id>.txt`` rows ``x y z nx ny nz part`` and
  ``train_test_split/shuffled_{train,val,test}_file_list.json``; parts 0..49, ``SHAPENETPART_PARTS`` per
  category. ``download=True`` fetches ``SHAPENETPART_URL`` (unverified, no published checksum).

A missing set raises :class:`~spanmix.datasets.points.DatasetNotAvailable` naming the folder to fill.
Every loaded split is a dict of arrays: ``points`` (M, N, 3) float32, ``label`` (M,) int64, and where the
files have them ``normals`` (M, N, 3) and ``parts`` (M, N) int64. ShapeNetPart clouds differ in size; each
is resampled to ``n_points`` (seeded) so that they stack.
"""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
from spanmix.datasets.cache import cache_dir as _cache_dir
from spanmix.datasets.points import DatasetNotAvailable, PointDataError

__all__ = ["MODELNET40_URL", "SCANOBJECTNN_VARIANTS", "SHAPENETPART_PARTS", "SHAPENETPART_URL", "load_modelnet40_h5",
           "load_scanobjectnn", "load_shapenetpart", "load_standard"]

MODELNET40_URL = "https://shapenet.cs.stanford.edu/media/modelnet40_ply_hdf5_2048.zip"
SHAPENETPART_URL = "https://shapenet.cs.stanford.edu/media/shapenetcore_partanno_segmentation_benchmark_v0_normal.zip"
SCANOBJECTNN_VARIANTS = {
    "PB_T50_RS": ("main_split", "objectdataset_augmentedrot_scale75"),
    "OBJ_BG": ("main_split", "objectdataset"),
    "OBJ_ONLY": ("main_split_nobg", "objectdataset"),
}
SCANOBJECTNN_CLASSES = ["bag", "bin", "box", "cabinet", "chair", "desk", "display", "door", "shelf", "table", "bed",
                        "pillow", "sink", "sofa", "toilet"]
#: ShapeNetPart's part ids per category (the benchmark's fixed numbering, 50 parts in all)
SHAPENETPART_PARTS = {
    "Airplane": [0, 1, 2, 3], "Bag": [4, 5], "Cap": [6, 7], "Car": [8, 9, 10, 11], "Chair": [12, 13, 14, 15],
    "Earphone": [16, 17, 18], "Guitar": [19, 20, 21], "Knife": [22, 23], "Lamp": [24, 25, 26, 27],
    "Laptop": [28, 29], "Motorbike": [30, 31, 32, 33, 34, 35], "Mug": [36, 37], "Pistol": [38, 39, 40],
    "Rocket": [41, 42, 43], "Skateboard": [44, 45, 46], "Table": [47, 48, 49],
}


def _h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError("reading the .h5 benchmark files needs h5py: pip install 'spanmix[points]'") from None
    return h5py


def _missing(folder: Path, what: str, how: str) -> DatasetNotAvailable:
    return DatasetNotAvailable(f"{what} is not in {folder}. {how} (the cache root is $SPANMIX_CACHE/points, "
                               "default ~/.cache/spanmix/points, or pass cache_dir=...)")


def _download_zip(url: str, root: Path, folder: str) -> None:
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / (folder + ".zip.part")
    try:
        urllib.request.urlretrieve(url, tmp)
    except (urllib.error.URLError, OSError) as e:
        tmp.unlink(missing_ok=True)
        raise DatasetNotAvailable(f"could not download {url} ({e}); offline? Put the unpacked folder {folder}/ "
                                  f"into {root}") from None
    with zipfile.ZipFile(tmp) as z:
        z.extractall(root)
    tmp.unlink()


def _read_h5(path: Path) -> dict[str, np.ndarray]:
    h5py = _h5py()
    with h5py.File(path, "r") as f:
        if "data" not in f or "label" not in f:
            raise PointDataError(f"{path.name}: expected datasets 'data' (M, N, 3) and 'label', found {sorted(f)}")
        out = {"points": np.asarray(f["data"][:, :, :3], np.float32), "label": np.asarray(f["label"]).reshape(-1).astype(np.int64)}
        if "normal" in f:
            out["normals"] = np.asarray(f["normal"], np.float32)
    return out


def _concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    keys = set.intersection(*(set(p) for p in parts))
    return {k: np.concatenate([p[k] for p in parts]) for k in keys}


def load_modelnet40_h5(*, download: bool = False, cache_dir: str | os.PathLike | None = None) -> dict:
    """ModelNet40 (``modelnet40_ply_hdf5_2048``): splits ``train`` (9,840) and ``test`` (2,468), 40 classes."""
    root = _cache_dir("points", cache_dir)
    folder = root / "modelnet40_ply_hdf5_2048"
    if not folder.is_dir() and download:
        _download_zip(MODELNET40_URL, root, folder.name)
    if not folder.is_dir():
        raise _missing(folder, "ModelNet40 (modelnet40_ply_hdf5_2048)",
                       f"Download and unzip {MODELNET40_URL} there, or pass download=True / --data.download true")
    names = (folder / "shape_names.txt").read_text().split() if (folder / "shape_names.txt").is_file() else \
        [str(i) for i in range(40)]
    splits = {}
    for split in ("train", "test"):
        files = sorted(folder.glob(f"ply_data_{split}*.h5"))
        if not files:
            raise _missing(folder, f"ModelNet40's ply_data_{split}*.h5", "The folder is incomplete; unzip it again")
        splits[split] = _concat([_read_h5(f) for f in files])
    return {"splits": splits, "classes": names}


def load_scanobjectnn(variant: str = "PB_T50_RS", *, cache_dir: str | os.PathLike | None = None) -> dict:
    """ScanObjectNN ``variant`` (``PB_T50_RS``, ``OBJ_BG``, ``OBJ_ONLY``): ``train`` and ``test``, 15 classes."""
    if variant not in SCANOBJECTNN_VARIANTS:
        raise ValueError(f"--data.variant: unknown ScanObjectNN variant {variant!r}; expected one of "
                         f"{', '.join(SCANOBJECTNN_VARIANTS)}")
    sub, stem = SCANOBJECTNN_VARIANTS[variant]
    folder = _cache_dir("points", cache_dir) / "h5_files" / sub
    splits = {}
    for split, prefix in (("train", "training"), ("test", "test")):
        path = folder / f"{prefix}_{stem}.h5"
        if not path.is_file():
            raise _missing(folder, f"ScanObjectNN {variant} ({path.name})",
                           "Its authors share the download link after a terms-of-use form "
                           "(hkust-vgd.github.io/scanobjectnn); put their h5_files/ folder there")
        splits[split] = _read_h5(path)
    return {"splits": splits, "classes": SCANOBJECTNN_CLASSES}


def load_shapenetpart(*, n_points: int = 2048, download: bool = False, cache_dir: str | os.PathLike | None = None,
                      seed: int = 0) -> dict:
    """ShapeNetPart (normal layout): ``train``/``val``/``test`` with points, normals, 50 part labels; 16 categories."""
    root = _cache_dir("points", cache_dir)
    folder = root / "shapenetcore_partanno_segmentation_benchmark_v0_normal"
    if not folder.is_dir() and download:
        _download_zip(SHAPENETPART_URL, root, folder.name)
    if not (folder / "synsetoffset2category.txt").is_file():
        raise _missing(folder, "ShapeNetPart (shapenetcore_partanno_segmentation_benchmark_v0_normal)",
                       f"Download and unzip {SHAPENETPART_URL} there, or pass download=True / --data.download true")
    cats = [line.split() for line in (folder / "synsetoffset2category.txt").read_text().splitlines() if line.strip()]
    name_of = {synset: name for name, synset in cats}
    classes = [name for name, _ in cats]
    rng = np.random.default_rng(seed)
    splits = {}
    for split in ("train", "val", "test"):
        listing = folder / "train_test_split" / f"shuffled_{split}_file_list.json"
        if not listing.is_file():
            raise _missing(folder, f"ShapeNetPart's {listing.name}", "The folder is incomplete; unzip it again")
        pts, nrm, parts, labels = [], [], [], []
        for entry in json.loads(listing.read_text()):
            _, synset, shape = entry.split("/")[-3:]
            rows = np.loadtxt(folder / synset / f"{shape}.txt", dtype=np.float32, ndmin=2)
            if rows.shape[1] != 7:
                raise PointDataError(f"{synset}/{shape}.txt: expected 7 columns 'x y z nx ny nz part', got {rows.shape[1]}")
            idx = rng.choice(len(rows), n_points, replace=len(rows) < n_points)
            pts.append(rows[idx, :3])
            nrm.append(rows[idx, 3:6])
            parts.append(rows[idx, 6].astype(np.int64))
            labels.append(classes.index(name_of[synset]))
        splits[split] = {"points": np.stack(pts), "normals": np.stack(nrm), "parts": np.stack(parts),
                         "label": np.array(labels, np.int64)}
    return {"splits": splits, "classes": classes, "num_parts": 50, "part_names": [str(i) for i in range(50)],
            "parts_of_category": [SHAPENETPART_PARTS.get(c, []) for c in classes]}


def load_standard(dataset: str, *, variant: str = "PB_T50_RS", download: bool = False, cache_dir=None,
                  val_fraction: float = 0.1, seed: int = 0) -> dict:
    """``modelnet40``/``scanobjectnn``/``shapenetpart`` with a ``val`` split: ShapeNetPart has its own; for
    the others (train/test only, as published) ``val_fraction`` of train is held out, seeded. The test split
    is never touched."""
    if dataset == "modelnet40":
        out = load_modelnet40_h5(download=download, cache_dir=cache_dir)
    elif dataset == "scanobjectnn":
        out = load_scanobjectnn(variant, cache_dir=cache_dir)
    elif dataset == "shapenetpart":
        return load_shapenetpart(download=download, cache_dir=cache_dir, seed=seed)
    else:
        raise ValueError(f"unknown standard dataset {dataset!r}; expected modelnet40, scanobjectnn or shapenetpart")
    train = out["splits"]["train"]
    order = np.random.default_rng(seed).permutation(len(train["label"]))
    n_val = max(1, int(round(val_fraction * len(order))))
    out["splits"] = {"train": {k: v[order[n_val:]] for k, v in train.items()},
                     "val": {k: v[order[:n_val]] for k, v in train.items()}, "test": out["splits"]["test"]}
    return out
