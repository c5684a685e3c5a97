"""TT2VFin: a Transformer encoder with multi-feature Time2Vec for financial prediction (Bui, Chien, Kovács,
Bognár, "Transformer Encoder and Multi-features Time2Vec for Financial Prediction", EUSIPCO 2025,
arXiv 2504.13801; its method section and architecture figure). Time2Vec: Kazemi et al. 2019.

    x_enc (B, L, C)                                  C = the features of the target and its correlated tickers
    t2v = Time2Vec(C, k)(x_enc)        (B, L, C·(k+1))   per feature f: w0_f·x_f + φ0_f, sin(w_fi·x_f + φ_fi)
    z = Linear([x_enc ; t2v])          (B, L, D)         raw features concatenated with their Time2Vec terms
    z = MixerStack(D, mixer, depth)    (B, L, D)         pre-norm encoder blocks (``mixer: full`` = Transformer)
    pool over time (mean | last) -> dropout -> Linear(D -> H·C_out) -> (B, H, C_out)

"Multi-feature" Time2Vec replaces the positional encoding: every input feature's series gets its own
linear and periodic terms (``spanmix.backbone.positional.Time2Vec`` with ``in_features = C``; no
parameter is shared across features), as in the paper, where the Time2Vec layer is applied to each of
the selected correlated stocks' features. ``encoding`` selects the ablations of the paper's comparison:
``"sinusoidal"`` projects the raw features and adds the fixed sinusoidal positional encoding of
Vaswani et al. instead; ``"none"`` uses no position/time information at all.

Departures / choices where the paper is silent: the Time2Vec "time" is the (standardised) feature value
itself, as in the public Keras Time2Vec stock tutorials the paper builds on (``t2v_input: "index"``
feeds the normalised step index ``l / L`` to every feature instead, Kazemi's original time input); the
encoder blocks are the backbone's pre-norm blocks rather than Keras' post-norm layers; pooling is a global
average over time (``pool: last`` takes the last step).
"""
from __future__ import annotations

from typing import Any, Literal

import torch
from spanmix.apps.forecast.models import FORECAST_MODELS, ForecastModel
from spanmix.apps.forecast.models.embed import check_positive_int
from spanmix.backbone.positional import SinusoidalPositionalEncoding, Time2Vec
from spanmix.backbone.registry import mixer_options as accepted_options
from spanmix.backbone.stack import MixerStack, parse_schedule
from torch import nn

__all__ = ["ENCODINGS", "Time2VecTransformer"]

ENCODINGS = ("time2vec", "sinusoidal", "none")


@FORECAST_MODELS.register("t2v_transformer")
class Time2VecTransformer(ForecastModel):
    """TT2VFin (Bui et al. 2025): multi-feature Time2Vec + a Transformer encoder, pooled to the next-k-day target.

    Args:
        n_features, n_targets, seq_len, label_len, pred_len, n_time_features: see ``ForecastModel``.
        d_model: encoder width D.
        depth: encoder blocks.
        heads: attention heads (attention mixers only).
        mixer: the blocks' mixer schedule (``"full"`` = Transformer encoder; any ``MixerStack`` schedule).
        encoding: ``"time2vec"`` (the paper), ``"sinusoidal"`` (positional-encoding ablation) or ``"none"``.
        t2v_k: periodic Time2Vec terms per feature (each feature gets ``k + 1`` terms).
        t2v_input: what Time2Vec reads as time: ``"values"`` (each feature's value) or ``"index"`` (l / L).
        mlp_ratio, dropout: block FFN width ratio and dropout (also before the head).
        pool: ``"mean"`` over time or the ``"last"`` step.
        mixer_options: per-mixer options passed to ``MixerStack`` (e.g. ``{"local": {"window": 8}}``).

    Shapes: ``x_enc`` (B, L, C_in) -> (B, H, C_out); the marks and ``x_dec`` are ignored.
    Cost: O(L·C·k) for Time2Vec plus the stack's (O(L²·D) for full attention).
    """

    def __init__(self, n_features: int, n_targets: int, seq_len: int, label_len: int = 0, pred_len: int = 1,
                 n_time_features: int = 0, *, d_model: int = 32, depth: int = 2, heads: int = 4,
                 mixer: str = "full", encoding: Literal["time2vec", "sinusoidal", "none"] = "time2vec",
                 t2v_k: int = 4, t2v_input: Literal["values", "index"] = "values", mlp_ratio: float = 2.0,
                 dropout: float = 0.1, pool: Literal["mean", "last"] = "mean",
                 mixer_options: dict[str, dict[str, Any]] | None = None):
        super().__init__(n_features, n_targets, seq_len, label_len, pred_len, n_time_features)
        check_positive_int("Time2VecTransformer", d_model=d_model, depth=depth, heads=heads)
        if encoding not in ENCODINGS:
            raise ValueError(f"Time2VecTransformer: encoding must be one of {ENCODINGS}, got {encoding!r}")
        if t2v_input not in ("values", "index"):
            raise ValueError(f"Time2VecTransformer: t2v_input must be 'values' or 'index', got {t2v_input!r}")
        if pool not in ("mean", "last"):
            raise ValueError(f"Time2VecTransformer: pool must be 'mean' or 'last', got {pool!r}")
        if isinstance(t2v_k, bool) or not isinstance(t2v_k, int) or t2v_k < 0:
            raise ValueError(f"Time2VecTransformer: t2v_k must be an integer >= 0, got {t2v_k!r}")
        self.encoding, self.t2v_input, self.pool = encoding, t2v_input, pool
        self.time2vec = Time2Vec(n_features, t2v_k) if encoding == "time2vec" else None
        width = n_features + (self.time2vec.out_features if self.time2vec is not None else 0)
        self.embed = nn.Linear(width, d_model)
        self.positional = SinusoidalPositionalEncoding(d_model) if encoding == "sinusoidal" else None
        accepted = set().union(*(accepted_options(n) for n in parse_schedule(mixer, depth)))
        options = {"heads": heads} if "heads" in accepted else {}  # MixerStack passes dropout on itself
        self.encoder = MixerStack(d_model, mixer, depth, mlp_ratio=mlp_ratio, dropout=dropout,
                                  mixer_options=mixer_options, **options)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(d_model, pred_len * n_targets)

    def features(self, x_enc: torch.Tensor) -> torch.Tensor:
        """The encoder input before projection: ``[x ; Time2Vec(x)]`` (B, L, C·(k+2)), or ``x``."""
        if self.time2vec is None:
            return x_enc
        if self.t2v_input == "index":
            steps = torch.arange(x_enc.shape[1], device=x_enc.device, dtype=x_enc.dtype) / x_enc.shape[1]
            tau = steps[None, :, None].expand_as(x_enc)
        else:
            tau = x_enc
        return torch.cat([x_enc, self.time2vec(tau)], dim=-1)

    def forward(self, x_enc, x_mark_enc=None, x_dec=None, x_mark_dec=None) -> torch.Tensor:
        self.check_inputs(x_enc, x_mark_enc, x_dec, x_mark_dec)
        z = self.embed(self.features(x_enc))  # (B, L, D)
        if self.positional is not None:
            z = self.positional(z)
        z = self.encoder(z)  # (B, L, D)
        pooled = z.mean(dim=1) if self.pool == "mean" else z[:, -1]  # (B, D)
        out = self.head(self.dropout(pooled))  # (B, H·C_out)
        return out.view(-1, self.pred_len, self.n_targets)
