"""Checkpoint I/O for the harness: atomic saves, ``weights_only`` loads, and the module's class path.

- ``AtomicCheckpointIO``: Lightning's ``TorchCheckpointIO`` whose local saves go to a temporary file in
  the same directory that is fsynced and ``os.replace``d onto the target, so a crash mid-write leaves the
  previous checkpoint intact; a ``last*.ckpt`` keeps its predecessor as ``last*.ckpt.prev`` (a hard link
  made before the rename), so a ``last.ckpt`` damaged afterwards still leaves a good one to resume from
  (``resolve_last_checkpoint``). Loads are ``torch.load(weights_only=True)``: a checkpoint can hold
  tensors and plain containers only, never pickled code; a missing, truncated or corrupt file, or one
  holding more, is one ``CheckpointError``. The CLI has no way to turn that off (Lightning's
  ``--weights_only`` option is removed); Python callers may pass ``weights_only=False`` for a file they
  trust. The harness installs it unless a CheckpointIO plugin is configured. Remote (fsspec) paths keep
  Lightning's own transactional save.
- ``SpanmixModule``: a LightningModule base that writes ``checkpoint["spanmix"]["class_path"]`` so that
  ``spanmix export`` can rebuild the module from any checkpoint of it (the harness records the same for
  every module it trains, so subclassing is only needed for checkpoints written outside the CLI).
"""
from __future__ import annotations

import contextlib
import glob
import os
from collections.abc import Callable
from typing import Any

import fsspec.utils
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.plugins.io import TorchCheckpointIO
from spanmix.apps.harness.errors import CheckpointError
from spanmix.apps.harness.export import CHECKPOINT_KEY, atomic_path, class_path_of, load_checkpoint_file

__all__ = ["AtomicCheckpointIO", "RecordRunInfo", "SpanmixModule", "find_best_checkpoint", "record_run_info",
           "resolve_last_checkpoint"]

#: A ``last*.ckpt`` keeps its predecessor under this suffix (see AtomicCheckpointIO).
PREVIOUS_SUFFIX = ".prev"


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
        path = os.fspath(path)
        keep = os.path.basename(path).startswith("last") and os.path.isfile(path)
        with atomic_path(path) as tmp:
            torch.save(checkpoint, tmp)
            if keep:
                _keep_previous(path)

    def load_checkpoint(self, path: Any, map_location: Callable | None = lambda storage, loc: storage,
                        weights_only: bool | None = None) -> dict[str, Any]:
        if weights_only is False or not _is_local(path):
            return super().load_checkpoint(path, map_location=map_location, weights_only=weights_only)
        return load_checkpoint_file(path, map_location=map_location)


def _keep_previous(path: str) -> None:
    # Hard-link the current file as PATH.prev (atomically replacing the older .prev); PATH itself is never
    # missing. Best effort: a filesystem without hard links keeps no previous checkpoint.
    tmp = f"{path}.{os.getpid()}.prev.tmp"
    try:
        os.link(path, tmp)
        os.replace(tmp, path + PREVIOUS_SUFFIX)
    except OSError:
        with contextlib.suppress(OSError):
            os.remove(tmp)


def resolve_last_checkpoint(dirpath: str, warn: Callable[[str], None] | None = None) -> str | None:
    """The newest readable ``last*.ckpt`` in ``dirpath``, else its kept predecessor (``.prev``); None if there
    is none at all. A damaged newest one is reported through ``warn`` when a predecessor is used instead,
    and raised (``CheckpointError``) when no good one is left."""
    lasts = glob.glob(os.path.join(glob.escape(dirpath), "last*.ckpt"))
    candidates = sorted(lasts, key=os.path.getmtime, reverse=True)
    candidates += [p + PREVIOUS_SUFFIX for p in candidates if os.path.isfile(p + PREVIOUS_SUFFIX)]
    first_error = None
    for candidate in candidates:
        try:
            load_checkpoint_file(candidate, mmap=True)
        except CheckpointError as e:
            first_error = first_error or e
            continue
        if first_error is not None and warn is not None:
            warn(f"{first_error}; resuming from the previous good checkpoint {candidate}")
        return candidate
    if first_error is not None:
        raise first_error
    return None


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
    last = resolve_last_checkpoint(dirpath)
    if last is None:
        raise ValueError(f"--ckpt_path best: no last*.ckpt in {dirpath} to read the best checkpoint from; "
                         "run fit first or pass --ckpt_path PATH")
    ckpt = load_checkpoint_file(last, mmap=True)
    for state in (ckpt.get("callbacks") or {}).values():
        best = state.get("best_model_path") if isinstance(state, dict) else None
        if best:
            for candidate in (best, os.path.join(dirpath, os.path.basename(best))):  # run dir may have moved
                if os.path.isfile(candidate):
                    return candidate
    raise ValueError(f"--ckpt_path best: {last} records no existing best checkpoint "
                     "(is checkpoint.monitor logged?); pass --ckpt_path PATH")
