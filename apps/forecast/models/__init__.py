"""Forecasting models, built by name so a config can swap them (``model: smamba``).

Every model has the TSLib interface::

    model = build_forecast_model("informer", n_features=3, n_targets=1, seq_len=96, label_len=48,
                                 pred_len=24, n_time_features=4, d_model=64)
    y_hat = model(x_enc, x_mark_enc, x_dec, x_mark_dec)      # (B, pred_len, n_targets)

with ``x_enc`` (B, seq_len, n_features), ``x_mark_enc`` (B, seq_len, n_time_features), ``x_dec``
(B, label_len + pred_len, n_features) (the last ``label_len`` known steps, then the horizon, whose
values no model reads) and ``x_mark_dec`` (B, label_len + pred_len, n_time_features).

Targets: ``n_targets`` is the C_out of TSLib: ``n_features`` for M (all series forecast), 1 for S and
MS. The targets are the **last** ``n_targets`` input channels (TSLib's order: the target column is
moved last), so MS models forecast ``x_enc[..., -1]``.

- ``informer``: ProbSparse encoder-decoder with distilling (``mixer: full``: the vanilla Transformer);
  Zhou et al., AAAI 2021.
- ``gateformer``: patch-temporal + global variate embeddings fused by a gate, attention across variates;
  Lan & Oermann 2025.
- ``smamba``: bidirectional Mamba across variate tokens (``mixer: full``: iTransformer); Wang et al. 2024,
  Liu et al., ICLR 2024.
- ``linear``: DLinear, moving-average decomposition + two linear maps; Zeng et al., AAAI 2023.
- ``naive``: repeat the last value (or the last season).
- ``t2v_transformer``: multi-feature Time2Vec + Transformer encoder (TT2VFin); Bui et al. 2025.
- ``lstm``: an LSTM baseline (the finance system's RNN baseline).

The built-in model modules are imported on the first registry look-up (not at package import), so a
broken optional dependency of one model cannot take the package down.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from spanmix.backbone.registry import Registry

__all__ = [
    "FORECAST_MODELS",
    "ForecastModel",
    "build_forecast_model",
    "count_parameters",
    "list_forecast_models",
]


def _load_builtin_models() -> None:
    from spanmix.apps.forecast.models import baselines, gateformer, informer, smamba, t2v_transformer  # noqa: F401


FORECAST_MODELS = Registry("forecast model", loader=_load_builtin_models)


def build_forecast_model(name: str, **options: Any) -> nn.Module:
    """Build forecast model ``name``; unknown names or options raise a ValueError listing the known ones."""
    return FORECAST_MODELS.build(name, **options)


def list_forecast_models() -> list[str]:
    """Names of the registered forecast models, sorted."""
    return FORECAST_MODELS.names()


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _check_int(who: str, name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{who}: {name} must be an integer >= {minimum}, got {value!r}")
    return value


class ForecastModel(nn.Module):
    """Base of the forecast models: the standard arguments, their checks and the input checks.

    Args:
        n_features: input series C_in (targets and covariates).
        n_targets: forecast series C_out: ``n_features`` for M, 1 for S/MS; the last ``n_targets`` inputs.
        seq_len: look-back window L.
        label_len: known steps at the start of the decoder input (only encoder-decoder models use them).
        pred_len: horizon H.
        n_time_features: columns of ``x_mark_enc`` / ``x_mark_dec`` (0: none).
    """

    name = "?"

    def __init__(self, n_features: int, n_targets: int, seq_len: int, label_len: int, pred_len: int,
                 n_time_features: int):
        super().__init__()
        who = type(self).__name__
        _check_int(who, "n_features", n_features, 1)
        _check_int(who, "n_targets", n_targets, 1)
        if n_targets > n_features:
            raise ValueError(f"{who}: n_targets={n_targets} exceeds n_features={n_features} (targets are the "
                             f"last n_targets input series)")
        _check_int(who, "seq_len", seq_len, 1)
        _check_int(who, "label_len", label_len, 0)
        _check_int(who, "pred_len", pred_len, 1)
        _check_int(who, "n_time_features", n_time_features, 0)
        self.n_features, self.n_targets = n_features, n_targets
        self.seq_len, self.label_len, self.pred_len = seq_len, label_len, pred_len
        self.n_time_features = n_time_features

    @property
    def targets(self) -> slice:
        """The target channels among the inputs: the last ``n_targets``."""
        return slice(self.n_features - self.n_targets, self.n_features)

    def check_inputs(self, x_enc: torch.Tensor, x_mark_enc: torch.Tensor | None = None,
                     x_dec: torch.Tensor | None = None, x_mark_dec: torch.Tensor | None = None, *,
                     need_marks: bool = False, need_dec: bool = False) -> None:
        """One clear ValueError naming the tensor and its expected shape."""
        who = type(self).__name__

        def check(label: str, t: torch.Tensor | None, length: int, channels: int, required: bool) -> None:
            expected = f"(batch, {length}, {channels})"
            if t is None:
                if required:
                    raise ValueError(f"{who}: {label} is required, expected shape {expected}")
                return
            if not isinstance(t, torch.Tensor) or t.dim() != 3 or tuple(t.shape[1:]) != (length, channels):
                shape = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
                raise ValueError(f"{who}: expected {label} of shape {expected}, got {shape}")
            if t.shape[0] != x_enc.shape[0]:
                raise ValueError(f"{who}: {label} has batch {t.shape[0]}, x_enc has {x_enc.shape[0]}")

        if not isinstance(x_enc, torch.Tensor) or x_enc.dim() != 3 \
                or tuple(x_enc.shape[1:]) != (self.seq_len, self.n_features):
            shape = tuple(x_enc.shape) if isinstance(x_enc, torch.Tensor) else type(x_enc).__name__
            raise ValueError(f"{who}: expected x_enc of shape (batch, {self.seq_len}, {self.n_features}), "
                             f"got {shape}")
        if not torch.is_floating_point(x_enc):
            raise ValueError(f"{who}: x_enc must be a floating-point tensor, got {x_enc.dtype}")
        if not bool(torch.isfinite(x_enc).all()):
            raise ValueError(f"{who}: x_enc contains NaN or infinite values; fill or drop gaps before "
                             "forecasting")
        dec_len = self.label_len + self.pred_len
        marks = need_marks and self.n_time_features > 0
        check("x_mark_enc", x_mark_enc, self.seq_len, self.n_time_features, marks)
        check("x_dec", x_dec, dec_len, self.n_features, need_dec)
        check("x_mark_dec", x_mark_dec, dec_len, self.n_time_features, marks and need_dec)

    def extra_repr(self) -> str:
        return (f"n_features={self.n_features}, n_targets={self.n_targets}, seq_len={self.seq_len}, "
                f"label_len={self.label_len}, pred_len={self.pred_len}, "
                f"n_time_features={self.n_time_features}")
