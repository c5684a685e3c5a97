"""The LightningModule of active speaker detection: LoCoNet, its loss, and AP of each head.

Metrics: ``{train,val,test}/loss`` (L_AV + 0.4 L_A + 0.4 L_V), and on val/test ``/map`` — AP x 100 of the AV
head over the target speaker's real frames (each frame of a track is one row of the AVA metric,
``metric.average_precision``) — beside ``/map_audio`` and ``/map_visual``, the same AP of the audio-only and
visual-only heads (the baselines the paper's ablation compares with).

Optimiser (official ``configs/multi.yaml``): Adam, lr 5e-5, x0.95 per epoch (``lr_decay``); optional weight
decay (0 by default, as the official recipe) through the harness's one rule, ``optim.param_groups``.
"""
from __future__ import annotations

from typing import Any

import torch

from spanmix.apps.harness.checkpoint import SpanmixModule
from spanmix.apps.harness.optim import param_groups
from spanmix.apps.video.asd.metric import average_precision
from spanmix.apps.video.models.loconet import LoCoNet

__all__ = ["ASDTask"]

HEADS = {"map": "av", "map_audio": "a", "map_visual": "v"}


class ASDTask(SpanmixModule):
    """LoCoNet training/evaluation. ``model_options`` are LoCoNet's keyword arguments (its docstring);
    ``face_size`` is the crop side the model was trained on (``predict`` crops to it)."""

    def __init__(self, model_options: dict[str, Any] | None = None, lr: float = 5e-5, lr_decay: float = 0.95,
                 weight_decay: float = 0.0, face_size: int = 112):
        super().__init__()
        if lr <= 0 or not 0 < lr_decay <= 1:
            raise ValueError(f"--model.lr must be > 0 and --model.lr_decay in (0, 1], got {lr}, {lr_decay}")
        self.save_hyperparameters()
        self.model = LoCoNet(**(model_options or {}))
        self.lr, self.lr_decay, self.weight_decay, self.face_size = lr, lr_decay, weight_decay, face_size
        self._scores: dict[str, list] = {}

    def forward(self, faces, audio, mask=None):
        return self.model(faces, audio, mask)

    def _step(self, batch: dict, stage: str) -> torch.Tensor:
        out = self.model(batch["faces"], batch["audio"], batch["mask"])
        losses = self.model.loss(out, batch["labels"], batch["mask"])
        batch_size = batch["faces"].shape[0]
        self.log(f"{stage}/loss", losses["loss"], prog_bar=True, batch_size=batch_size)
        if stage != "train":
            keep = batch["mask"][:, 0]
            store = self._scores.setdefault(stage, [])
            store.append({name: LoCoNet.scores(out, head)[:, 0][keep].detach().cpu() for name, head in HEADS.items()}
                         | {"labels": batch["labels"][:, 0][keep].cpu()})
        return losses["loss"]

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx):
        self._step(batch, "val")

    def test_step(self, batch, batch_idx):
        self._step(batch, "test")

    def _epoch_end(self, stage: str) -> None:
        rows = self._scores.pop(stage, [])
        if not rows:
            return
        labels = torch.cat([r["labels"] for r in rows]).numpy().astype(bool)
        if labels.any():
            for name in HEADS:
                scores = torch.cat([r[name] for r in rows]).numpy()
                self.log(f"{stage}/{name}", 100.0 * average_precision(scores, labels))

    def on_validation_epoch_end(self):
        self._epoch_end("val")

    def on_test_epoch_end(self):
        self._epoch_end("test")

    def predict_step(self, batch, batch_idx):
        return LoCoNet.scores(self.model(batch["faces"], batch["audio"], batch["mask"]))

    def configure_optimizers(self):
        opt = torch.optim.Adam(param_groups(self.model, self.weight_decay), lr=self.lr)
        return {"optimizer": opt,
                "lr_scheduler": {"scheduler": torch.optim.lr_scheduler.StepLR(opt, 1, self.lr_decay),
                                 "interval": "epoch"}}
