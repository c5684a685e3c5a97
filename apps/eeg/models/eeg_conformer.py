"""EEG Conformer: a shallow convolution stem, then self-attention over its time patches.

Song, Zheng, Liu & Gao, "EEG Conformer: Convolutional Transformer for EEG Decoding and Visualization",
IEEE Trans. Neural Syst. Rehabil. Eng. 31 (2023) 710-719, Sec. II (Fig. 1, Table I).
"""
from __future__ import annotations

import torch
from einops import rearrange
from spanmix.apps.eeg.models import EEG_MODELS, EEGModel, _check_int
from spanmix.backbone import MixerStack
from torch import nn

__all__ = ["EEGConformer"]


@EEG_MODELS.register("eeg_conformer")
class EEGConformer(EEGModel):
    """EEG Conformer (Song et al. 2023, Sec. II): convolution module, self-attention module, classifier.

    - convolution module (Sec. II-B): temporal conv ``(1, 25)`` with 40 filters, spatial conv over all
      ``n_chans`` electrodes, BatchNorm, ELU, average pooling ``(1, 75)`` stride 15, dropout 0.5, and a
      1x1 conv projection; each pooled time step is one token of width ``emb`` = 40;
    - self-attention module (Sec. II-C): ``depth`` = 6 pre-norm transformer blocks, 10 heads, FFN x4,
      dropout 0.5 (the backbone's ``MixerStack`` without a final norm);
    - classifier (Sec. II-D): flatten, ``Linear -> 256 -> 32 -> n_outputs`` with ELU and dropout 0.5/0.3.

    At 22 channels, 4 classes, 1000 samples it has 789,572 parameters, braindecode's ``EEGConformer``
    count; the flattened head (61 tokens x 40) holds 79 % of them.

    Args:
        n_chans, n_outputs, n_times, sfreq: the standard signal arguments (see ``EEGModel``).
        emb: filters / token width. depth, heads: transformer size. kernel_size: temporal conv taps.
        pool_size, pool_stride: the average pooling. dropout: stem and transformer dropout.
        mixer: backbone mixer (``full`` = the paper's multi-head attention).

    Shapes: ``x`` (B, n_chans, n_times) -> logits (B, n_outputs); ``return_features=True`` also returns
    ``{"features": (B, tokens·emb), "tokens": (B, tokens, emb)}``.

    Departures from the official code (eeyhsong/EEG-Conformer): attention scales by ``1/sqrt(head_dim)``
    (official: ``1/sqrt(emb)``) and drops out its output rather than its weights; the data augmentation
    (segment recombination) of the official training script is not part of the model.
    """

    def __init__(self, n_chans: int, n_outputs: int, n_times: int, sfreq: float = 250.0, *, emb: int = 40,
                 depth: int = 6, heads: int = 10, kernel_size: int = 25, pool_size: int = 75,
                 pool_stride: int = 15, dropout: float = 0.5, mixer: str = "full"):
        super().__init__(n_chans, n_outputs, n_times, sfreq)
        _check_int("EEGConformer", "emb", emb, 1)
        n_tokens = (n_times - kernel_size + 1 - pool_size) // pool_stride + 1
        if n_times - kernel_size + 1 < pool_size:
            raise ValueError(f"EEGConformer: n_times={n_times} is too short for the temporal conv "
                             f"({kernel_size}) and pooling ({pool_size}); needs >= {kernel_size + pool_size - 1}")
        self.n_tokens = n_tokens
        self.stem = nn.Sequential(
            nn.Conv2d(1, emb, (1, kernel_size)),
            nn.Conv2d(emb, emb, (n_chans, 1)),
            nn.BatchNorm2d(emb),
            nn.ELU(),
            nn.AvgPool2d((1, pool_size), (1, pool_stride)),
            nn.Dropout(dropout),
            nn.Conv2d(emb, emb, 1),
        )
        self.transformer = MixerStack(emb, mixer, depth=depth, heads=heads, dropout=dropout, final_norm=False)
        self.classifier = nn.Sequential(
            nn.Linear(n_tokens * emb, 256), nn.ELU(), nn.Dropout(0.5),
            nn.Linear(256, 32), nn.ELU(), nn.Dropout(0.3),
            nn.Linear(32, n_outputs),
        )

    def forward(self, x: torch.Tensor, return_features: bool = False):
        self.check_input(x)
        tokens = rearrange(self.stem(x.unsqueeze(1)), "b e 1 t -> b t e")  # (B, tokens, emb)
        tokens = self.transformer(tokens)
        features = tokens.flatten(1)
        logits = self.classifier(features)
        return (logits, {"features": features, "tokens": tokens}) if return_features else logits
