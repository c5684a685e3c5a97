"""EEG decoders, built by name so a config can swap them (``model: dbconformer``).

Every model takes braindecode's standard signal arguments and maps a batch of epochs to logits::

    model = build_eeg_model("dbconformer", n_chans=22, n_outputs=4, n_times=1000, sfreq=250.0)
    logits = model(x)                 # x (B, n_chans, n_times) -> (B, n_outputs)

- ``dbconformer``: temporal + spatial Conformer branches, channel attention; Wang et al., IEEE JBHI 2025.
- ``eeg_conformer``: convolution stem then a transformer over time patches; Song et al., IEEE TNSRE 2023.
- ``eegnet``: compact depthwise-separable CNN (EEGNet-8,2); Lawhern et al., J. Neural Eng. 2018.

The built-in model modules are imported on the first registry look-up (not at package import).
"""
from __future__ import annotations

import numbers
from typing import Any

import torch
from spanmix.backbone.registry import Registry
from torch import nn

__all__ = ["EEG_MODELS", "EEGModel", "build_eeg_model", "count_parameters", "list_eeg_models"]


def _load_builtin_models() -> None:
    from spanmix.apps.eeg.models import dbconformer, eeg_conformer, eegnet  # noqa: F401


EEG_MODELS = Registry("eeg model", loader=_load_builtin_models)


def build_eeg_model(name: str, **options: Any) -> nn.Module:
    """Build EEG model ``name``; unknown names or options raise a ValueError listing the known ones."""
    return EEG_MODELS.build(name, **options)


def list_eeg_models() -> list[str]:
    """Names of the registered EEG models, sorted."""
    return EEG_MODELS.names()


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _check_int(who: str, name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{who}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


class EEGModel(nn.Module):
    """Base of the EEG models: braindecode's standard signal arguments, their checks and the input check.

    Args:
        n_chans: EEG channels C.
        n_outputs: classes (logits per epoch).
        n_times: samples per epoch T.
        sfreq: sampling rate in Hz (recorded; the kernel sizes of the paper configs assume it).
    """

    def __init__(self, n_chans: int, n_outputs: int, n_times: int, sfreq: float):
        super().__init__()
        who = type(self).__name__
        self.n_chans = _check_int(who, "n_chans", n_chans, 1)
        self.n_outputs = _check_int(who, "n_outputs", n_outputs, 2)
        self.n_times = _check_int(who, "n_times", n_times, 1)
        if isinstance(sfreq, bool) or not isinstance(sfreq, numbers.Real) or not sfreq > 0:
            raise ValueError(f"{who}: sfreq must be a positive number (Hz), got {sfreq!r}")
        self.sfreq = float(sfreq)

    def apply_constraints(self) -> None:
        """Weight constraints applied after each optimiser step (Keras style); none by default."""

    def check_input(self, x: torch.Tensor) -> None:
        """One clear ValueError naming the expected ``(batch, n_chans, n_times)`` float input."""
        who = type(self).__name__
        if not isinstance(x, torch.Tensor) or x.dim() != 3 or tuple(x.shape[1:]) != (self.n_chans, self.n_times):
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"{who}: expected EEG epochs of shape (batch, n_chans={self.n_chans}, "
                             f"n_times={self.n_times}), got {shape}")
        if not torch.is_floating_point(x):
            raise ValueError(f"{who}: EEG epochs must be a floating-point tensor, got {x.dtype}")
        if not bool(torch.isfinite(x).all()):
            raise ValueError(f"{who}: EEG epochs contain NaN or infinite values; interpolate or drop them")

    def extra_repr(self) -> str:
        return f"n_chans={self.n_chans}, n_outputs={self.n_outputs}, n_times={self.n_times}, sfreq={self.sfreq:g}"
