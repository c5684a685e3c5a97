"""``EEGTask``: the LightningModule that trains and evaluates any registered EEG decoder.

    from spanmix.apps.eeg.data import EEGDataModule
    from spanmix.apps.eeg.task import EEGTask

    dm = EEGDataModule("simulated_mi", setting="co")
    task = EEGTask("dbconformer", {"patch_size": 64, "kernel_size": 31}, n_chans=dm.n_chans,
                   n_outputs=dm.n_outputs, n_times=dm.n_times, sfreq=dm.sfreq)
    lightning.Trainer(max_epochs=20).fit(task, dm)

Batches are ``{"x": (B, C, T), "y": (B,)}``. Loss: cross-entropy (optional label smoothing). Metrics
(torchmetrics) per stage ``val``/``test``: ``acc`` (``MulticlassAccuracy(average="micro")``), ``bal_acc``
(``average="macro"``: the mean per-class recall = balanced accuracy) and ``kappa`` (``MulticlassCohenKappa``),
plus ``{train,val,test}/loss``. Optimiser: AdamW over ``spanmix.apps.harness.optim.param_groups`` (no decay
for biases, norms, 1-D and flagged parameters; with ``weight_decay`` 0 it is Adam) at ``lr`` with ``betas``
(EEG Conformer's recipe: 2e-4, (0.5, 0.999)). ``sr_segments`` > 0 appends S&R-augmented trials to every
training batch (:mod:`spanmix.apps.eeg.augment`). ``predict_step`` returns class probabilities.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from spanmix.apps.eeg.augment import segment_recombine
from spanmix.apps.eeg.models import EEG_MODELS
from spanmix.apps.harness.checkpoint import SpanmixModule
from spanmix.apps.harness.optim import param_groups
from torch import nn
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassCohenKappa

__all__ = ["EEGTask"]

STANDARD_ARGS = ("n_chans", "n_outputs", "n_times", "sfreq")


def _metrics(prefix: str, n: int) -> MetricCollection:
    return MetricCollection({
        "acc": MulticlassAccuracy(n, average="micro"),
        "bal_acc": MulticlassAccuracy(n, average="macro"),
        "kappa": MulticlassCohenKappa(n),
    }, prefix=prefix)


class EEGTask(SpanmixModule):
    """Train / evaluate the EEG model ``model`` (an ``EEG_MODELS`` name) on epoch batches.

    Args:
        model: ``dbconformer``, ``eeg_conformer`` or ``eegnet``.
        model_options: the model's own hyper-parameters (``{"emb": 40, "mixer": "full"}``).
        n_chans, n_outputs, n_times, sfreq: the data's shape (the CLI links them from the data module).
        lr, weight_decay, betas: AdamW. label_smoothing: cross-entropy smoothing.
        sr_segments: segments of EEG Conformer's S&R augmentation (official 8); 0 turns it off.
        classes, ch_names: recorded with the weights (for the demo); not used in training.
    """

    def __init__(self, model: str = "dbconformer", model_options: dict[str, Any] | None = None, *,
                 n_chans: int, n_outputs: int, n_times: int, sfreq: float, lr: float = 1e-3,
                 weight_decay: float = 0.0, label_smoothing: float = 0.0, classes: list[str] | None = None,
                 ch_names: list[str] | None = None, betas: tuple[float, float] = (0.9, 0.999),
                 sr_segments: int = 0):
        super().__init__()
        self.save_hyperparameters()
        if not (isinstance(lr, (int, float)) and lr > 0):
            raise ValueError(f"EEGTask: lr must be a positive number, got {lr!r}")
        if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"EEGTask: --model.betas must be two numbers in [0, 1), got {betas!r}")
        if not isinstance(sr_segments, int) or sr_segments < 0 or sr_segments > n_times:
            raise ValueError(f"EEGTask: --model.sr_segments must be 0 (off) or an integer up to n_times={n_times}, "
                             f"got {sr_segments!r}")
        options = dict(model_options or {})
        clash = sorted(set(options) & set(STANDARD_ARGS))
        if clash:
            raise ValueError(f"EEGTask: model_options must not set {clash}; they come from the data module")
        self.net: nn.Module = EEG_MODELS.build(model, n_chans=n_chans, n_outputs=n_outputs, n_times=n_times,
                                               sfreq=sfreq, **options)
        self.model_name, self.n_outputs = model, n_outputs
        self.val_metrics = _metrics("val/", n_outputs)
        self.test_metrics = _metrics("test/", n_outputs)

    def forward(self, x: torch.Tensor, return_features: bool = False):
        """Logits ``(B, n_outputs)`` of epochs ``x`` (B, n_chans, n_times)."""
        return self.net(x, return_features=return_features) if return_features else self.net(x)

    def _batch(self, batch) -> tuple[torch.Tensor, torch.Tensor | None]:
        if not isinstance(batch, dict) or "x" not in batch:
            got = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
            raise ValueError(f"EEGTask: a batch must be a dict with 'x' (B, C, T) and 'y' (B,), got {got}")
        return batch["x"], batch.get("y")

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        x, y = self._batch(batch)
        if self.hparams.sr_segments:
            x, y = segment_recombine(x, y, self.hparams.sr_segments)
        loss = F.cross_entropy(self(x), y, label_smoothing=self.hparams.label_smoothing)
        self.log("train/loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(x))
        return loss

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        """After the optimiser step: the model's weight constraints (EEGNet's max-norm, as Keras applies it)."""
        self.net.apply_constraints()

    def _evaluate(self, batch, stage: str, metrics: MetricCollection) -> torch.Tensor:
        x, y = self._batch(batch)
        logits = self(x)
        loss = F.cross_entropy(logits, y)
        metrics.update(logits, y)
        self.log(f"{stage}/loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(x))
        self.log_dict(metrics, on_step=False, on_epoch=True, prog_bar=stage == "val")
        return loss

    def validation_step(self, batch, batch_idx: int) -> torch.Tensor:
        return self._evaluate(batch, "val", self.val_metrics)

    def test_step(self, batch, batch_idx: int) -> torch.Tensor:
        return self._evaluate(batch, "test", self.test_metrics)

    def predict_step(self, batch, batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
        """Class probabilities ``(B, n_outputs)``."""
        return torch.softmax(self(self._batch(batch)[0]), dim=-1)

    def configure_optimizers(self):
        return torch.optim.AdamW(param_groups(self.net, self.hparams.weight_decay), lr=self.hparams.lr,
                                 betas=tuple(self.hparams.betas))
