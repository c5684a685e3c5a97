"""LightningModules of the genomics app: next-nucleotide pretraining and sequence classification.

    task = PretrainTask("tiny-1k", {"l_max": 1026})           # HyenaDNA LM (a CONFIGS name + overrides)
    task = ClassifyTask("hyenadna", {"d_model": 128, ...}, n_classes=2, pretrained="pretrained/genomics/x")

Metrics (torchmetrics):
- pretraining: ``{train,val,test}/loss`` (cross-entropy, nats), ``{val,test}/bits_per_nt`` (= loss / ln 2;
  2.0 is a uniform guess over A/C/G/T) and ``/accuracy`` (next-nucleotide, micro);
- classification: ``/loss``, ``/accuracy`` and ``/mcc`` (Matthews correlation coefficient).

Optimiser (Nguyen et al. 2023, App. A.1): AdamW with the harness's one decay rule
(``spanmix.apps.harness.optim``: no decay for biases, norms, 1-D parameters, the Hyena filter network, as the
official code, and the SSM parameters Mamba/S4D flag ``_no_weight_decay``), linear warm-up for
``warmup_steps`` then cosine decay to ``min_lr_ratio · lr`` over the run (``trainer.max_steps`` if set,
else Lightning's estimate; with the warm-up schedule every optimiser step sees the same number of
tokens, so steps per epoch do not change between stages).

Fine-tuning: ``pretrained`` is an export directory (``spanmix export`` / ``save_pretrained`` of a
``PretrainTask``) or a Lightning ``.ckpt`` of one. Its weights are loaded into the classifier's body
when ``fit`` starts (not in ``__init__``, so an exported classifier reloads without the file); the
classifier's body options must match the pretrained model's (a clear error says which do not). An official
HyenaDNA checkpoint (``spanmix.apps.genomics.official``) is accepted too. ``freeze_backbone`` trains the head
alone (linear probing: the body's parameters get ``requires_grad=False`` and so no optimiser group);
``layer_decay`` < 1 gives the layer-wise learning rates of the harness's rule (``lr · layer_decay^(n+1-k)``
for the embedding k = 0, block k = 1..n and the final norm/head k = n+1).
"""

from __future__ import annotations

import math
import os
from typing import Any, Literal

import torch
import torch.nn.functional as F
from lightning.pytorch.utilities import rank_zero_info
from spanmix.apps.genomics.models import CONFIGS, DNACNN, HyenaDNA, HyenaDNAClassifier
from spanmix.apps.harness.checkpoint import SpanmixModule
from spanmix.apps.harness.optim import param_groups
from torch import nn
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassMatthewsCorrCoef

__all__ = ["ClassifyTask", "PretrainTask", "load_pretrained_lm"]

LN2 = math.log(2.0)


def _optimizer(
    module: nn.Module, lr: float, weight_decay: float, warmup_steps: int, min_lr_ratio: float, trainer,
    **layers: Any,
) -> dict:
    opt = torch.optim.AdamW(param_groups(module, weight_decay, lr=lr, **layers), lr=lr, betas=(0.9, 0.999))
    total = (
        trainer.max_steps
        if trainer.max_steps and trainer.max_steps > 0
        else trainer.estimated_stepping_batches
    )
    total = max(int(total), warmup_steps + 1)

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, total - warmup_steps))
        return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def _check(value: float, name: str, low: float = 0.0) -> None:
    if not isinstance(value, (int, float)) or value < low:
        raise ValueError(f"{name} must be a number >= {low}, got {value!r}")


class PretrainTask(SpanmixModule):
    """Next-nucleotide pretraining of a HyenaDNA LM (Nguyen et al. 2023, Sec. 3.3).

    Args:
        model: a ``CONFIGS`` name (``tiny-1k``, ``small-32k``, ...) or None (``model_options`` alone).
        model_options: ``HyenaDNA`` arguments overriding the config (e.g. ``{"l_max": 1026}``).
        lr, weight_decay, warmup_steps, min_lr_ratio: optimiser (module docstring).

    Batches: ``{"ids": (B, L), "target": (B, L)}``.
    """

    def __init__(
        self,
        model: str | None = "tiny-1k",
        model_options: dict[str, Any] | None = None,
        lr: float = 6e-4,
        weight_decay: float = 0.1,
        warmup_steps: int = 100,
        min_lr_ratio: float = 0.1,
    ):
        super().__init__()
        self.save_hyperparameters()
        _check(lr, "lr", 1e-12)
        _check(weight_decay, "weight_decay")
        options = dict(model_options or {})
        self.net = HyenaDNA.from_config(model, **options) if model else HyenaDNA(**options)
        self.metrics = nn.ModuleDict(
            {s: MulticlassAccuracy(self.net.vocab_size, average="micro") for s in ("val", "test")}
        )

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.net(ids)

    def _loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        if not isinstance(batch, dict) or "ids" not in batch or "target" not in batch:
            raise ValueError(
                "PretrainTask: a batch must be a dict with 'ids' and 'target' (B, L) LongTensors"
            )
        logits = self(batch["ids"])
        return F.cross_entropy(logits.flatten(0, 1).float(), batch["target"].flatten()), logits

    def training_step(self, batch, batch_idx):
        loss, _ = self._loss(batch)
        self.log(
            "train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=batch["ids"].shape[0]
        )
        return loss

    def _evaluate(self, batch, stage: str):
        loss, logits = self._loss(batch)
        n = batch["ids"].shape[0]
        self.metrics[stage].update(logits.flatten(0, 1), batch["target"].flatten())
        self.log(f"{stage}/loss", loss, on_epoch=True, prog_bar=True, batch_size=n)
        self.log(f"{stage}/bits_per_nt", loss / LN2, on_epoch=True, prog_bar=True, batch_size=n)
        self.log(f"{stage}/accuracy", self.metrics[stage], on_epoch=True, batch_size=n)
        return loss

    def validation_step(self, batch, batch_idx):
        return self._evaluate(batch, "val")

    def test_step(self, batch, batch_idx):
        return self._evaluate(batch, "test")

    def predict_step(self, batch, batch_idx, dataloader_idx: int = 0):
        return self(batch["ids"]).log_softmax(-1)

    def configure_optimizers(self):
        hp = self.hparams
        return _optimizer(self.net, hp.lr, hp.weight_decay, hp.warmup_steps, hp.min_lr_ratio, self.trainer)


def _official(path: str) -> bool:
    """Whether ``path`` holds an official HyenaDNA checkpoint (``spanmix.apps.genomics.official``)."""
    from spanmix.apps.genomics.official import is_official_state_dict, read_state_dict

    if os.path.isdir(path):
        if not any(os.path.isfile(os.path.join(path, n)) for n in ("pytorch_model.bin", "weights.ckpt")):
            if not os.path.isfile(os.path.join(path, "model.safetensors")):
                return False
    elif not os.path.isfile(path) or path.endswith(".json"):
        return False
    if path.endswith(".safetensors") or os.path.isdir(path):
        from safetensors import safe_open

        file = path if not os.path.isdir(path) else os.path.join(path, "model.safetensors")
        if os.path.isfile(file):
            with safe_open(file, "pt") as f:
                return is_official_state_dict(dict.fromkeys(f.keys()))
    try:
        return is_official_state_dict(read_state_dict(path))
    except Exception:  # noqa: BLE001 - not readable as a state dict: let the caller's own reader report it
        return False


def load_pretrained_lm(path: str | os.PathLike) -> HyenaDNA:
    """The ``HyenaDNA`` LM of an export directory, a ``.ckpt`` of a ``PretrainTask``, or an official HyenaDNA
    checkpoint file/folder (Hugging Face or Lightning naming; ``spanmix.apps.genomics.official``)."""
    path = os.fspath(path)
    if _official(path):
        from spanmix.apps.genomics.official import load_official

        return load_official(path)
    if os.path.isdir(path) or path.endswith(".json"):
        from spanmix.apps.harness.export import load_pretrained

        module = load_pretrained(path)
    elif os.path.isfile(path):
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        hp = ckpt.get("hyper_parameters") or {}
        module = PretrainTask(hp.get("model", "tiny-1k"), hp.get("model_options"))
        module.load_state_dict(ckpt["state_dict"])
    else:
        raise ValueError(
            f"pretrained weights not found at {path!r}; expected an export directory "
            "(model.safetensors + config.json), a Lightning .ckpt of a PretrainTask or an official HyenaDNA "
            "checkpoint"
        )
    lm = getattr(module, "net", module)
    if not isinstance(lm, HyenaDNA):
        raise ValueError(f"{path}: holds a {type(lm).__name__}, not a HyenaDNA language model")
    return lm


class ClassifyTask(SpanmixModule):
    """Sequence classification: fine-tuned HyenaDNA (Sec. 4.2) or the CNN baseline.

    Args:
        model: ``"hyenadna"`` or ``"cnn"``.
        model_options: the model's arguments (HyenaDNA: ``config`` name and/or body sizes, ``pooling``).
        n_classes: classes (linked from the data module).
        pretrained: export dir or ``.ckpt`` of a ``PretrainTask`` (or an official HyenaDNA checkpoint) whose
            weights start the body (HyenaDNA).
        lr, weight_decay, warmup_steps, min_lr_ratio: optimiser (module docstring).
        freeze_backbone: train only the head (HyenaDNA). layer_decay: layer-wise lr decay in (0, 1] (HyenaDNA).

    Batches: ``{"ids": (B, L), "label": (B,)}``.
    """

    def __init__(
        self,
        model: Literal["hyenadna", "cnn"] = "hyenadna",
        model_options: dict[str, Any] | None = None,
        n_classes: int = 2,
        pretrained: str | None = None,
        lr: float = 6e-4,
        weight_decay: float = 0.1,
        warmup_steps: int = 10,
        min_lr_ratio: float = 0.1,
        freeze_backbone: bool = False,
        layer_decay: float = 1.0,
    ):
        super().__init__()
        self.save_hyperparameters()
        _check(lr, "lr", 1e-12)
        if not isinstance(layer_decay, (int, float)) or not 0 < layer_decay <= 1:
            raise ValueError(f"ClassifyTask: layer_decay must be in (0, 1], got {layer_decay!r}")
        if model == "cnn" and (freeze_backbone or layer_decay != 1):
            raise ValueError("ClassifyTask: freeze_backbone and layer_decay apply to model='hyenadna' only")
        options = dict(model_options or {})
        if model == "hyenadna":
            config = options.pop("config", None)
            if config is not None:
                if config not in CONFIGS:
                    raise ValueError(f"unknown HyenaDNA config {config!r}; expected one of {sorted(CONFIGS)}")
                options = {**CONFIGS[config], **options}
            self.net = HyenaDNAClassifier(n_classes, **options)
            if freeze_backbone:
                self.net.lm.requires_grad_(False)
        elif model == "cnn":
            if pretrained:
                raise ValueError("ClassifyTask: pretrained weights apply to model='hyenadna' only")
            self.net = DNACNN(n_classes, **options)
        else:
            raise ValueError(f"ClassifyTask: model must be 'hyenadna' or 'cnn', got {model!r}")
        self.metrics = nn.ModuleDict(
            {
                s: MetricCollection(
                    {
                        "accuracy": MulticlassAccuracy(n_classes, average="micro"),
                        "mcc": MulticlassMatthewsCorrCoef(n_classes),
                    },
                    prefix=f"{s}/",
                )
                for s in ("val", "test")
            }
        )

    def setup(self, stage: str) -> None:
        if stage == "fit" and self.hparams.pretrained and not getattr(self, "_loaded", False):
            lm = load_pretrained_lm(self.hparams.pretrained)
            mine = self.net.lm.config
            diff = {k: (mine[k], v) for k, v in lm.config.items() if mine.get(k) != v}
            if diff:
                raise ValueError(
                    f"pretrained model {self.hparams.pretrained} differs from model_options in "
                    f"{ {k: f'ours {a}, pretrained {b}' for k, (a, b) in diff.items()} }"
                )
            self.net.load_backbone(lm.state_dict())
            self._loaded = True
            rank_zero_info(f"ClassifyTask: body initialised from {self.hparams.pretrained}")

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.net(ids)

    def _step(self, batch):
        if not isinstance(batch, dict) or "ids" not in batch or "label" not in batch:
            raise ValueError("ClassifyTask: a batch must be a dict with 'ids' (B, L) and 'label' (B,)")
        logits = self(batch["ids"])
        return F.cross_entropy(logits.float(), batch["label"]), logits

    def training_step(self, batch, batch_idx):
        loss, _ = self._step(batch)
        self.log(
            "train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=len(batch["label"])
        )
        return loss

    def _evaluate(self, batch, stage: str):
        loss, logits = self._step(batch)
        self.metrics[stage].update(logits, batch["label"])
        self.log(f"{stage}/loss", loss, on_epoch=True, prog_bar=True, batch_size=len(batch["label"]))
        self.log_dict(self.metrics[stage], on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        return self._evaluate(batch, "val")

    def test_step(self, batch, batch_idx):
        return self._evaluate(batch, "test")

    def predict_step(self, batch, batch_idx, dataloader_idx: int = 0):
        return self(batch["ids"]).softmax(-1)

    def configure_optimizers(self):
        hp = self.hparams
        layers = {}
        if hp.layer_decay != 1:
            layers = {"layer_decay": hp.layer_decay, "layer_id": self.net.layer_id,
                      "num_layers": len(self.net.lm.backbone.blocks) + 1}
        return _optimizer(self.net, hp.lr, hp.weight_decay, hp.warmup_steps, hp.min_lr_ratio, self.trainer,
                          **layers)
