"""Medical point clouds: the shipped frog anatomy set, MedPointS in its official folder layouts, and the
partial clouds of point completion.

    from spanmix.datasets.medical_points import load_frog_sample, load_medpoints, remove_nearest

    frog = load_frog_sample()          # dict: cls_points (480, 512, 3), cls_label, seg_points (32, 2048, 3), ...
    d = load_medpoints("cls", "/data/MedPointS/classification", folds=[1, 2, 3])   # clouds, labels, paths
    partial = remove_nearest(cloud, 0.2, seed=0)   # the 20% nearest a random seed point removed (MedPointS)

**Frog set** (``datasets/samples/points_frog.npz``, prepared by
``python -m spanmix.datasets.prepare_medical_points_sample`` from the label volume inside the pyvista wheel,
MIT; README in ``datasets/samples/``): 15 tissues (``FROG_TISSUES``, ids 1..15 of the volume, names as in
VTK's frog examples); 32 partial-organ clouds per tissue (classification, and the completion targets; scaled
frog-wide, so organ size is kept) and
32 whole-body crops with per-point tissue labels (segmentation). One specimen: see the preparing script.

**MedPointS** (Zhang et al., MICCAI 2025; built from MedShapeNet; distributed by the authors through Baidu
pan and Hugging Face): the loaders read the folder layouts of the official ``flemme`` datasets, one folder
per fold (``fold1`` ... ``fold5``; the official configs train on 1-3, validate on 4, test on 5):

- classification ``<root>/fold<k>/<organ>/*.ply`` (``PcdClsDataset``);
- segmentation ``<root>/fold<k>/pcd/<id>.ply`` + ``<root>/fold<k>/coarse_label/<id>.seg`` (one 1-based
  label per line, as ``np.savetxt`` writes it; ``PcdSegDataset``);
- completion ``<root>/fold<k>/partial/<organ>/*.ply`` + ``<root>/fold<k>/target/<organ>/*.ply``
  (``PcdReconWithClassLabelDataset``; the README's "/dataset/subfold/class_name/x.ply").

``<organ>`` is one of the 46 coarse classes (``MEDPOINTS_CLASSES``, 1-based in the files) or a fine
MedShapeNet organ name that maps to one (left/right, lobes, numbered ribs and vertebrae merged:
``coarse_class``). The sets are not downloaded by this module (the Hugging Face copies hold
post-transform tensors, not these folders): put the folders under ``$SPANMIX_CACHE/points/medpoints`` or
pass ``root``. Missing folders raise :class:`DatasetNotAvailable` saying where to put them; a label file
whose length differs from its cloud, a label outside 1..46, an unknown organ folder or an empty fold raise
:class:`PointDataError`.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from spanmix.datasets.points import (SAMPLES_DIR, DatasetNotAvailable, PointDataError, open_shipped_sample,
                                     read_point_file)

__all__ = ["FROG_SAMPLE", "FROG_TISSUES", "MEDPOINTS_CLASSES", "coarse_class", "load_frog_sample", "load_medpoints",
           "medpoints_root", "remove_nearest"]

FROG_SAMPLE = SAMPLES_DIR / "points_frog.npz"
#: labels 1..15 of pyvista's frog_tissues.vti (the tissue table of VTK's frog examples), 0-based here
FROG_TISSUES = ("blood", "brain", "duodenum", "eye_retina", "eye_white", "heart", "ileum", "kidney",
                "l_intestine", "liver", "lung", "nerve", "skeleton", "spleen", "stomach")
#: MedPointS's 46 coarse classes in label order (label k is MEDPOINTS_CLASSES[k - 1])
MEDPOINTS_CLASSES = (
    "adrenalgland", "aorta", "autochthon", "bladder", "brain", "breast", "bronchie", "celiactrunk", "cheek",
    "clavicle", "colon", "costa", "duodenum", "esophagus", "eyeball", "femur", "gallbladder", "gluteusmaximus",
    "heart", "hip", "humerus", "iliacartery", "iliacvena", "iliopsoas", "inferiorvenacava", "kidney", "liver", "lung",
    "mediastinaltissue", "pancreas", "portalveinandsplenicvein", "smallbowel", "spleen", "stomach", "thymus",
    "thyroid", "trachea", "uterocervix", "uterus", "vertebrae", "gonads", "sacrum", "clavicula", "pulmonaryartery",
    "rib", "scapula")
_FINE_PREFIX = (("costa", "costa"), ("rib", "rib"), ("vertebrae", "vertebrae"), ("heart", "heart"),
                ("lung", "lung"), ("gluteus", "gluteusmaximus"), ("urinarybladder", "bladder"))


def coarse_class(name: str) -> int:
    """0-based MedPointS class of an organ folder name: a coarse name, or a fine one (``kidneyleft``,
    ``costa3right``, ``vertebraeT10``, ``lungupperlobeleft``, ``gluteusmediusright``...)."""
    n = name.lower()
    if n in MEDPOINTS_CLASSES:
        return MEDPOINTS_CLASSES.index(n)
    base = re.sub(r"(left|right)$", "", n)
    if base in MEDPOINTS_CLASSES:
        return MEDPOINTS_CLASSES.index(base)
    for prefix, coarse in _FINE_PREFIX:
        if n.startswith(prefix):
            return MEDPOINTS_CLASSES.index(coarse)
    raise PointDataError(f"{name}: not a MedPointS organ folder; expected one of the 46 coarse classes "
                         f"({', '.join(MEDPOINTS_CLASSES[:4])}, ...) or a fine organ name that maps to one")


def medpoints_root(task: str, root: str | os.PathLike | None = None) -> Path:
    if root is not None:
        return Path(root)
    from spanmix.datasets.cache import cache_dir

    return Path(cache_dir("points")) / "medpoints" / {"cls": "classification", "seg": "segmentation",
                                                      "cpl": "completion"}[task]


def _fold_dir(root: Path, fold: int) -> Path:
    d = root / f"fold{fold}"
    if not d.is_dir():
        raise DatasetNotAvailable(f"MedPointS: {d} is missing; put the official folders fold1..fold5 under {root} "
                                  "(MedPointS from the authors of 'Hierarchical Feature Learning for Medical Point "
                                  "Clouds via State Space Model'), or pass root=")
    return d


def _read(path: Path) -> np.ndarray:
    return read_point_file(path, n_points=None, normalize=False).points


def load_medpoints(task: str, root: str | os.PathLike | None = None, folds=(1, 2, 3)) -> dict:
    """The clouds of ``folds`` of MedPointS ``task`` (``cls``, ``seg``, ``cpl``; layouts in the module
    docstring). Returns ``points`` (list of (N_i, 3) float32), ``label`` (M,) int64 0-based class (cls, cpl)
    or ``labels`` (list of (N_i,) int64 0-based, seg), ``target`` (list, cpl), ``paths``."""
    if task not in ("cls", "seg", "cpl"):
        raise PointDataError(f"MedPointS task must be 'cls', 'seg' or 'cpl', got {task!r}")
    base = medpoints_root(task, root)
    points, labels, targets, paths = [], [], [], []
    for fold in folds:
        d = _fold_dir(base, fold)
        if task == "seg":
            for ply in sorted((d / "pcd").glob("*.ply")):
                seg = d / "coarse_label" / (ply.stem + ".seg")
                if not seg.is_file():
                    raise PointDataError(f"{ply.name}: no label file {seg}; expected one 1-based label per point")
                pts, lab = _read(ply), np.loadtxt(seg, dtype=np.int64, ndmin=1)
                if len(lab) != len(pts):
                    raise PointDataError(f"{seg.name}: {len(lab)} labels for {len(pts)} points in {ply.name}; "
                                         "expected one label per point")
                if lab.min() < 1 or lab.max() > len(MEDPOINTS_CLASSES):
                    raise PointDataError(f"{seg.name}: labels must be in 1..{len(MEDPOINTS_CLASSES)} (1-based "
                                         f"coarse classes), got {lab.min()}..{lab.max()}")
                points.append(pts)
                labels.append(lab - 1)
                paths.append(str(ply))
        else:
            top = d / "partial" if task == "cpl" else d
            for organ in sorted(p for p in top.iterdir() if p.is_dir()):
                c = coarse_class(organ.name)
                for ply in sorted(organ.glob("*.ply")):
                    points.append(_read(ply))
                    labels.append(c)
                    paths.append(str(ply))
                    if task == "cpl":
                        tgt = d / "target" / organ.name / ply.name
                        if not tgt.is_file():
                            raise PointDataError(f"{ply}: no target cloud {tgt}; expected partial/<organ>/x.ply "
                                                 "beside target/<organ>/x.ply")
                        targets.append(_read(tgt))
    if not points:
        raise PointDataError(f"MedPointS {task}: no .ply clouds in {base} folds {list(folds)}")
    out = {"points": points, "paths": paths}
    if task == "seg":
        out["labels"] = labels
    else:
        out["label"] = np.asarray(labels, np.int64)
    if task == "cpl":
        out["target"] = targets
    return out


def remove_nearest(points: np.ndarray, ratio: float = 0.2, seed: int = 0) -> np.ndarray:
    """``points`` (N, 3) without the ``ratio`` of points nearest a seeded random point of the cloud (how
    MedPointS makes its partial clouds, ``scripts/medpoints/generate_partial_pcd.py``)."""
    if not 0 <= ratio < 1:
        raise PointDataError(f"remove ratio must be in [0, 1), got {ratio!r}")
    rng = np.random.default_rng(seed)
    centre = points[rng.integers(len(points))]
    order = np.argsort(((points - centre) ** 2).sum(1), kind="stable")
    return points[np.sort(order[int(round(ratio * len(points))):])]


def load_frog_sample(path: str | os.PathLike | None = None) -> dict:
    """The shipped frog set (module docstring) as float32/int64 arrays, split names as str."""
    with open_shipped_sample(path, FROG_SAMPLE,
                             "`python -m spanmix.datasets.prepare_medical_points_sample --wheel pyvista-*.whl`") as z:
        return {
            "tissues": [str(t) for t in z["tissues"]],
            "cls_points": z["cls_points"].astype(np.float32), "cls_label": z["cls_label"].astype(np.int64),
            "cls_split": z["cls_split"].astype(str),
            "seg_points": z["seg_points"].astype(np.float32), "seg_labels": z["seg_labels"].astype(np.int64),
            "seg_split": z["seg_split"].astype(str),
        }
