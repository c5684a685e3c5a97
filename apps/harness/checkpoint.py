"""Checkpoint I/O for the harness: atomic saves, ``weights_only`` loads, and the module's class path.

- ``AtomicCheckpointIO``: Lightning's ``TorchCheckpointIO`` whose local saves go to a temporary file in
  the same directory that is fsynced and ``os.replace``d onto the target, so a crash mid-write leaves the
  previous checkpoint intact. Loads default to ``torch.load(weights_only=True)``: a checkpoint can then
  hold tensors and plain containers only, never pickled code (pass ``--weights_only false`` to a
  subcommand to load a trusted legacy checkpoint). The harness installs it unless a CheckpointIO plugin
  is configured. Remote (fsspec) paths keep Lightning's own transactional save.
- ``SpanmixModule``: a LightningModule base that writes ``checkpoint["spanmix"]["class_path"]`` so that
  ``spanmix export`` can rebuild the module from any checkpoint of it (the harness records the same for
  every module it trains, so subclassing is only needed for checkpoints written outside the CLI).
"""
from __future__ import annotations

import glob
import os
from collections.abc import Callable
from typing import Any

import fsspec.utils
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.plugins.io import TorchCheckpointIO
from spanmix.apps.harness.export import CHECKPOINT_KEY, atomic_path, class_path_of

__all__ = ["AtomicCheckpointIO", "RecordRunInfo", "SpanmixModule", "find_best_checkpoint", "record_run_info"]


def _is_local(path: Any) -> bool:
    return fsspec.utils.get_protocol(os.fspath(path)) in ("file", "local")


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` with crash-safe local saves and ``weights_only=True`` loads by default."""

    # Why not Lightning's own save: in 2.6 it serialises the whole checkpoint into memory, then writes it
    # through an fsspec transaction whose temporary file lives in the system temp dir and is moved with
    # shutil.move, i.e. copied (not renamed) when /tmp is another filesystem, and never fsynced.

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any,
                        storage_options: Any | None = None) -> None:
        if storage_options is not None or not _is_local(path):
            return super().save_checkpoint(checkpoint, path, storage_options)  # same errors/remote behaviour
        with atomic_path(path) as tmp:
            torch.save(checkpoint, tmp)

    def load_checkpoint(self, path: Any, map_location: Callable | None = lambda storage, loc: storage,
                        weights_only: bool | None = None) -> dict[str, Any]:
        return super().load_checkpoint(path, map_location=map_location,
                                       weights_only=True if weights_only is None else weights_only)


def record_run_info(checkpoint: dict[str, Any], module: LightningModule, **extra: Any) -> None:
    """Store the module's class path (and ``extra``, e.g. app and config) under ``checkpoint["spanmix"]``."""
    info = checkpoint.setdefault(CHECKPOINT_KEY, {})
    info.setdefault("class_path", class_path_of(module))
    info.update({k: v for k, v in extra.items() if v is not None})


class SpanmixModule(LightningModule):
    """Base class for app tasks: records the class path in every checkpoint (see module docstring).

    Subclasses that override ``on_save_checkpoint`` must call ``super().on_save_checkpoint(checkpoint)``.
    """

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        record_run_info(checkpoint, self)
        super().on_save_checkpoint(checkpoint)


class RecordRunInfo(Callback):
    """Harness callback: records class path, app and the run's config (plain JSON types) in checkpoints."""

    def __init__(self, app: str | None = None, config: dict[str, Any] | None = None):
        self.app, self.config = app, config

    def on_save_checkpoint(self, trainer: Trainer, pl_module: LightningModule,
                           checkpoint: dict[str, Any]) -> None:
        record_run_info(checkpoint, pl_module, app=self.app, config=self.config)


def find_best_checkpoint(dirpath: str) -> str:
    """The best checkpoint recorded by the newest ``last*.ckpt`` in ``dirpath`` (``--ckpt_path best`` in a
    process that did not run ``fit``). Reads only the callbacks' state (memory-mapped, weights_only)."""
    lasts = sorted(glob.glob(os.path.join(glob.escape(dirpath), "last*.ckpt")), key=os.path.getmtime)
    if not lasts:
        raise ValueError(f"--ckpt_path best: no last*.ckpt in {dirpath} to read the best checkpoint from; "
                         "run fit first or pass --ckpt_path PATH")
    ckpt = torch.load(lasts[-1], map_location="cpu", weights_only=True, mmap=True)
    for state in (ckpt.get("callbacks") or {}).values():
        best = state.get("best_model_path") if isinstance(state, dict) else None
        if best:
            for candidate in (best, os.path.join(dirpath, os.path.basename(best))):  # run dir may have moved
                if os.path.isfile(candidate):
                    return candidate
    raise ValueError(f"--ckpt_path best: {lasts[-1]} records no existing best checkpoint "
                     "(is checkpoint.monitor logged?); pass --ckpt_path PATH")
