"""``PointsTask``: the LightningModule that trains and scores the point models.

    dm = PointDataModule("kicad", n_points=512)
    task = PointsTask("gpsformer", {"size": "tiny"}, num_classes=dm.num_classes, in_channels=dm.in_channels)
    lightning.Trainer(max_epochs=30).fit(task, dm)

Batches: see ``spanmix.apps.points.data``. ``task: cls`` (the model maps (B, N, C) to class logits) or
``partseg`` (a ``*_partseg`` model maps points + category to per-point part logits). Loss: cross-entropy
with label smoothing (0.2 in PointMLP's and DGCNN's recipes). Metrics (torchmetrics): ``oa`` =
``MulticlassAccuracy(average="micro")`` (overall accuracy), ``macc`` = ``average="macro"`` (mean class
accuracy); with ``votes > 1`` the test also reports ``oa_vote``/``macc_vote``: softmax averaged over the
cloud and ``votes - 1`` copies scaled by U(0.85, 1.15) per axis (PointMLP's voting), seeded. Part
segmentation: ``inst_miou``/``cls_miou`` (:class:`~spanmix.apps.points.metrics.PartIoU`) and point
accuracy. ``predict_step`` returns class probabilities (cls) or per-point part probabilities (partseg).
Medical tasks (the point SSM, ``models/point_ssm.py``): ``seg`` (per-point labels in ``parts``; loss softmax
Dice + cross-entropy as the official configs; metrics ``miou`` = ``MulticlassJaccardIndex(average="macro")``
pooled over the epoch's points, per-class Dice ``dice/<class>`` = ``MulticlassF1Score(average=None)``, and
point accuracy) and ``completion`` (``points`` partial, ``category`` the class, ``target`` the full cloud;
loss DCD(alpha ``dcd_alpha`` = 40, lambda ``dcd_lambda`` = 0.5) + ``cd_weight`` (0.001) x Chamfer-L2 as the
official configs; metrics ``cd_l1``, ``cd_l2`` (``chamfer.chamfer_distance``) and ``fscore`` at
``fscore_threshold`` (0.01 = 1% of the unit sphere's radius)).
Optimiser (``configure_optimizers``): AdamW, Adam (the point SSM's recipe: Adam with L2 weight decay 1e-8) or
SGD (momentum 0.9) over the harness's ``param_groups`` (no weight decay for biases, norms and 1-D parameters)
with a cosine schedule to ``lr * 1e-2`` over ``trainer.max_epochs``, or ``schedule: linear`` (LinearLR from 1
to 0.01 over the epochs, the official point SSM configs).
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from spanmix.apps.harness.checkpoint import SpanmixModule
from spanmix.apps.harness.optim import param_groups
from spanmix.apps.points import chamfer
from spanmix.apps.points.metrics import PartIoU
from spanmix.apps.points.models import POINT_MODELS
from torch import nn
from torchmetrics import MeanMetric, MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score, MulticlassJaccardIndex

__all__ = ["PointsTask", "dice_loss", "vote_probabilities"]

STANDARD_ARGS = ("num_classes", "num_parts", "num_categories", "in_channels")


def vote_probabilities(model: nn.Module, points: torch.Tensor, votes: int, seed: int = 0, **kwargs) -> torch.Tensor:
    """Mean softmax of ``model`` over ``points`` and ``votes - 1`` copies scaled by U(0.85, 1.15) per axis."""
    g = torch.Generator().manual_seed(seed)
    probs = torch.softmax(model(points, **kwargs), -1)
    for _ in range(votes - 1):
        s = (0.85 + 0.3 * torch.rand(points.shape[0], 1, 3, generator=g)).to(points)
        x = points.clone()
        x[..., :3] = x[..., :3] * s
        probs = probs + torch.softmax(model(x, **kwargs), -1)
    return probs / votes


def dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Soft Dice over softmax probabilities: 1 - mean over the classes present in ``target`` or predicted of
    2 sum(p y) / (sum p + sum y), pooled over the batch's points. ``logits`` (B, N, K), ``target`` (B, N)."""
    p = torch.softmax(logits, -1).flatten(0, 1)
    y = F.one_hot(target.flatten(), logits.shape[-1]).to(p.dtype)
    inter, denom = (p * y).sum(0), p.sum(0) + y.sum(0)
    return 1 - (2 * inter / (denom + eps))[denom > eps].mean()


def _cls_metrics(prefix: str, n: int) -> MetricCollection:
    return MetricCollection({"oa": MulticlassAccuracy(n, average="micro"), "macc": MulticlassAccuracy(n, average="macro")},
                            prefix=prefix)


class PointsTask(SpanmixModule):
    """Train / score point model ``model`` (a ``POINT_MODELS`` name).

    Args:
        model: ``gpsformer``, ``dgcnn``, ``point_ssm`` (classification), ``gpsformer_partseg``,
            ``point_ssm_seg`` (segmentation) or ``point_ssm_completion``.
        model_options: the model's own options (``{"size": "tiny", "mixer": "local"}``).
        task: ``cls``, ``partseg``, ``seg`` or ``completion``. num_classes, num_parts, num_categories,
            in_channels: from the data.
        lr, weight_decay, optimizer (``adamw``/``adam``/``sgd``), schedule (``cosine``/``linear``),
            label_smoothing, votes: training and test options.
        dcd_alpha, dcd_lambda, cd_weight, fscore_threshold: completion loss and metric.
        classes, part_names: recorded with the weights for the demo and ``spanmix points classify``.
        parts_of_category: the part ids each category's IoU is taken over (ShapeNetPart's table; from the data).
    """

    def __init__(self, model: str = "gpsformer", model_options: dict[str, Any] | None = None, *, task: str = "cls",
                 num_classes: int, in_channels: int = 3, num_parts: int = 0, num_categories: int = 1,
                 lr: float = 1e-3, weight_decay: float = 1e-4, optimizer: str = "adamw", label_smoothing: float = 0.2,
                 votes: int = 1, classes: list[str] | None = None, part_names: list[str] | None = None,
                 parts_of_category: list[list[int]] | None = None, schedule: str = "cosine",
                 dcd_alpha: float = 40.0, dcd_lambda: float = 0.5, cd_weight: float = 0.001,
                 fscore_threshold: float = 0.01):
        super().__init__()
        self.save_hyperparameters()
        if task not in ("cls", "partseg", "seg", "completion"):
            raise ValueError(f"--model.task must be 'cls', 'partseg', 'seg' or 'completion', got {task!r}")
        if optimizer not in ("adamw", "adam", "sgd"):
            raise ValueError(f"--model.optimizer must be 'adamw', 'adam' or 'sgd', got {optimizer!r}")
        if schedule not in ("cosine", "linear"):
            raise ValueError(f"--model.schedule must be 'cosine' or 'linear', got {schedule!r}")
        if not (isinstance(lr, (int, float)) and lr > 0):
            raise ValueError(f"--model.lr must be a positive number, got {lr!r}")
        if not isinstance(votes, int) or votes < 1:
            raise ValueError(f"--model.votes must be an integer >= 1, got {votes!r}")
        options = dict(model_options or {})
        clash = sorted(set(options) & set(STANDARD_ARGS))
        if clash:
            raise ValueError(f"--model.model_options must not set {clash}; they come from the data module")
        if task in ("seg", "completion"):
            suffix = "_seg" if task == "seg" else "_completion"
            if not model.endswith(suffix):
                raise ValueError(f"--model.task {task} needs a {suffix[1:]} model (point_ssm{suffix}), got {model!r}")
            self.net = POINT_MODELS.build(model, num_classes=num_classes, in_channels=in_channels, **options)
            if task == "seg":
                names = [str(c) for c in (classes or range(num_classes))]
                self.seg_metrics = nn.ModuleDict({stage: MetricCollection({
                    "miou": MulticlassJaccardIndex(num_classes, average="macro"),
                    "point_acc": MulticlassAccuracy(num_classes, average="micro")}, prefix=f"{stage}/")
                    for stage in ("val", "test")})
                self.dice = nn.ModuleDict({s: MulticlassF1Score(num_classes, average=None) for s in ("val", "test")})
                self._class_names = names
            else:
                self.cpl_metrics = nn.ModuleDict({stage: nn.ModuleDict({k: MeanMetric() for k in ("cd_l1", "cd_l2", "fscore")})
                                                  for stage in ("val", "test")})
        elif task == "partseg":
            if not model.endswith("_partseg"):
                raise ValueError(f"--model.task partseg needs a part-segmentation model (gpsformer_partseg), got {model!r}")
            self.net = POINT_MODELS.build(model, num_parts=num_parts, num_categories=num_categories,
                                          in_channels=in_channels, **options)
            self.val_iou = PartIoU(num_categories, num_parts, parts_of_category)
            self.test_iou = PartIoU(num_categories, num_parts, parts_of_category)
            self.val_acc = MulticlassAccuracy(num_parts, average="micro")
            self.test_acc = MulticlassAccuracy(num_parts, average="micro")
        else:
            if model.endswith(("_partseg", "_seg", "_completion")):
                raise ValueError(f"--model.task cls needs a classification model, got {model!r}")
            self.net = POINT_MODELS.build(model, num_classes=num_classes, in_channels=in_channels, **options)
            self.val_metrics = _cls_metrics("val/", num_classes)
            self.test_metrics = _cls_metrics("test/", num_classes)
            self.test_vote_metrics = MetricCollection(
                {"oa_vote": MulticlassAccuracy(num_classes, average="micro"),
                 "macc_vote": MulticlassAccuracy(num_classes, average="macro")}, prefix="test/")

    def forward(self, points: torch.Tensor, category: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(points, category) if self.hparams.task in ("partseg", "completion") else self.net(points)

    def _loss(self, logits, batch) -> torch.Tensor:
        ls, hp = self.hparams.label_smoothing, self.hparams
        if hp.task == "seg":
            return dice_loss(logits, batch["parts"]) + F.cross_entropy(logits.flatten(0, 1), batch["parts"].flatten(),
                                                                       label_smoothing=ls)
        if hp.task == "completion":
            t = batch["target"]
            return (chamfer.density_aware_chamfer(logits, t, alpha=hp.dcd_alpha, n_lambda=hp.dcd_lambda).mean()
                    + hp.cd_weight * chamfer.chamfer_distance(logits, t).mean())
        if self.hparams.task == "partseg":
            return F.cross_entropy(logits.flatten(0, 1), batch["parts"].flatten(), label_smoothing=ls)
        return F.cross_entropy(logits, batch["label"], label_smoothing=ls)

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        loss = self._loss(self(batch["points"], batch.get("category")), batch)
        self.log("train/loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(batch["points"]))
        return loss

    def _evaluate(self, batch, stage: str, batch_idx: int = 0) -> torch.Tensor:
        n = len(batch["points"])
        logits = self(batch["points"], batch.get("category"))
        loss = self._loss(logits, batch)
        self.log(f"{stage}/loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=n)
        if self.hparams.task == "seg":
            pred = logits.argmax(-1).flatten()
            self.seg_metrics[stage].update(pred, batch["parts"].flatten())
            self.dice[stage].update(pred, batch["parts"].flatten())
            self.log_dict(self.seg_metrics[stage], on_step=False, on_epoch=True, prog_bar=stage == "val", batch_size=n)
            return loss
        if self.hparams.task == "completion":
            t, m = batch["target"], self.cpl_metrics[stage]
            with torch.no_grad():
                m["cd_l1"].update(chamfer.chamfer_distance(logits, t, squared=False))
                m["cd_l2"].update(chamfer.chamfer_distance(logits, t))
                m["fscore"].update(chamfer.f_score(logits, t, threshold=self.hparams.fscore_threshold))
            for k, v in m.items():
                self.log(f"{stage}/{k}", v, on_step=False, on_epoch=True, prog_bar=stage == "val" and k == "cd_l2",
                         batch_size=n)
            return loss
        if self.hparams.task == "partseg":
            iou, acc = (self.val_iou, self.val_acc) if stage == "val" else (self.test_iou, self.test_acc)
            pred = logits.argmax(-1)
            iou.update(pred, batch["parts"], batch["category"])
            acc.update(pred.flatten(), batch["parts"].flatten())
            self.log(f"{stage}/point_acc", acc, on_step=False, on_epoch=True, batch_size=n)
            return loss
        metrics = self.val_metrics if stage == "val" else self.test_metrics
        metrics.update(logits, batch["label"])
        self.log_dict(metrics, on_step=False, on_epoch=True, prog_bar=stage == "val", batch_size=n)
        if stage == "test" and self.hparams.votes > 1:
            self.test_vote_metrics.update(vote_probabilities(self.net, batch["points"], self.hparams.votes,
                                                             seed=batch_idx), batch["label"])
            self.log_dict(self.test_vote_metrics, on_step=False, on_epoch=True, batch_size=n)
        return loss

    def _log_iou(self, stage: str) -> None:
        if self.hparams.task == "seg" and self.dice[stage].update_count:
            for name, v in zip(self._class_names, self.dice[stage].compute()):
                self.log(f"{stage}/dice/{name}", v.float())
            self.dice[stage].reset()
        if self.hparams.task == "partseg":
            iou = self.val_iou if stage == "val" else self.test_iou
            for k, v in iou.compute().items():
                self.log(f"{stage}/{k}", v.float(), prog_bar=stage == "val")
            iou.reset()

    def validation_step(self, batch, batch_idx: int) -> torch.Tensor:
        return self._evaluate(batch, "val")

    def on_validation_epoch_end(self) -> None:
        self._log_iou("val")

    def test_step(self, batch, batch_idx: int) -> torch.Tensor:
        return self._evaluate(batch, "test", batch_idx)

    def on_test_epoch_end(self) -> None:
        self._log_iou("test")

    def predict_step(self, batch, batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
        if self.hparams.task == "completion":
            return self(batch["points"], batch.get("category"))
        return torch.softmax(self(batch["points"], batch.get("category")), dim=-1)

    def configure_optimizers(self):
        hp = self.hparams
        params = param_groups(self.net, hp.weight_decay)
        opt = {"adamw": lambda: torch.optim.AdamW(params, lr=hp.lr), "adam": lambda: torch.optim.Adam(params, lr=hp.lr),
               "sgd": lambda: torch.optim.SGD(params, lr=hp.lr, momentum=0.9)}[hp.optimizer]()
        epochs = max(1, self.trainer.max_epochs or 1) if self._trainer is not None else 1
        if hp.schedule == "linear":
            sched = torch.optim.lr_scheduler.LinearLR(opt, start_factor=1.0, end_factor=0.01, total_iters=epochs)
        else:
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs, eta_min=hp.lr * 1e-2)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}
