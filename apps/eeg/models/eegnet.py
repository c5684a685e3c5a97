"""EEGNet: a compact CNN of temporal, depthwise spatial and separable convolutions.

Lawhern, Solon, Waytowich, Gordon, Hung & Lance, "EEGNet: a compact convolutional neural network for
EEG-based brain-computer interfaces", J. Neural Eng. 15 (2018) 056013, Sec. 2.2 and Table 2.
"""
from __future__ import annotations

import torch
from spanmix.apps.eeg.models import EEG_MODELS, EEGModel, _check_int
from torch import nn
from torch.nn.utils.parametrize import register_parametrization

__all__ = ["EEGNet", "MaxNorm"]


class MaxNorm(nn.Module):
    """Weight parametrisation: rescale each output unit's weights to an L2 norm of at most ``max_norm``
    (Keras' ``max_norm`` constraint, applied on every forward instead of after every step)."""

    def __init__(self, max_norm: float):
        super().__init__()
        self.max_norm = max_norm

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        norms = w.flatten(1).norm(dim=1).clamp(min=1e-8).view(-1, *([1] * (w.dim() - 1)))
        return w * (norms.clamp(max=self.max_norm) / norms)


@EEG_MODELS.register("eegnet")
class EEGNet(EEGModel):
    """EEGNet-F1,D (Lawhern et al. 2018, Sec. 2.2, Table 2); the defaults are EEGNet-8,2.

    Block 1: temporal conv ``(1, kernel_length)`` with F1 filters, BN, depthwise spatial conv over the
    ``n_chans`` electrodes with depth multiplier D (max-norm 1), BN, ELU, average pooling 4, dropout.
    Block 2: separable conv (depthwise ``(1, 16)`` then pointwise to F2 = F1·D), BN, ELU, average pooling
    8, dropout. Classifier: flatten and one dense layer (max-norm 0.25) to ``n_outputs`` logits.

    Args:
        n_chans, n_outputs, n_times, sfreq: standard signal arguments. F1, D, F2: filters (F2 default
        F1·D). kernel_length: temporal taps (64 = half a second at 128 Hz, the paper's rate).
        dropout: 0.5 within-subject, 0.25 cross-subject in the paper.

    Shapes: ``x`` (B, n_chans, n_times) -> logits (B, n_outputs); ``return_features=True`` also returns
    ``{"features": (B, F2·(n_times // 32))}``.
    """

    def __init__(self, n_chans: int, n_outputs: int, n_times: int, sfreq: float = 128.0, *, F1: int = 8,
                 D: int = 2, F2: int | None = None, kernel_length: int = 64, dropout: float = 0.5):
        super().__init__(n_chans, n_outputs, n_times, sfreq)
        _check_int("EEGNet", "F1", F1, 1)
        _check_int("EEGNet", "D", D, 1)
        F2 = F1 * D if F2 is None else _check_int("EEGNet", "F2", F2, 1)
        if n_times < 32:
            raise ValueError(f"EEGNet: n_times={n_times} must be >= 32 (two poolings of 4 and 8)")
        spatial = nn.Conv2d(F1, F1 * D, (n_chans, 1), groups=F1, bias=False)
        register_parametrization(spatial, "weight", MaxNorm(1.0))
        self.features = nn.Sequential(
            nn.Conv2d(1, F1, (1, kernel_length), padding="same", bias=False),
            nn.BatchNorm2d(F1),
            spatial,
            nn.BatchNorm2d(F1 * D),
            nn.ELU(),
            nn.AvgPool2d((1, 4)),
            nn.Dropout(dropout),
            nn.Conv2d(F1 * D, F1 * D, (1, 16), padding="same", groups=F1 * D, bias=False),
            nn.Conv2d(F1 * D, F2, 1, bias=False),
            nn.BatchNorm2d(F2),
            nn.ELU(),
            nn.AvgPool2d((1, 8)),
            nn.Dropout(dropout),
            nn.Flatten(),
        )
        self.classifier = nn.Linear(F2 * (n_times // 4 // 8), n_outputs)
        register_parametrization(self.classifier, "weight", MaxNorm(0.25))

    def forward(self, x: torch.Tensor, return_features: bool = False):
        self.check_input(x)
        features = self.features(x.unsqueeze(1))
        logits = self.classifier(features)
        return (logits, {"features": features}) if return_features else logits
