"""EEGNet: a compact CNN of temporal, depthwise spatial and separable convolutions.

Lawhern, Solon, Waytowich, Gordon, Hung & Lance, "EEGNet: a compact convolutional neural network for
EEG-based brain-computer interfaces", J. Neural Eng. 15 (2018) 056013, Sec. 2.2 and Table 2.
"""
from __future__ import annotations

import math

import torch
from spanmix.apps.eeg.models import EEG_MODELS, EEGModel, _check_int
from torch import nn

__all__ = ["EEGNet", "glorot_uniform_", "max_norm_"]


@torch.no_grad()
def max_norm_(weight: torch.Tensor, max_norm: float) -> torch.Tensor:
    """Keras' ``max_norm`` constraint in place: each output unit's weights (dim 0) rescaled to an L2 norm
    of at most ``max_norm``. Applied after each optimiser step, so the stored weight itself is bounded
    and a gradient can move it back inside the ball."""
    return weight.copy_(torch.renorm(weight, p=2, dim=0, maxnorm=max_norm))


@torch.no_grad()
def glorot_uniform_(weight: torch.Tensor, groups: int = 1) -> torch.Tensor:
    """Keras' ``glorot_uniform`` for a torch conv/linear ``weight`` (out, in / groups, *kernel).

    ``U(-l, l)``, ``l = sqrt(6 / (fan_in + fan_out))``. Keras counts a depthwise kernel's fans over all
    input channels and the depth multiplier (``fan_in = k·C_in``, ``fan_out = k·D``), where
    ``nn.init.xavier_uniform_`` would use ``k·C_in / groups`` and ``k·C_out``; so the fans are counted here."""
    receptive = math.prod(weight.shape[2:]) if weight.dim() > 2 else 1
    fan_in = receptive * weight.shape[1] * groups
    fan_out = receptive * weight.shape[0] // groups
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return weight.uniform_(-limit, limit)


def _bn(n: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(n, momentum=0.01, eps=1e-3)  # Keras' momentum 0.99 and epsilon 1e-3


@EEG_MODELS.register("eegnet")
class EEGNet(EEGModel):
    """EEGNet-F1,D (Lawhern et al. 2018, Sec. 2.2, Table 2); the defaults are EEGNet-8,2.

    Block 1: temporal conv ``(1, kernel_length)`` with F1 filters, BN, depthwise spatial conv over the
    ``n_chans`` electrodes with depth multiplier D (max-norm 1), BN, ELU, average pooling 4, dropout.
    Block 2: separable conv (depthwise ``(1, 16)`` then pointwise to F2 = F1·D), BN, ELU, average pooling
    8, dropout. Classifier: flatten and one dense layer (max-norm 0.25) to ``n_outputs`` logits.

    As the official Keras code: BatchNorm momentum 0.01 (Keras 0.99) and eps 1e-3, Glorot-uniform weights
    and zero biases, and the max-norm constraints applied to the stored weights after every optimiser
    step (:meth:`apply_constraints`, called by the EEG task), not inside the forward pass.

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
        self.features = nn.Sequential(
            nn.Conv2d(1, F1, (1, kernel_length), padding="same", bias=False),
            _bn(F1),
            spatial,
            _bn(F1 * D),
            nn.ELU(),
            nn.AvgPool2d((1, 4)),
            nn.Dropout(dropout),
            nn.Conv2d(F1 * D, F1 * D, (1, 16), padding="same", groups=F1 * D, bias=False),
            nn.Conv2d(F1 * D, F2, 1, bias=False),
            _bn(F2),
            nn.ELU(),
            nn.AvgPool2d((1, 8)),
            nn.Dropout(dropout),
            nn.Flatten(),
        )
        self.classifier = nn.Linear(F2 * (n_times // 4 // 8), n_outputs)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                glorot_uniform_(m.weight, getattr(m, "groups", 1))
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        self.apply_constraints()

    def apply_constraints(self) -> None:
        """The paper's max-norm constraints: 1 on the depthwise spatial filters, 0.25 on the classifier."""
        max_norm_(self.features[2].weight, 1.0)
        max_norm_(self.classifier.weight, 0.25)

    def forward(self, x: torch.Tensor, return_features: bool = False):
        self.check_input(x)
        features = self.features(x.unsqueeze(1))
        logits = self.classifier(features)
        return (logits, {"features": features}) if return_features else logits
