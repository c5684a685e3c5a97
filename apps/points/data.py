"""``PointDataModule``: point-cloud classification / part-segmentation batches for the points app.

    dm = PointDataModule("kicad", n_points=512, task="cls")       # the shipped KiCad set (offline)
    dm = PointDataModule("modelnet40", download=True)              # ModelNet40 (modelnet40_ply_hdf5_2048)
    dm = PointDataModule("frog", task="seg", n_points=1024)         # the shipped frog anatomy set (offline)
    dm = PointDataModule("medpoints", task="completion", cache_dir="/data/MedPointS")   # MedPointS folders
    dm = PointDataModule("human", task="cls", n_points=256)          # the shipped human head set (fsaverage)

Batches are dicts: ``points`` (B, N, 3 or 6: xyz [+ normals]), ``label`` (B,) int64 object class,
``parts`` (B, N) int64 part labels (segmentation sets), ``category`` (B,) = ``label`` (the one-hot input of
part segmentation). Medical sets (``frog``, ``medpoints``; ``spanmix.datasets.medical_points``; ``human``, cls
and completion only: ``spanmix.datasets.human_anatomy_points``): ``task: cls``
(organ class), ``seg`` (``parts`` = the per-point tissue/organ label, ``num_classes`` labels) or ``completion``
(``points`` = the partial cloud: the target with the 20% nearest a random seed point removed, fresh every
training access and fixed per index otherwise; ``target`` (B, n_target, 3); ``category`` = the class, the
condition of the completion model). MedPointS trains on folds 1-3, validates on 4, tests on 5; its clouds
are centred and scaled to the unit sphere (the official configs use min-max to (-1, 1)) and sampled to
``n_points`` with replacement when smaller (the official ``FixedPoints``). The shape the models need (``num_classes``, ``num_parts``, ``num_categories``,
``in_channels``, ``classes``) is read from the data and linked into the task by the CLI.

Augmentation (training split only), as the PointNet++/PointMLP family does: anisotropic random scaling
``scale`` (default U(2/3, 3/2) per axis) and translation ``translate`` (U(-0.2, 0.2)); optional rotation
about the up axis (``rotate_up: z``; off by default: ModelNet40 is aligned); random point dropout
(``point_dropout``: up to that fraction of points replaced by the first point, PointNet++'s
``random_point_dropout``). Each sample takes ``n_points`` of its points: a fresh random subset every
training epoch, a fixed seeded subset for val/test. Test-time voting lives in the task (``votes``).
"""
from __future__ import annotations

import math

import lightning as L
import torch
from spanmix.datasets import points as P
from torch.utils.data import DataLoader, Dataset

__all__ = ["PointDataModule", "PointSetDataset", "augment"]

DATASETS = ("kicad", "modelnet40", "scanobjectnn", "shapenetpart", "frog", "medpoints", "human")
TASKS = ("cls", "partseg", "seg", "completion")
MEDICAL = ("frog", "medpoints", "human")


def rotate_up(points: torch.Tensor, angle: float, axis: str) -> torch.Tensor:
    """Rotate xyz (and normals) of ``points`` (N, 3 or 6) by ``angle`` about ``axis`` (x, y or z)."""
    c, s = math.cos(angle), math.sin(angle)
    i, j = {"x": (1, 2), "y": (2, 0), "z": (0, 1)}[axis]
    rot = torch.eye(3)
    rot[i, i], rot[i, j], rot[j, i], rot[j, j] = c, -s, s, c
    out = points.clone()
    out[:, :3] = points[:, :3] @ rot.T
    if points.shape[1] >= 6:
        out[:, 3:6] = points[:, 3:6] @ rot.T
    return out


def augment(points: torch.Tensor, g: torch.Generator, *, scale=(2 / 3, 3 / 2), translate: float = 0.2,
            up_axis: str | None = None, point_dropout: float = 0.0) -> torch.Tensor:
    """One random augmentation of ``points`` (N, 3 or 6) with generator ``g`` (module docstring)."""
    out = points.clone()
    if up_axis:
        out = rotate_up(out, float(torch.rand((), generator=g)) * 2 * math.pi, up_axis)
    s = scale[0] + torch.rand(3, generator=g) * (scale[1] - scale[0])
    t = (torch.rand(3, generator=g) * 2 - 1) * translate
    out[:, :3] = out[:, :3] * s + t
    if out.shape[1] >= 6:  # normals follow the inverse-transpose of the scaling
        n = out[:, 3:6] / s
        out[:, 3:6] = n / n.norm(dim=1, keepdim=True).clamp_min(1e-6)
    if point_dropout > 0:
        ratio = float(torch.rand((), generator=g)) * point_dropout
        drop = torch.rand(len(out), generator=g) < ratio
        out[drop] = out[0]
    return out


class EpochItems(Dataset):
    """Base of the point datasets: ``label`` sets the length, and each item draws from ``item_generator(i)``:
    from ``(seed, epoch, index)`` in training (fresh each epoch, the same in any worker and after a resume:
    the harness's contract; its sampler calls ``set_epoch``), from ``(seed, index)`` otherwise (fixed)."""

    train: bool = False
    seed: int = 0
    epoch: int = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.label)

    def item_generator(self, i: int) -> torch.Generator:
        key = (self.seed * 1_000_003 + self.epoch) * 1_000_003 + i if self.train else self.seed * 1_000_003 + i
        return torch.Generator().manual_seed(key % 2**63)


class PointSetDataset(EpochItems):
    """Clouds ``points`` (M, N0, 3), optional ``normals`` and ``parts`` (M, N0), ``label`` (M,); each item
    takes ``n_points`` points (drawn from ``(seed, epoch, index)`` in training, so a fresh subset each epoch,
    the same in any worker and after a resume; fixed per index otherwise) and is augmented in training.
    The harness's sampler calls ``set_epoch``."""

    def __init__(self, points, label, *, normals=None, parts=None, n_points: int = 1024, train: bool = False,
                 seed: int = 0, augment_options: dict | None = None):
        self.points = torch.as_tensor(points, dtype=torch.float32)
        self.normals = None if normals is None else torch.as_tensor(normals, dtype=torch.float32)
        self.parts = None if parts is None else torch.as_tensor(parts, dtype=torch.int64)
        self.label = torch.as_tensor(label, dtype=torch.int64)
        self.n_points, self.train, self.seed = n_points, train, seed
        self.augment_options = augment_options or {}

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        g = self.item_generator(i)
        n0 = self.points.shape[1]
        idx = torch.randperm(n0, generator=g)[: self.n_points] if self.n_points < n0 else torch.arange(n0)
        x = self.points[i, idx]
        if self.normals is not None:
            x = torch.cat([x, self.normals[i, idx]], -1)
        if self.train:
            x = augment(x, g, **self.augment_options)
        item = {"points": x, "label": self.label[i], "category": self.label[i]}
        if self.parts is not None:
            item["parts"] = self.parts[i, idx]
        return item


def _take(n0: int, n: int, g: torch.Generator) -> torch.Tensor:
    """``n`` of ``n0`` indices: a random subset, or all of them plus random repeats when ``n0 < n``."""
    if n0 >= n:
        return torch.randperm(n0, generator=g)[:n]
    return torch.cat([torch.arange(n0), torch.randint(n0, (n - n0,), generator=g)])


def _unit(x: torch.Tensor) -> torch.Tensor:
    c = x - x.mean(0)
    return c / c.norm(dim=1).max().clamp_min(1e-12)


class CloudListDataset(EpochItems):
    """Clouds of different sizes (lists of (N_i, 3)), ``label`` (M,), optional per-point ``parts`` (list of
    (N_i,)): each item ``n_points`` of its points (drawn per epoch in training, fixed per index otherwise),
    on the unit sphere."""

    def __init__(self, points, label, *, parts=None, n_points: int = 1024, train: bool = False, seed: int = 0):
        self.points = [torch.as_tensor(p, dtype=torch.float32) for p in points]
        self.parts = None if parts is None else [torch.as_tensor(p, dtype=torch.int64) for p in parts]
        self.label = torch.as_tensor(label, dtype=torch.int64)
        self.n_points, self.train, self.seed = n_points, train, seed

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        g = self.item_generator(i)
        idx = _take(len(self.points[i]), self.n_points, g)
        item = {"points": _unit(self.points[i][idx]), "label": self.label[i], "category": self.label[i]}
        if self.parts is not None:
            item["parts"] = self.parts[i][idx]
        return item


class CompletionDataset(EpochItems):
    """Point completion pairs: ``targets`` (list of (N_i, 3), or an (M, N, 3) array) and their ``label``;
    ``partials`` given (MedPointS ships them) or made from the target by ``remove_nearest`` (20% nearest a
    seeded random point; a fresh seed every training epoch). Items: ``points`` (n_points, 3) partial,
    ``target`` (n_target, 3), ``label``/``category``. Partial and target share the target's normalisation."""

    def __init__(self, targets, label, *, partials=None, n_points: int = 1024, n_target: int = 1024,
                 remove_ratio: float = 0.2, train: bool = False, seed: int = 0):
        self.targets = [torch.as_tensor(t, dtype=torch.float32) for t in targets]
        self.partials = None if partials is None else [torch.as_tensor(p, dtype=torch.float32) for p in partials]
        self.label = torch.as_tensor(label, dtype=torch.int64)
        self.n_points, self.n_target, self.ratio = n_points, n_target, remove_ratio
        self.train, self.seed = train, seed

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        from spanmix.datasets.medical_points import remove_nearest

        g = self.item_generator(i)
        target = self.targets[i]
        centre, scale = target.mean(0), (target - target.mean(0)).norm(dim=1).max().clamp_min(1e-12)
        if self.partials is None:
            part = torch.from_numpy(remove_nearest(target.numpy(), self.ratio,
                                                   seed=int(torch.randint(2 ** 31, (), generator=g))))
        else:
            part = self.partials[i]
        part = part[_take(len(part), self.n_points, g)]
        tgt = target[_take(len(target), self.n_target, g)]
        return {"points": (part - centre) / scale, "target": (tgt - centre) / scale, "label": self.label[i],
                "category": self.label[i]}


class PointDataModule(L.LightningDataModule):
    """Point-cloud data for ``spanmix points`` (module docstring).

    Args:
        dataset: ``kicad`` (shipped), ``modelnet40``, ``scanobjectnn`` or ``shapenetpart`` (standard sets
            from the cache; ``download: true`` to fetch them); ``frog`` (shipped anatomy) or ``medpoints``
            (MedPointS folders under ``cache_dir`` or the cache); ``human`` (shipped fsaverage head structures).
        task: ``cls``, ``partseg`` (part labels; ``kicad`` and ``shapenetpart``), ``seg`` or ``completion``
            (``frog``, ``medpoints``). n_target: target points of completion.
        n_points: points per cloud. use_normals: add normals as 3 more input channels.
        variant: ScanObjectNN variant (``PB_T50_RS``, ``OBJ_BG``, ``OBJ_ONLY``).
        scale, translate, rotate_up, point_dropout: training augmentation.
        batch_size, num_workers, seed: loaders.
    """

    def __init__(self, dataset: str = "kicad", *, task: str = "cls", n_points: int = 1024, use_normals: bool = False,
                 variant: str = "PB_T50_RS", download: bool = False, cache_dir: str | None = None,
                 scale: tuple[float, float] = (2 / 3, 3 / 2), translate: float = 0.2, rotate_up: str | None = None,
                 point_dropout: float = 0.0, batch_size: int = 32, num_workers: int = 0, seed: int = 0,
                 n_target: int = 1024):
        super().__init__()
        if dataset not in DATASETS:
            raise ValueError(f"--data.dataset: unknown dataset {dataset!r}; expected one of {', '.join(DATASETS)}")
        if task not in TASKS:
            raise ValueError(f"--data.task must be one of {', '.join(TASKS)}, got {task!r}")
        if task in ("seg", "completion") and dataset not in MEDICAL:
            raise ValueError(f"--data.task {task} needs a medical set: --data.dataset frog or medpoints, not {dataset}")
        if dataset == "human" and task == "seg":
            raise ValueError("--data.task seg: the human set has no per-point labels (one structure per cloud); "
                             "use cls or completion")
        if dataset in MEDICAL and task == "partseg":
            raise ValueError(f"--data.task partseg is for object parts (kicad, shapenetpart); use seg with {dataset}")
        if task == "partseg" and dataset not in ("kicad", "shapenetpart"):
            raise ValueError(f"--data.task partseg needs part labels: --data.dataset kicad or shapenetpart, not {dataset}")
        if not isinstance(n_points, int) or n_points < 16:
            raise ValueError(f"--data.n_points must be an integer >= 16, got {n_points!r}")
        if rotate_up not in (None, "x", "y", "z"):
            raise ValueError(f"--data.rotate_up must be null, 'x', 'y' or 'z', got {rotate_up!r}")
        if not 0 <= point_dropout < 1:
            raise ValueError(f"--data.point_dropout must be in [0, 1), got {point_dropout!r}")
        self.save_hyperparameters()
        self.splits = self._load()
        first = next(iter(self.splits.values()))
        if first.get("normals") is None and use_normals:
            raise ValueError(f"--data.use_normals: the {dataset} files have no normals; set it to false")
        self.in_channels = 6 if use_normals else 3
        self.num_classes = len(self.classes)
        self.num_categories = self.num_classes if task in ("partseg", "completion") else 1
        self.num_parts = self.part_count if task == "partseg" else 0

    def _load(self) -> dict[str, dict]:
        hp = self.hparams
        if hp.dataset in MEDICAL:
            return self._load_medical()
        if hp.dataset == "kicad":
            d = P.load_kicad_sample()
            # plain str: numpy strings in the hyper-parameters would make checkpoints unloadable with weights_only
            self.classes, self.part_names = [str(c) for c in d["classes"]], list(P.PART_NAMES)
            self.part_count = len(P.PART_NAMES)
            self.parts_of_category = None
            return {s: {k: d[k][d["split"] == s] for k in ("points", "normals", "label", "parts")}
                    for s in ("train", "val", "test")}
        from spanmix.datasets import points_standard as S

        out = S.load_standard(hp.dataset, variant=hp.variant, download=hp.download, cache_dir=hp.cache_dir)
        self.classes = [str(c) for c in out["classes"]]
        self.part_names, self.part_count = out.get("part_names"), out.get("num_parts", 0)
        self.parts_of_category = out.get("parts_of_category")
        return out["splits"]

    def _load_medical(self) -> dict[str, dict]:
        from spanmix.datasets import medical_points as MP

        hp = self.hparams
        self.part_names, self.part_count, self.parts_of_category = None, 0, None
        if hp.dataset == "human":
            from spanmix.datasets.human_anatomy_points import load_human_sample

            d = load_human_sample()
            self.classes = list(d["structures"])
            return {s: {"points": d["cls_points"][d["cls_split"] == s], "label": d["cls_label"][d["cls_split"] == s]}
                    for s in ("train", "val", "test")}
        if hp.dataset == "frog":
            d = MP.load_frog_sample()
            self.classes = list(d["tissues"])
            if hp.task == "seg":
                return {s: {"points": d["seg_points"][d["seg_split"] == s], "parts": d["seg_labels"][d["seg_split"] == s],
                            "label": torch.zeros(int((d["seg_split"] == s).sum()), dtype=torch.int64)}
                        for s in ("train", "val", "test")}
            return {s: {"points": d["cls_points"][d["cls_split"] == s], "label": d["cls_label"][d["cls_split"] == s]}
                    for s in ("train", "val", "test")}
        self.classes = list(MP.MEDPOINTS_CLASSES)
        task = {"cls": "cls", "seg": "seg", "completion": "cpl"}[hp.task]
        out = {}
        for split, folds in (("train", (1, 2, 3)), ("val", (4,)), ("test", (5,))):
            d = MP.load_medpoints(task, hp.cache_dir, folds)
            if task == "seg":
                out[split] = {"points": d["points"], "parts": d["labels"], "label": torch.zeros(len(d["points"]), dtype=torch.int64)}
            elif task == "cpl":
                out[split] = {"points": d["target"], "partials": d["points"], "label": d["label"]}
            else:
                out[split] = {"points": d["points"], "label": d["label"]}
        return out

    def _dataset(self, split: str, train: bool):
        hp, d = self.hparams, self.splits[split]
        if hp.task == "completion":
            return CompletionDataset(d["points"], d["label"], partials=d.get("partials"), n_points=hp.n_points,
                                     n_target=hp.n_target, train=train, seed=hp.seed)
        if isinstance(d["points"], list):
            return CloudListDataset(d["points"], d["label"], parts=d.get("parts") if hp.task == "seg" else None,
                                    n_points=hp.n_points, train=train, seed=hp.seed)
        n0 = d["points"].shape[1]
        if hp.n_points > n0:
            raise ValueError(f"--data.n_points {hp.n_points} is more than the {n0} points per cloud of {hp.dataset}")
        return PointSetDataset(d["points"], d["label"], normals=d.get("normals") if hp.use_normals else None,
                               parts=d.get("parts") if hp.task in ("partseg", "seg") else None, n_points=hp.n_points,
                               train=train, seed=hp.seed,
                               augment_options=dict(scale=tuple(hp.scale), translate=hp.translate,
                                                    up_axis=hp.rotate_up, point_dropout=hp.point_dropout))

    def _loader(self, split: str, train: bool) -> DataLoader:
        return DataLoader(self._dataset(split, train), batch_size=self.hparams.batch_size, shuffle=train,
                          drop_last=False, num_workers=self.hparams.num_workers,
                          generator=torch.Generator().manual_seed(self.hparams.seed) if train else None)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test", False)
