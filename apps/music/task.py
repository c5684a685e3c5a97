"""LightningModule of the music app: the chord-conditioned melody LM (with optional adapters) and CM-HRNN.

    task = MusicTask("melody_lm", {"dim": 128, "schedule": "local*3,full"})
    task = MusicTask("melody_lm", {...}, pretrained="pretrained/music/lm", adapters={"kind": "conv", "size": 32})
    task = MusicTask("cm_hrnn", {"tiers": 3})

Metrics: ``{stage}/nll`` — negative log-likelihood of an event in nats, the sum of the bar, duration and
pitch heads' cross-entropies (the three are one factorised distribution of the event given the past
and the chords); ``{stage}/perplexity`` = exp(nll); ``{stage}/{bar,duration,pitch}_nll``. CM-HRNN trains
on the official weighted sum (0.4 pitch, 0.3 duration, 0.3 bar) and reports the same unweighted ``nll``
on the events it predicts (all but the first 8/16 of each window); ``score_from`` makes the LM score the
same events.

Fine-tuning: ``pretrained`` (export dir or ``.ckpt`` of a melody-LM task) is loaded when ``fit`` starts;
``adapters`` then adds adapters with the base frozen (``MelodyLM.add_adapters``).
"""
from __future__ import annotations

import math
import os
from typing import Any, Literal

import torch
import torch.nn.functional as F
from lightning.pytorch.utilities import rank_zero_info

from spanmix.apps.harness.checkpoint import SpanmixModule
from spanmix.apps.harness.optim import param_groups
from spanmix.apps.music.models.cm_hrnn import LOSS_WEIGHTS, CMHRNN, cm_hrnn_inputs
from spanmix.apps.music.models.melody_lm import HEADS, MelodyLM

__all__ = ["MusicTask", "load_melody_lm"]


class MusicTask(SpanmixModule):
    """Train/evaluate a melody model on ``MusicDataModule`` batches.

    Args:
        model: ``"melody_lm"`` or ``"cm_hrnn"``. model_options: the model's arguments.
        pretrained: weights of a melody-LM task to start from (export dir or .ckpt), loaded at ``fit``.
        adapters: ``{"kind", "size", "after"}`` for ``MelodyLM.add_adapters`` (base frozen).
        lr, weight_decay: AdamW. score_from: ignore the first N events of each window in the metrics
            (16 to compare with 3-tier CM-HRNN).
    """

    def __init__(self, model: Literal["melody_lm", "cm_hrnn"] = "melody_lm",
                 model_options: dict[str, Any] | None = None, pretrained: str | None = None,
                 adapters: dict[str, Any] | None = None, lr: float = 1e-3, weight_decay: float = 0.01,
                 score_from: int = 0):
        super().__init__()
        self.save_hyperparameters()
        if not lr > 0:
            raise ValueError(f"--model.lr must be > 0, got {lr!r}")
        options = dict(model_options or {})
        if model == "melody_lm":
            self.net = MelodyLM(**options)
            if adapters:
                self.net.add_adapters(**adapters)
        elif model == "cm_hrnn":
            if adapters or pretrained:
                raise ValueError("--model.adapters and --model.pretrained apply to model=melody_lm only")
            self.net = CMHRNN(**options)
        else:
            raise ValueError(f"--model.model must be 'melody_lm' or 'cm_hrnn', got {model!r}")

    def setup(self, stage: str) -> None:
        hp = self.hparams
        if stage == "fit" and hp.pretrained and not getattr(self, "_loaded", False):
            base = load_melody_lm(hp.pretrained)
            missing, unexpected = self.net.load_state_dict(base.state_dict(), strict=False)
            if unexpected or any(not k.startswith("adapters.") for k in missing):
                raise ValueError(f"--model.pretrained {hp.pretrained}: its weights do not fit --model.model_options "
                                 f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
            self._loaded = True
            rank_zero_info(f"MusicTask: weights from {hp.pretrained}")

    # ------------------------------------------------------------------ forward / loss
    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
        """Logits per head, the target events and their mask (aligned)."""
        for key in ("events", "mask", "bar_pos", "segment", "chords", "chord_pos", "chord_len", "chord_mask"):
            if key not in batch:
                raise ValueError(f"MusicTask: batch misses {key!r}; use spanmix.apps.music.data.collate")
        events, mask = batch["events"], batch["mask"]
        if isinstance(self.net, CMHRNN):
            off, unit = self.net.offset, (self.net.big_frame if self.net.tiers == 3 else self.net.frame)
            T = off + (events.shape[1] - off) // unit * unit
            if T <= off:
                raise ValueError(f"CM-HRNN needs windows of more than {off} events (--data.seq_len)")
            elapsed = (batch["bar_pos"][:, off:T] - 1) % 16
            logits = self.net(cm_hrnn_inputs(events[:, :T]), elapsed)
            return logits, events[:, off:T], mask[:, off:T]
        logits = self.net(events, batch["bar_pos"], batch["segment"], batch["chords"], batch["chord_pos"],
                          batch["chord_len"], mask, batch["chord_mask"])
        mask = mask.clone()
        mask[:, :self.hparams.score_from] = False
        return logits, events, mask

    def _losses(self, batch) -> dict[str, torch.Tensor]:
        logits, target, mask = self(batch)
        out = {}
        for i, head in zip((0, 2, 3), HEADS):
            ce = F.cross_entropy(logits[head].float().flatten(0, 1), target[..., i].flatten(), reduction="none")
            out[head] = (ce * mask.flatten()).sum() / mask.sum().clamp(min=1)
        out["nll"] = sum(out[h] for h in HEADS)
        out["n"] = mask.sum()
        if isinstance(self.net, CMHRNN):
            out["loss"] = sum(LOSS_WEIGHTS[h] * out[h] for h in HEADS)
        else:
            out["loss"] = out["nll"]
        return out

    def training_step(self, batch, batch_idx):
        out = self._losses(batch)
        self.log("train/loss", out["loss"], prog_bar=True, batch_size=int(out["n"]))
        return out["loss"]

    def _evaluate(self, batch, stage: str):
        out = self._losses(batch)
        n = int(out["n"])
        self.log(f"{stage}/loss", out["loss"], batch_size=n)
        self.log(f"{stage}/nll", out["nll"], prog_bar=True, batch_size=n)
        for h in HEADS:
            self.log(f"{stage}/{h}_nll", out[h], batch_size=n)
        return out

    def validation_step(self, batch, batch_idx):
        return self._evaluate(batch, "val")

    def test_step(self, batch, batch_idx):
        return self._evaluate(batch, "test")

    def on_validation_epoch_end(self):
        self._perplexity("val")

    def on_test_epoch_end(self):
        self._perplexity("test")

    def _perplexity(self, stage: str) -> None:
        nll = self.trainer.callback_metrics.get(f"{stage}/nll")
        if nll is not None:
            self.log(f"{stage}/perplexity", math.exp(float(nll)))

    def configure_optimizers(self):
        hp = self.hparams
        return torch.optim.AdamW(param_groups(self.net, hp.weight_decay), lr=hp.lr)  # frozen params left out


def load_melody_lm(path: str | os.PathLike) -> MelodyLM:
    """The ``MelodyLM`` of an export directory or a ``.ckpt`` of a melody-LM ``MusicTask``."""
    path = os.fspath(path)
    if os.path.isdir(path) or path.endswith(".json"):
        from spanmix.apps.harness.export import load_pretrained

        module = load_pretrained(path)
    elif os.path.isfile(path):
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        hp = ckpt.get("hyper_parameters") or {}
        module = MusicTask(hp.get("model", "melody_lm"), hp.get("model_options"), adapters=hp.get("adapters"))
        module.load_state_dict(ckpt["state_dict"])
    else:
        raise ValueError(f"weights not found at {path!r}; expected an export directory (model.safetensors + "
                         "config.json) or a Lightning .ckpt of a music task")
    lm = getattr(module, "net", module)
    if not isinstance(lm, MelodyLM):
        raise ValueError(f"{path}: holds a {type(lm).__name__}, not a MelodyLM")
    return lm.eval()
