"""``PlainProgress``: the progress of a run as a plain line every N steps, for output to a file or a pipe.

A progress bar (rich or tqdm) redraws one terminal line; written to a file or a pipe it shows nothing
useful until the end. When stdout is not a terminal the harness uses this instead (``--progress_every_n_steps
N``, default 50), e.g.::

    epoch 1/10  step 150/1000  batch 50/100  3.9 it/s  train/loss 0.2315
    epoch 1/10  validation done  val/loss 0.2247  val/mae 0.3301
"""
from __future__ import annotations

import sys
import time
from typing import Any

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import ProgressBar

__all__ = ["PlainProgress"]


def _fmt(metrics: dict[str, Any], prefix: str) -> str:
    out = []
    for name, value in sorted(metrics.items()):
        if name.startswith(prefix):
            try:
                out.append(f"{name} {float(value):.4g}")
            except (TypeError, ValueError):
                continue
    return "  ".join(out)


class PlainProgress(ProgressBar):
    """One line on stdout every ``every_n_steps`` training steps and after each validation (see module doc)."""

    def __init__(self, every_n_steps: int = 50):
        super().__init__()
        if isinstance(every_n_steps, bool) or not isinstance(every_n_steps, int) or every_n_steps < 1:
            raise ValueError(f"progress_every_n_steps must be a positive integer, got {every_n_steps!r}")
        self.every_n_steps = every_n_steps
        self._enabled = True
        self._t0 = time.monotonic()
        self._step0 = 0

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    def _line(self, text: str) -> None:
        if self._enabled:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()

    def _epoch(self, trainer: Trainer) -> str:
        total = f"/{trainer.max_epochs}" if trainer.max_epochs and trainer.max_epochs > 0 else ""
        return f"epoch {trainer.current_epoch + 1}{total}"

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._t0, self._step0 = time.monotonic(), trainer.global_step

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        step = trainer.global_step
        if step == 0 or step % self.every_n_steps or step == getattr(self, "_last_step", None):
            return
        self._last_step = step
        steps = f"step {step}" + (f"/{trainer.max_steps}" if trainer.max_steps and trainer.max_steps > 0 else "")
        batches = trainer.num_training_batches
        batch = f"batch {batch_idx + 1}" + (f"/{batches}" if batches != float("inf") else "")
        rate = (step - self._step0) / max(time.monotonic() - self._t0, 1e-9)
        metrics = _fmt(trainer.callback_metrics, "train/")
        self._line(f"{self._epoch(trainer)}  {steps}  {batch}  {rate:.3g} it/s  {metrics}".rstrip())

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking:
            return
        self._line(f"{self._epoch(trainer)}  validation done  "
                   f"{_fmt(trainer.callback_metrics, 'val/')}".rstrip())

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._line(f"test done  {_fmt(trainer.callback_metrics, 'test/')}".rstrip())
