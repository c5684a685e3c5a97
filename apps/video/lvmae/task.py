"""LightningModules of LV-MAE: masked-embedding pretraining (``LVMAETask``) and probing (``ProbeTask``).

Pretraining recipe (official ``main_pretrain.py``, MAE lineage): AdamW (betas 0.9, 0.95), absolute lr =
``blr`` x batch / 256 with ``blr`` 1e-3, weight decay 0.05 (the harness's rule: none on norms/biases),
linear warm-up for ``warmup_epochs`` then a half-cycle cosine to ``min_lr``, both per step as
``util/lr_sched.py``. Metrics: ``train/loss``, ``val/loss`` (the masked-token loss; validation masks with
the model's masking, random masking seeded per batch so that it repeats).

Probing (official ``test_ap_movie_clip.py`` / ``test_lp_movie_clip.py``): the pretrained encoder frozen
(eval mode, no gradient) over the whole video; ``attentive``: one transformer block (8 heads, MLP x4) ->
LayerNorm -> linear on [CLS]; ``linear``: linear on the encoder's [CLS]. Adam (amsgrad), lr 3e-4, weight
decay 1e-3, cosine over the epochs (30 in the paper). Two baselines that need no LV-MAE: ``mean``, a
linear probe on the mean of the raw segment embeddings, and any probe with ``pretrained: null``, whose
encoder is the randomly initialised LV-MAE (a control, never reported as an encoder). Metrics:
``{val,test}/acc`` (top-1 accuracy, a fraction) and ``/loss``.
"""
from __future__ import annotations

import math
import os
from typing import Any

import torch
import torchmetrics
from torch import nn

from spanmix.apps.harness.checkpoint import SpanmixModule
from spanmix.apps.harness.optim import param_groups
from spanmix.apps.video.lvmae.masking import importance_mask, random_mask
from spanmix.apps.video.models.lvmae import LVMAE
from spanmix.backbone.stack import MixerStack

__all__ = ["LVMAETask", "ProbeTask", "load_lvmae_weights", "warmup_cosine"]


def warmup_cosine(epoch: float, warmup_epochs: float, epochs: float, lr: float, min_lr: float = 0.0) -> float:
    """The official per-step schedule at fractional ``epoch``: linear warm-up, then half-cycle cosine."""
    if epoch < warmup_epochs:
        return lr * epoch / warmup_epochs
    span = max(epochs - warmup_epochs, 1e-9)
    return min_lr + (lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, (epoch - warmup_epochs) / span)))


class LVMAETask(SpanmixModule):
    """LV-MAE pretraining. ``model_options`` are ``LVMAE``'s arguments; ``batch_size`` scales ``blr``."""

    def __init__(self, model_options: dict[str, Any] | None = None, blr: float = 1e-3, batch_size: int = 16,
                 weight_decay: float = 0.05, warmup_epochs: float = 40.0, min_lr: float = 0.0):
        super().__init__()
        if blr <= 0 or batch_size < 1 or warmup_epochs < 0:
            raise ValueError(f"need blr > 0, batch_size >= 1, warmup_epochs >= 0; got {blr}, {batch_size}, {warmup_epochs}")
        self.save_hyperparameters()
        self.model = LVMAE(**(model_options or {}))
        self.lr = blr * batch_size / 256
        self.weight_decay, self.warmup_epochs, self.min_lr = weight_decay, warmup_epochs, min_lr

    def forward(self, x, valid=None, mask=None):
        return self.model(x, valid, mask)

    def training_step(self, batch, batch_idx):
        out = self.model(batch["x"], batch["valid"])
        self.log("train/loss", out["loss"], prog_bar=True, batch_size=len(batch["x"]))
        return out["loss"]

    def _eval(self, batch, batch_idx, stage):
        x, valid = batch["x"], batch["valid"]
        if self.model.masking == "random":
            gen = torch.Generator().manual_seed(batch_idx)
            mask = random_mask(x.cpu(), self.model.mask_ratio, valid.cpu(), generator=gen).to(x.device)
        else:
            mask = importance_mask(x, self.model.mask_ratio, valid)
        out = self.model(x, valid, mask)
        self.log(f"{stage}/loss", out["loss"], prog_bar=True, batch_size=len(x))

    def validation_step(self, batch, batch_idx):
        self._eval(batch, batch_idx, "val")

    def test_step(self, batch, batch_idx):
        self._eval(batch, batch_idx, "test")

    def predict_step(self, batch, batch_idx):
        """The video representation: the encoder's [CLS] over the whole (unmasked) video, (B, dim)."""
        return self.model.encode(batch["x"], batch["valid"])[:, 0]

    def configure_optimizers(self):
        opt = torch.optim.AdamW(param_groups(self.model, self.weight_decay), lr=self.lr, betas=(0.9, 0.95))
        epochs = max(1, self.trainer.max_epochs or 1)
        steps_per_epoch = max(1.0, self.trainer.estimated_stepping_batches / epochs)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda step: warmup_cosine(step / steps_per_epoch, self.warmup_epochs, epochs, 1.0,
                                            self.min_lr / self.lr))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def load_lvmae_weights(model: LVMAE, path: str) -> None:
    """Load LV-MAE weights from a pretraining checkpoint (``.ckpt`` of ``spanmix video lvmae fit``) or an
    exported ``model.safetensors`` / export folder."""
    from spanmix.apps.harness.export import load_checkpoint_file

    if not os.path.exists(path) and not os.path.isabs(path):
        from spanmix.apps.harness.weights import PACKAGE_ROOT

        if (PACKAGE_ROOT / path).exists():  # a shipped export named relative to the repository (pretrained/...)
            path = str(PACKAGE_ROOT / path)
    if os.path.isdir(path):
        path = os.path.join(path, "model.safetensors")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no LV-MAE weights at {path!r} (expected a fit checkpoint .ckpt or model.safetensors)")
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        state = load_file(path)
    else:
        state = load_checkpoint_file(path)["state_dict"]
    state = {k[len("model."):]: v for k, v in state.items() if k.startswith("model.")} or state
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as e:  # shape mismatches
        raise ValueError(f"{path!r} does not fit this LV-MAE (model_options must equal the pretraining "
                         f"config's): {str(e).splitlines()[-1].strip()}") from None
    if missing or unexpected:
        raise ValueError(f"{path!r} does not fit this LV-MAE (model_options must equal the pretraining config's): "
                         f"missing {missing[:3]}..., unexpected {unexpected[:3]}...")


class ProbeTask(SpanmixModule):
    """Probe a frozen LV-MAE encoder (module docstring).

    Args:
        model_options: the pretrained LV-MAE's options (as in its fit config).
        pretrained: its checkpoint or export (``None``: the random-init control).
        probe: ``attentive``, ``linear`` or ``mean`` (baseline on raw embeddings, no LV-MAE).
        num_classes: classes (linked from the data). lr, weight_decay: Adam's. heads: the attentive block's.
    """

    def __init__(self, model_options: dict[str, Any] | None = None, pretrained: str | None = None,
                 probe: str = "attentive", num_classes: int = 2, lr: float = 3e-4, weight_decay: float = 1e-3,
                 heads: int = 8):
        super().__init__()
        if probe not in ("attentive", "linear", "mean"):
            raise ValueError(f"probe must be 'attentive', 'linear' or 'mean', got {probe!r}")
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2 (labelled data), got {num_classes}")
        self.save_hyperparameters()
        self.encoder = LVMAE(**(model_options or {}))
        if pretrained and probe != "mean":
            load_lvmae_weights(self.encoder, pretrained)
        self.encoder.requires_grad_(False).eval()
        self.probe_kind, self.lr, self.weight_decay = probe, lr, weight_decay
        dim = self.encoder.dim if probe != "mean" else self.encoder.input_dim
        # The official attentive probe: Block(dim, 8 heads, mlp 4, qkv_bias) -> LayerNorm -> Linear.
        self.block = MixerStack(dim, "full", 1, heads=heads, bias=True) if probe == "attentive" else None
        self.head = nn.Linear(dim, num_classes)
        self.acc = nn.ModuleDict({s: torchmetrics.classification.MulticlassAccuracy(num_classes, average="micro")
                                  for s in ("train_", "val", "test")})

    def train(self, mode: bool = True):
        super().train(mode)
        self.encoder.eval()  # frozen: never in training mode
        return self

    def forward(self, x: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        """Class logits (B, C) of sequences (B, T, D_in)."""
        if valid is None:
            valid = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        if self.probe_kind == "mean":
            w = valid[..., None].to(x.dtype)
            return self.head((x * w).sum(1) / w.sum(1).clamp(min=1))
        with torch.no_grad():
            z = self.encoder.encode(x, valid)
        if self.block is not None:
            ones = torch.ones(x.shape[0], 1, dtype=torch.bool, device=x.device)
            z = self.block(z, mask=torch.cat([ones, valid], 1))
        return self.head(z[:, 0])

    def _step(self, batch, stage: str):
        logits = self(batch["x"], batch["valid"])
        loss = nn.functional.cross_entropy(logits, batch["label"])
        key = "train_" if stage == "train" else stage
        self.acc[key](logits.argmax(-1), batch["label"])
        self.log(f"{stage}/loss", loss, prog_bar=True, batch_size=len(logits))
        self.log(f"{stage}/acc", self.acc[key], prog_bar=stage != "train", on_step=False, on_epoch=True,
                 batch_size=len(logits))
        return loss

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx):
        self._step(batch, "val")

    def test_step(self, batch, batch_idx):
        self._step(batch, "test")

    def predict_step(self, batch, batch_idx):
        return self(batch["x"], batch["valid"]).softmax(-1)

    def configure_optimizers(self):
        params = [p for n, p in self.named_parameters() if p.requires_grad and not n.startswith("encoder.")]
        opt = torch.optim.Adam(params, lr=self.lr, amsgrad=True, weight_decay=self.weight_decay)
        epochs = max(1, self.trainer.max_epochs or 1)
        return {"optimizer": opt, "lr_scheduler": torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)}
