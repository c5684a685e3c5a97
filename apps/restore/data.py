"""``RestoreDataModule``: clean/degraded image pairs for ``RestoreTask``.

``dataset``:
- ``samples`` (default, offline): the shipped real images (``spanmix.datasets.restore.load_samples``, split
  by image: 7 train, 1 val, 2 test), degraded on the fly: **synthetic degradation of real images**;
- ``benchmark:<Set5|Set14|B100|Urban100|Manga109>`` under ``root`` (HR + ``LR_bicubic/X<s>``) for val/test,
  ``div2k`` under ``root`` (``DIV2K_train_HR`` + ``DIV2K_train_LR_bicubic/X<s>`` for training,
  ``DIV2K_valid_*`` for val/test), ``gopro`` (``root/{train,test}``), ``sots:<indoor|outdoor>`` (val/test) and
  ``clean:<folder>`` (CBSD68 / Kodak24 / McMaster: clean images, noise added with the data module's seed).

Training draws ``steps_per_epoch * batch_size`` random patches per epoch (``patch_size`` on the LQ side,
hflip / vflip / transpose augmentation), each degraded with a fresh seed; validation and test use whole
images with a fixed seed per image (``seed + index``), one image per batch.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, Dataset

from spanmix.datasets import restore as rdata

__all__ = ["RestoreDataModule"]


def _augment(*arrays: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    hflip, vflip, rot = rng.random(3) < 0.5
    out = []
    for a in arrays:
        a = a[:, ::-1] if hflip else a
        a = a[::-1] if vflip else a
        a = a.transpose(1, 0, 2) if rot else a
        out.append(np.ascontiguousarray(a))
    return out


class _Patches(Dataset):
    """Random training patches of clean images (degraded here) or of (lq, gt) pairs (cropped together)."""

    def __init__(self, items, task, scale, sigma, patch, length, seed, paired):
        self.items, self.task, self.scale, self.sigma = items, task, scale, sigma
        self.patch, self.length, self.seed, self.paired = patch, length, seed, paired

    def __len__(self):
        return self.length

    def __getitem__(self, i):
        rng = np.random.default_rng([self.seed, i, torch.initial_seed() % 2 ** 32])
        item = self.items[rng.integers(len(self.items))]
        s = self.scale if self.task == "sr" else 1
        p = self.patch
        if self.paired:
            lq_img, gt_img = (rdata.read_image(x) for x in item)
            h, w = lq_img.shape[:2]
            if min(h, w) < p:
                raise rdata.ImageError(f"{item[0]} is {w}x{h}, smaller than the {p}x{p} patch (--data.patch_size)")
            top, left = rng.integers(h - p + 1), rng.integers(w - p + 1)
            lq = lq_img[top:top + p, left:left + p]
            gt = gt_img[top * s:(top + p) * s, left * s:(left + p) * s]
            lq, gt = _augment(lq, gt, rng=rng)
            return {"lq": rdata.to_tensor(lq), "gt": rdata.to_tensor(gt)}
        img = item if isinstance(item, np.ndarray) else rdata.read_image(item)
        h, w = img.shape[:2]
        if min(h, w) < p * s:
            raise rdata.ImageError(f"a training image is {w}x{h}, smaller than the {p * s}x{p * s} patch "
                                   f"(--data.patch_size x scale)")
        top, left = rng.integers(h - p * s + 1), rng.integers(w - p * s + 1)
        (crop,) = _augment(img[top:top + p * s, left:left + p * s], rng=rng)
        lq, gt = rdata.degrade(crop, self.task, scale=s, sigma=self.sigma, seed=int(rng.integers(2 ** 31)))
        return {"lq": lq, "gt": gt}


class _Whole(Dataset):
    def __init__(self, items, names, task, scale, sigma, seed, paired):
        self.items, self.names, self.task, self.scale = items, names, task, scale
        self.sigma, self.seed, self.paired = sigma, seed, paired

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        item = self.items[i]
        if self.paired:
            lq, gt = (rdata.to_tensor(rdata.read_image(x)) for x in item)
        else:
            img = item if isinstance(item, np.ndarray) else rdata.read_image(item)
            lq, gt = rdata.degrade(img, self.task, scale=self.scale, sigma=self.sigma, seed=self.seed + i)
        return {"lq": lq, "gt": gt, "name": self.names[i]}


class RestoreDataModule(LightningDataModule):
    """Args:
        task: ``sr``, ``denoise``, ``deblur`` or ``dehaze``. scale: SR factor. sigma: noise std on [0, 255].
        dataset, root: see the module docstring. patch_size: LQ training patch side.
        download: fetch DIV2K (``dataset: div2k``) into ``root`` first (``spanmix.datasets.restore.download_div2k``);
            the other standard sets have no stable official host and are read from ``root`` only.
        batch_size, steps_per_epoch, num_workers, seed.
    """

    def __init__(self, task: str = "sr", scale: int = 2, sigma: float = 25.0, dataset: str = "samples",
                 root: str | None = None, patch_size: int = 48, batch_size: int = 8, steps_per_epoch: int = 50,
                 num_workers: int = 0, seed: int = 0, download: bool = False):
        super().__init__()
        if task not in rdata.TASKS:
            raise ValueError(f"--data.task must be one of {', '.join(rdata.TASKS)}; got {task!r}")
        if scale < 1 or patch_size < 8 or batch_size < 1 or steps_per_epoch < 1:
            raise ValueError("--data.scale >= 1, --data.patch_size >= 8, --data.batch_size >= 1 and "
                             f"--data.steps_per_epoch >= 1 are required; got {scale}, {patch_size}, {batch_size}, "
                             f"{steps_per_epoch}")
        self.save_hyperparameters()
        self.task, self.scale = task, scale if task == "sr" else 1

    # ------------------------------------------------------------------------------ sources
    def _split(self, split: str):
        """``(items, names, paired)`` of a split: arrays / paths of clean images, or (lq, gt) path pairs."""
        hp = self.hparams
        kind, _, arg = hp.dataset.partition(":")
        if kind == "samples":
            imgs = rdata.load_samples(split)
            return list(imgs.values()), list(imgs), False
        if hp.root is None and kind != "clean":
            raise ValueError(f"--data.dataset {hp.dataset} needs --data.root (the folder that holds it)")
        root = Path(hp.root) if hp.root else None
        s = self.scale
        if kind == "div2k":
            part = "train" if split == "train" else "valid"
            if hp.download:
                rdata.download_div2k(root, part, s)
            pairs = rdata.paired_folder(root / f"DIV2K_{part}_HR", root / f"DIV2K_{part}_LR_bicubic" / f"X{s}",
                                        "{}" + f"x{s}")
        elif kind == "benchmark":
            pairs = rdata.benchmark_sr(root, arg, s)
        elif kind == "gopro":
            pairs = rdata.gopro_pairs(root, "train" if split == "train" else "test")
        elif kind == "sots":
            pairs = rdata.sots_pairs(root, arg or "outdoor")
        elif kind == "clean":
            paths = rdata.clean_folder(arg or root)
            return paths, [p.stem for p in paths], False
        else:
            raise ValueError(f"--data.dataset must be samples, div2k, benchmark:<set>, gopro, sots:<subset> or "
                             f"clean:<folder>; got {hp.dataset!r}")
        return pairs, [gt.stem for _, gt in pairs], True

    def train_dataloader(self):
        hp = self.hparams
        items, _, paired = self._split("train")
        ds = _Patches(items, self.task, self.scale, hp.sigma, hp.patch_size, hp.steps_per_epoch * hp.batch_size,
                      hp.seed, paired)
        return DataLoader(ds, batch_size=hp.batch_size, shuffle=False, num_workers=hp.num_workers,
                          drop_last=True)

    def _whole(self, split: str):
        hp = self.hparams
        items, names, paired = self._split(split)
        offset = {"val": 1000, "test": 2000}.get(split, 0)
        ds = _Whole(items, names, self.task, self.scale, hp.sigma, hp.seed + offset, paired)
        return DataLoader(ds, batch_size=1, shuffle=False, num_workers=hp.num_workers)

    def val_dataloader(self):
        return self._whole("val")

    def test_dataloader(self):
        return self._whole("test")

    def predict_dataloader(self):
        return self._whole("test")
