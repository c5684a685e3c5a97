"""``RestoreTask``: train and evaluate an image-restoration network (MaIR, MaIRUNet or the CNN baseline).

Loss: L1 (SR, deblurring, dehazing) or Charbonnier (eps 1e-3; Gaussian colour denoising), as MaIR's option
files. Metrics: PSNR / SSIM (``spanmix.apps.restore.metrics``) of the output rounded to 8 bits, on the Y
channel with ``crop_border = scale`` for SR and on RGB otherwise (the paper's conventions), logged as
``<stage>/psnr`` and ``<stage>/ssim`` beside ``<stage>/loss``. Optimiser: Adam(lr, betas (0.9, 0.99)) with
MultiStepLR (SR / denoising files) or AdamW, over the harness's ``param_groups`` (no decay on biases,
norms, ``A_logs``/``Ds``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from spanmix.apps.harness.checkpoint import SpanmixModule
from spanmix.apps.harness.optim import param_groups
from spanmix.apps.restore.metrics import psnr, ssim

__all__ = ["MODELS", "RestoreTask", "build_model"]

MODELS = ("mair", "mair_unet", "cnn")


def build_model(model: str, options: dict | None) -> torch.nn.Module:
    """``mair`` -> ``MaIR``, ``mair_unet`` -> ``MaIRUNet``, ``cnn`` -> ``RestoreCNN``; an ``official`` option
    (e.g. ``{official: light_sr_t_x2}``) starts from that official config, other options override it."""
    from spanmix.apps.restore.models import MaIR, MaIRUNet, RestoreCNN, build_official

    options = dict(options or {})
    if model not in MODELS:
        raise ValueError(f"--model.model must be one of {', '.join(MODELS)}; got {model!r}")
    if "official" in options:
        return build_official(options.pop("official"), **options)
    return {"mair": MaIR, "mair_unet": MaIRUNet, "cnn": RestoreCNN}[model](**options)


def charbonnier(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    return torch.sqrt((pred - target) ** 2 + eps ** 2).mean()


class RestoreTask(SpanmixModule):
    """Args:
        model, model_options: see ``build_model``.
        task: ``sr``, ``denoise``, ``deblur`` or ``dehaze`` (sets the metric convention).
        scale: SR factor (1 for the other tasks). loss: ``l1`` or ``charbonnier``.
        lr, weight_decay, optimizer (``adam`` | ``adamw``), milestones (MultiStepLR steps, halving the lr).
    """

    def __init__(self, model: str = "mair", model_options: dict | None = None, task: str = "sr", scale: int = 2,
                 loss: str = "l1", lr: float = 2e-4, weight_decay: float = 0.0, optimizer: str = "adam",
                 milestones: list[int] | None = None):
        super().__init__()
        if task not in ("sr", "denoise", "deblur", "dehaze"):
            raise ValueError(f"--model.task must be sr, denoise, deblur or dehaze; got {task!r}")
        if loss not in ("l1", "charbonnier"):
            raise ValueError(f"--model.loss must be l1 or charbonnier; got {loss!r}")
        if optimizer not in ("adam", "adamw"):
            raise ValueError(f"--model.optimizer must be adam or adamw; got {optimizer!r}")
        self.save_hyperparameters()
        self.net = build_model(model, model_options)
        self.scale = scale if task == "sr" else 1
        upscale = getattr(self.net, "upscale", 1)
        if upscale != self.scale:
            raise ValueError(f"the model upscales by {upscale} but the task needs {self.scale} (--data.scale "
                             f"{scale}, --data.task {task}): set --model.model_options.upscale to match")

    def forward(self, lq: torch.Tensor) -> torch.Tensor:
        return self.net(lq)

    def _loss(self, out: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
        return F.l1_loss(out, gt) if self.hparams.loss == "l1" else charbonnier(out, gt)

    def training_step(self, batch, batch_idx):
        loss = self._loss(self(batch["lq"]), batch["gt"])
        self.log("train/loss", loss, prog_bar=True, batch_size=batch["lq"].shape[0])
        return loss

    def scores(self, out: torch.Tensor, gt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """PSNR, SSIM ``(B,)`` of ``out`` rounded to 8 bits against ``gt``, in the task's convention."""
        q = (out.clamp(0, 1) * 255).round() / 255
        sr = self.hparams.task == "sr"
        kw = dict(crop_border=self.scale if sr else 0, y_channel=sr)
        return psnr(q, gt, **kw), ssim(q, gt, **kw)

    def _evaluate(self, batch, stage: str):
        out = self(batch["lq"])
        n = out.shape[0]
        self.log(f"{stage}/loss", self._loss(out, batch["gt"]), prog_bar=True, batch_size=n)
        p, s = self.scores(out, batch["gt"])
        self.log(f"{stage}/psnr", p.mean().float(), prog_bar=True, batch_size=n)
        self.log(f"{stage}/ssim", s.mean().float(), batch_size=n)

    def validation_step(self, batch, batch_idx):
        self._evaluate(batch, "val")

    def test_step(self, batch, batch_idx):
        self._evaluate(batch, "test")

    def predict_step(self, batch, batch_idx, dataloader_idx: int = 0):
        return {"name": batch["name"], "output": self(batch["lq"]).clamp(0, 1)}

    def configure_optimizers(self):
        hp = self.hparams
        groups = param_groups(self.net, hp.weight_decay)  # the harness's one decay rule
        if hp.optimizer == "adam":
            opt = torch.optim.Adam(groups, lr=hp.lr, betas=(0.9, 0.99))
        else:
            opt = torch.optim.AdamW(groups, lr=hp.lr, betas=(0.9, 0.999))
        if not hp.milestones:
            return opt
        sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(hp.milestones), gamma=0.5)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
