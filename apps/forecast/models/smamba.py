"""S-Mamba (Wang et al., "Is Mamba Effective for Time Series Forecasting?", arXiv 2403.11144, 2024; its
method section and overview figure) and, with ``mixer: full``, iTransformer (Liu et al., "iTransformer:
Inverted Transformers Are Effective for Time Series Forecasting", ICLR 2024, Sec. 3).

Both invert the usual layout: a token is one whole **series** (a variate), not one time step::

    x_enc (B, L, N) --InstanceNorm--> (B, L, N)                      per series: (x - mean) / std
    tokens = Linear(L -> D)([x ; x_mark_enc]ᵀ)       (B, N + F, D)   the F time-feature columns become
                                                                     tokens too, as in the official code
    e_layers x [ x = LN(x + VC(x)) ; x = LN(x + FFN(x)) ]            VC: mixing across variate tokens
    LN -> Linear(D -> H) -> first N tokens -> (B, H, N) -> de-normalise -> target series (B, H, C_out)

S-Mamba's VC layer is a **bidirectional Mamba** (the backbone's ``mamba`` mixer with
``bidirectional=True``: a forward block plus an independent block on the reversed token order, summed),
so every variate sees every other whatever its position. The FFN (conv1d k=1) models the temporal
dependencies inside each token. iTransformer is the same network with full self-attention as the VC
layer (``mixer: full``); any backbone mixer name works.

Official code (wzhwzhwzh0921/S-D-Mamba, ``model/S_Mamba.py``, ``layers/Mamba_EncDec.py``): two
independent Mamba blocks per layer with ``d_conv=2, expand=1``; no dropout on the Mamba branch; final
LayerNorm. ``d_state``: 32 is the default of its ``run.py``; the per-dataset scripts override it (16 for
ECL 96->96 with d_model 512, d_ff 512, e_layers 3; 2 for ETTh1 with d_model 256, d_ff 256, lr 7e-5). Our
default is the run.py value, 32; d_model 512 and d_ff 512 are the ECL script's; e_layers 2, dropout 0.1,
activation gelu, lr 1e-4, batch 32, 10 epochs with the "type1" halving schedule are run.py's defaults.

Departures: the Mamba block is the backbone's reference-checked implementation (Mamba-1 maths and
initialisation, as ``mamba_ssm``); iTransformer's attention-probability dropout is replaced by dropout on
the attention output (the backbone ``full`` mixer's ``dropout``). Nothing else.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from spanmix.apps.forecast.models import FORECAST_MODELS, ForecastModel
from spanmix.apps.forecast.models.embed import InstanceNorm, check_positive_int
from spanmix.apps.forecast.models.informer import PostNormEncoderLayer, activation_function, mixer_kwargs
from spanmix.backbone.registry import build_mixer

__all__ = ["InvertedEmbedding", "SMamba"]


class InvertedEmbedding(nn.Module):
    """Variate tokens (iTransformer's ``DataEmbedding_inverted``): each length-L column -> ``Linear(L, D)``.

    ``x`` (B, L, N) and optional ``x_mark`` (B, L, F) -> tokens (B, N + F, D), then dropout.
    """

    def __init__(self, seq_len: int, d_model: int, dropout: float = 0.0):
        super().__init__()
        self.linear = nn.Linear(seq_len, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, x_mark: torch.Tensor | None = None) -> torch.Tensor:
        series = x if x_mark is None else torch.cat([x, x_mark.to(x.dtype)], dim=-1)  # (B, L, N + F)
        return self.dropout(self.linear(series.transpose(1, 2)))  # (B, N + F, D)


@FORECAST_MODELS.register("smamba")
class SMamba(ForecastModel):
    """S-Mamba / iTransformer: a post-LN encoder across variate tokens (see the module docstring).

    Args:
        n_features, n_targets, seq_len, label_len, pred_len, n_time_features: see ``ForecastModel``.
        mixer: the variate-correlation layer, a backbone mixer name: ``"mamba"`` (S-Mamba; built with
            ``bidirectional=True, d_conv=2, expand=1, d_state``) or ``"full"`` (iTransformer), ...
        d_model, d_state, d_ff, e_layers, dropout, n_heads, activation: sizes (``n_heads`` for
            attention mixers only, ``d_state`` for state-space mixers only).
        use_time_tokens: embed ``x_mark_enc``'s columns as extra tokens (official behaviour).
        use_norm: the per-series instance normalisation and its inverse (official ``--use_norm``, default
            on; False is the official normalisation ablation: the encoder sees the data module's values).
        mixer_options: extra options of the mixer, overriding the defaults above.

    Shapes: ``x_enc`` (B, L, C_in), ``x_mark_enc`` (B, L, F) -> (B, H, C_out); ``x_dec`` and
    ``x_mark_dec`` are ignored. Cost per layer: O((N + F)·D²) plus the mixer's cost in N + F tokens.
    """

    def __init__(self, n_features: int, n_targets: int, seq_len: int, label_len: int = 0, pred_len: int = 1,
                 n_time_features: int = 0, *, mixer: str = "mamba", d_model: int = 512, d_state: int = 32,
                 d_ff: int = 512, e_layers: int = 2, dropout: float = 0.1, n_heads: int = 8,
                 activation: str = "gelu", use_time_tokens: bool = True, use_norm: bool = True,
                 mixer_options: dict[str, Any] | None = None):
        super().__init__(n_features, n_targets, seq_len, label_len, pred_len, n_time_features)
        check_positive_int("SMamba", d_model=d_model, d_state=d_state, d_ff=d_ff, e_layers=e_layers,
                           n_heads=n_heads)
        activation_function(activation)
        self.mixer_name = mixer
        self.use_time_tokens = bool(use_time_tokens) and n_time_features > 0
        self.use_norm = bool(use_norm)
        self.norm = InstanceNorm()
        self.embedding = InvertedEmbedding(seq_len, d_model, dropout)
        defaults = {"heads": n_heads, "dropout": dropout, "d_state": d_state, "d_conv": 2, "expand": 1,
                    "bidirectional": True}
        options = mixer_kwargs(mixer, defaults, mixer_options)
        self.layers = nn.ModuleList(
            PostNormEncoderLayer(d_model, build_mixer(mixer, d_model, **options), d_ff, dropout, activation)
            for _ in range(e_layers))
        self.final_norm = nn.LayerNorm(d_model)
        self.projection = nn.Linear(d_model, pred_len)

    def forward(self, x_enc, x_mark_enc=None, x_dec=None, x_mark_dec=None) -> torch.Tensor:
        self.check_inputs(x_enc, x_mark_enc, None, None, need_marks=self.use_time_tokens)
        x, stats = self.norm.normalize(x_enc) if self.use_norm else (x_enc, None)  # (B, L, N)
        tokens = self.embedding(x, x_mark_enc if self.use_time_tokens else None)  # (B, N [+ F], D)
        for layer in self.layers:
            tokens = layer(tokens)
        out = self.projection(self.final_norm(tokens))  # (B, N [+ F], H)
        out = out[:, :self.n_features].transpose(1, 2)  # drop the time-feature tokens -> (B, H, N)
        if self.use_norm:
            out = self.norm.denormalize(out, stats)
        return out[..., self.targets]
