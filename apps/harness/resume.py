"""Exact resume: a run killed at any point and resumed with ``--ckpt_path last`` reproduces the run that was
never interrupted, bit for bit on CPU (same seed, deterministic algorithms).

How (the harness installs all of it for every app's ``fit``; nothing to do in an app):

- **Resume mid-epoch.** ``last.ckpt`` is current at each epoch end (written here when ``ModelCheckpoint``
  did not: it skips epochs that do not improve its metric). ``--resume_every_n_steps N`` also writes it
  every N training steps,
  at the *start* of a batch, when the previous batch is complete (trained, logged) and the next has not
  touched any random state. Without it ``last.ckpt`` is written where ``ModelCheckpoint`` writes it (each
  validation / epoch end) and a resume restarts from there, just as exactly.
- **Sampler.** The training loader's ``RandomSampler``/``SequentialSampler`` is replaced by ``EpochSampler``,
  whose order depends on ``(seed_everything, epoch)`` only (no global RNG); after a resume mid-epoch it skips
  the batches already trained. The loader gets its own ``generator``, so creating its iterator draws nothing
  from torch's global RNG. A dataset with ``set_epoch(epoch)`` is told the epoch.
- **RNG.** The torch (CPU and CUDA), numpy and python global RNG states are saved in the checkpoint and
  restored right before the first resumed batch, so dropout and the like continue the same stream.
- **Metrics.** The resumed run appends to the same ``csv/version_N/metrics.csv`` (the version is recorded in
  the checkpoint), cut back to the rows logged before the checkpoint's global step (the logger is flushed
  at each save, so they are on disk).

What an app must keep (the contract): randomness in a dataset's ``__getitem__`` comes from the index and
the epoch (``np.random.default_rng((seed, epoch, i))``), never from a global or stateful generator, because
loaders fetch ahead of training. Custom samplers, iterable datasets and DDP runs keep their own sampling
(``DistributedSampler`` is epoch-seeded too; mid-epoch skipping is then not done).
"""
from __future__ import annotations

import csv
import os
import random
from typing import Any

import numpy as np
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader, RandomSampler, Sampler, SequentialSampler

__all__ = ["EpochSampler", "ExactResume", "make_resumable", "read_metrics"]


class EpochSampler(Sampler[int]):
    """Indices ``0..n-1`` in an order fixed by ``(seed, epoch)`` (shuffled or not); skips ``skip`` once."""

    def __init__(self, dataset: Any, shuffle: bool, seed: int):
        self.dataset, self.n, self.shuffle, self.seed = dataset, len(dataset), shuffle, int(seed)
        self.epoch = 0
        self.skip: tuple[int, int] | None = None  # (epoch, indices to skip in it), once

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        if callable(getattr(self.dataset, "set_epoch", None)):
            self.dataset.set_epoch(self.epoch)

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        skip = self.skip[1] if self.skip is not None and self.skip[0] == self.epoch else 0
        self.skip = None
        if self.shuffle:
            g = torch.Generator().manual_seed((self.seed * 1_000_003 + self.epoch) % 2**63)
            order = torch.randperm(self.n, generator=g).tolist()
        else:
            order = list(range(self.n))
        yield from order[skip:]


def make_resumable(loader: Any, seed: int) -> Any:
    """``loader`` with an ``EpochSampler`` (a plain ``DataLoader`` over a map-style dataset with a random or
    sequential sampler); any other loader is returned unchanged."""
    if type(loader) is not DataLoader or loader.batch_size is None:
        return loader
    sampler = loader.sampler
    if type(sampler) is RandomSampler:
        if sampler.replacement or sampler._num_samples is not None:
            return loader
        shuffle = True
    elif type(sampler) is SequentialSampler:
        shuffle = False
    else:
        return loader
    kwargs = {"batch_size": loader.batch_size, "drop_last": loader.drop_last, "num_workers": loader.num_workers,
              "collate_fn": loader.collate_fn, "pin_memory": loader.pin_memory, "timeout": loader.timeout,
              "worker_init_fn": loader.worker_init_fn, "multiprocessing_context": loader.multiprocessing_context,
              "persistent_workers": loader.persistent_workers, "pin_memory_device": loader.pin_memory_device,
              "generator": torch.Generator().manual_seed(int(seed))}
    if loader.num_workers > 0:
        kwargs["prefetch_factor"] = loader.prefetch_factor
    return DataLoader(loader.dataset, sampler=EpochSampler(loader.dataset, shuffle, seed), **kwargs)


def _rng_state() -> dict[str, Any]:
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "python": random.getstate(),
             "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(gauss)]}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _csv_logger(trainer: Trainer):
    from lightning.pytorch.loggers import CSVLogger

    return next((lg for lg in trainer.loggers if isinstance(lg, CSVLogger)), None)


def read_metrics(path: str, steps_below: int) -> tuple[list[str], list[dict[str, str]]]:
    """The header and the rows whose ``step`` is below ``steps_below`` (what a run had logged when its
    checkpoint was saved at that global step) of a metrics CSV."""
    if not os.path.isfile(path):
        return [], []
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        header, rows = list(reader.fieldnames or []), list(reader)
    return header, [row for row in rows if row.get("step") and int(float(row["step"])) < steps_below]


class ExactResume(Callback):
    """The harness callback behind exact resume (module docstring). ``seed``: the run's seed;
    ``every_n_steps``: also save ``last.ckpt`` mid-epoch every N steps (None: never)."""

    def __init__(self, seed: int = 0, every_n_steps: int | None = None,
                 metrics: tuple[list[str], list[dict[str, str]]] | None = None):
        if every_n_steps is not None and (isinstance(every_n_steps, bool) or int(every_n_steps) < 1):
            raise ValueError(f"resume_every_n_steps must be a positive integer, got {every_n_steps!r}")
        self.seed, self.every_n_steps = int(seed), every_n_steps
        # The resumed run's earlier metrics rows (read before Lightning's CSV writer deletes metrics.csv).
        self.metrics = metrics
        self.batches = 0  # batches trained in the current epoch
        self._loaded: dict[str, Any] | None = None
        self._restore_rng: dict[str, Any] | None = None
        self._saving_mid_epoch = False

    # -- state in the checkpoint ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"batches": self.batches, "rng": _rng_state()}
        trainer = getattr(self, "_trainer", None)
        if trainer is not None:
            state["epoch"] = trainer.current_epoch
            logger = _csv_logger(trainer)
            if logger is not None:
                logger.save()  # the rows up to this checkpoint are on disk; a resume keeps exactly those
                state["csv_version"] = logger.version
                state["csv_steps_below"] = trainer.global_step
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._loaded = dict(state_dict)
        self._restore_rng = state_dict.get("rng")

    # -- hooks ------------------------------------------------------------------------------------------
    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        self._trainer = trainer

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        # After the checkpoint is restored and before the first batch is fetched. (A restart mid-epoch does
        # not call on_train_epoch_start again.)
        loaded, self._loaded = self._loaded or {}, None
        logger = _csv_logger(trainer)
        logger = _csv_logger(trainer)
        if logger is not None and self.metrics is not None:
            header, rows = self.metrics
            writer = logger.experiment  # created by now (it deletes an existing metrics.csv when created)
            with open(writer.metrics_file_path, "w", newline="") as f:
                out = csv.DictWriter(f, fieldnames=header)
                out.writeheader()
                out.writerows(rows)
            writer.metrics_keys = list(header)  # append with the same columns
        self.batches = int(loaded.get("batches", 0)) if loaded.get("epoch") == trainer.current_epoch else 0
        loader = trainer.train_dataloader
        sampler = getattr(loader, "sampler", None)
        if self.batches and isinstance(sampler, EpochSampler) and self.batches < len(loader):
            sampler.skip = (trainer.current_epoch, self.batches * loader.batch_size)

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.batches = 0

    def on_save_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]) -> None:
        if self._saving_mid_epoch:
            # Lightning adds one to `_batches_that_stepped` when it restarts from a checkpoint, assuming it was
            # saved in on_train_batch_end before the count was updated; ours is saved after (batch start).
            state = checkpoint.get("loops", {}).get("fit_loop", {}).get("epoch_loop.state_dict", {})
            if "_batches_that_stepped" in state:
                state["_batches_that_stepped"] -= 1

    def on_train_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch: Any,
                             batch_idx: int) -> None:
        if self._restore_rng is not None:
            _set_rng_state(self._restore_rng)
            self._restore_rng = None
        elif self.every_n_steps and self.batches and self.batches % self.every_n_steps == 0:
            callback = trainer.checkpoint_callback
            if isinstance(callback, ModelCheckpoint) and callback.dirpath:
                self._save_last(trainer, callback, mid_epoch=True)

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        self.batches += 1

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        # Lightning 2.6's ModelCheckpoint rewrites last.ckpt only when it also saved a top-k checkpoint, so an
        # epoch that did not improve the monitored metric would leave a stale last.ckpt behind.
        callback = trainer.checkpoint_callback
        if (isinstance(callback, ModelCheckpoint) and callback.dirpath and callback.save_last
                and callback._last_global_step_saved != trainer.global_step):
            self._save_last(trainer, callback, mid_epoch=False)

    def _save_last(self, trainer: Trainer, callback: ModelCheckpoint, mid_epoch: bool) -> None:
        path = os.path.join(callback.dirpath, ModelCheckpoint.CHECKPOINT_NAME_LAST + ModelCheckpoint.FILE_EXTENSION)
        self._saving_mid_epoch = mid_epoch
        try:
            trainer.save_checkpoint(path)
        finally:
            self._saving_mid_epoch = False
        callback.last_model_path = path  # its own last.ckpt: ModelCheckpoint overwrites it, no last-v1
