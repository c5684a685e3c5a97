"""Embeddings shared by the forecasting models, and the per-instance normalisation of the inverted ones.

- ``TokenEmbedding``: Informer's value embedding, a ``Conv1d(C, D, k=3)`` with circular padding over
  time (Zhou et al., "Informer", AAAI 2021, Appendix B / Fig. 6, "scalar projection").
- ``PositionalEmbedding``: the fixed sinusoidal table of Vaswani et al. (2017), as an additive
  ``(1, L, D)`` term (Informer's "local time stamp").
- ``TimeFeatureEmbedding`` ("timeF"): ``Linear(F, D, bias=False)`` (TSLib; Informer2020 has a bias) over the
  real-valued time features
  the data module makes (hour-of-day, day-of-week, ... scaled to [-0.5, 0.5]).
- ``CalendarEmbedding`` ("fixed" / "learned"): Informer's "global time stamp": the sum of one embedding
  per calendar field (month, day, weekday, hour, [minute // 15]); "fixed" uses frozen sinusoidal rows,
  "learned" trained ``nn.Embedding`` rows.
- ``DataEmbedding``: token + position + temporal, then dropout (Informer's input representation, Fig. 6).
- ``InstanceNorm``: the RevIN-free per-instance normalisation of Non-stationary Transformer /
  iTransformer / S-Mamba / Gateformer: subtract each series' mean over time, divide by its standard
  deviation, and undo both on the forecast. It has no parameters (RevIN's affine terms are absent).
"""
from __future__ import annotations

import torch
from torch import nn

from spanmix.backbone.positional import sinusoidal_encoding

__all__ = [
    "CALENDAR_FIELDS",
    "TEMPORAL_EMBEDDINGS",
    "CalendarEmbedding",
    "DataEmbedding",
    "InstanceNorm",
    "PositionalEmbedding",
    "TimeFeatureEmbedding",
    "TokenEmbedding",
    "check_positive_int",
    "make_temporal_embedding",
]

TEMPORAL_EMBEDDINGS = ("timeF", "fixed", "learned", "none")
# Calendar fields of the "fixed"/"learned" embeddings, in Informer's column order, with their table sizes.
CALENDAR_FIELDS = (("month", 13), ("day", 32), ("weekday", 7), ("hour", 24), ("minute", 4))


def check_positive_int(who: str, **values) -> None:
    """One clear ValueError for a size option that is not an integer >= 1."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{who}: {name} must be an integer >= 1, got {value!r}")


def _check_series(who: str, x: torch.Tensor, channels: int | None = None, length: int | None = None) -> None:
    length_ = "length" if length is None else length
    expected = f"(batch, {length_}, {'channels' if channels is None else channels})"
    if not isinstance(x, torch.Tensor) or x.dim() != 3:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{who}: expected a tensor of shape {expected}, got {shape}")
    if (channels is not None and x.shape[-1] != channels) or (length is not None and x.shape[1] != length):
        raise ValueError(f"{who}: expected a tensor of shape {expected}, got {tuple(x.shape)}")


# ------------------------------------------------------------------------------------------- value / position
class TokenEmbedding(nn.Module):
    """Informer's value embedding: ``Conv1d(c_in, d_model, kernel_size=3)``, circular padding in time.

    Initialised as the official code does (Kaiming-normal, fan-in, leaky-ReLU gain). The circular padding
    lets the first step see the last one and vice versa (the official choice; a wrap-around at the window
    edges).

    Shapes: ``x`` (B, L, C) -> (B, L, D). Cost: O(L·C·D).
    """

    def __init__(self, c_in: int, d_model: int, bias: bool = True):
        super().__init__()
        check_positive_int("TokenEmbedding", c_in=c_in, d_model=d_model)
        self.c_in = c_in
        self.conv = nn.Conv1d(c_in, d_model, kernel_size=3, padding=1, padding_mode="circular", bias=bias)
        nn.init.kaiming_normal_(self.conv.weight, mode="fan_in", nonlinearity="leaky_relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_series("TokenEmbedding", x, channels=self.c_in)
        return self.conv(x.transpose(1, 2)).transpose(1, 2)  # (B, C, L) -> (B, D, L) -> (B, L, D)


class PositionalEmbedding(nn.Module):
    """Fixed sinusoidal positions (Vaswani et al. 2017): ``PE[l, 2i] = sin(l / 10000^(2i/D))``,
    ``PE[l, 2i+1] = cos(l / 10000^(2i/D))`` — the official Informer table, built with the backbone's
    ``sinusoidal_encoding``. The table is a non-persistent buffer (not saved in checkpoints).

    Shapes: ``x`` (B, L, ·) -> (1, L, D), to be added to the tokens.
    """

    def __init__(self, d_model: int, max_len: int = 5000):
        super().__init__()
        check_positive_int("PositionalEmbedding", d_model=d_model, max_len=max_len)
        self.d_model = d_model
        table = sinusoidal_encoding(torch.arange(max_len, dtype=torch.float64), d_model).float()
        self.register_buffer("pe", table.unsqueeze(0), persistent=False)  # (1, max_len, D)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[1]
        if length > self.pe.shape[1]:
            raise ValueError(f"PositionalEmbedding: length {length} exceeds max_len={self.pe.shape[1]}")
        return self.pe[:, :length]


# --------------------------------------------------------------------------------------------------- time
class TimeFeatureEmbedding(nn.Module):
    """"timeF": ``Linear(n_time_features, d_model, bias=bias)`` over real-valued time features (TSLib: no
    bias; Informer2020: a bias).

    Shapes: ``x_mark`` (B, L, F) -> (B, L, D).
    """

    def __init__(self, n_time_features: int, d_model: int, bias: bool = False):
        super().__init__()
        check_positive_int("TimeFeatureEmbedding", n_time_features=n_time_features, d_model=d_model)
        self.n_time_features = n_time_features
        self.linear = nn.Linear(n_time_features, d_model, bias=bias)

    def forward(self, x_mark: torch.Tensor) -> torch.Tensor:
        _check_series("TimeFeatureEmbedding (x_mark)", x_mark, channels=self.n_time_features)
        return self.linear(x_mark)


def _sinusoid_rows(rows: int, d_model: int) -> torch.Tensor:
    return sinusoidal_encoding(torch.arange(rows, dtype=torch.float64), d_model).float()


class CalendarEmbedding(nn.Module):
    """Informer's "global time stamp": a sum of per-field embeddings of integer calendar fields.

    ``x_mark`` holds integer columns in Informer's order ``[month (1-12), day (1-31), weekday (0-6),
    hour (0-23)]`` and, with ``minute=True``, ``minute // 15`` (0-3) in column 4 (the official "ETTm"
    case). ``kind="fixed"``: each table is a frozen sinusoidal ``(size, D)`` table (no parameters);
    ``kind="learned"``: trained ``nn.Embedding`` tables.

    Shapes: ``x_mark`` (B, L, >= 4 or 5) integer-valued -> (B, L, D). Values outside a field's range
    raise a ValueError (they would index out of the table).
    """

    def __init__(self, d_model: int, kind: str = "fixed", minute: bool = False):
        super().__init__()
        check_positive_int("CalendarEmbedding", d_model=d_model)
        if kind not in ("fixed", "learned"):
            raise ValueError(f"CalendarEmbedding: kind must be 'fixed' or 'learned', got {kind!r}")
        self.kind, self.minute = kind, bool(minute)
        self.fields = CALENDAR_FIELDS if minute else CALENDAR_FIELDS[:4]
        tables = {}
        for name, size in self.fields:
            table = nn.Embedding(size, d_model)
            if kind == "fixed":
                table.weight = nn.Parameter(_sinusoid_rows(size, d_model), requires_grad=False)
            tables[name] = table
        self.tables = nn.ModuleDict(tables)

    def forward(self, x_mark: torch.Tensor) -> torch.Tensor:
        _check_series("CalendarEmbedding (x_mark)", x_mark)
        if x_mark.shape[-1] < len(self.fields):
            raise ValueError(f"CalendarEmbedding: x_mark needs {len(self.fields)} integer columns "
                             f"{[name for name, _ in self.fields]}, got {x_mark.shape[-1]}")
        idx = x_mark.long()
        if x_mark.is_floating_point() and not torch.equal(idx.to(x_mark.dtype), x_mark):
            raise ValueError("CalendarEmbedding: x_mark must hold integer calendar fields (month, day, "
                             "weekday, hour[, minute//15]); got real values — use the temporal embedding "
                             "'timeF' for those")
        out = 0
        for col, (name, size) in enumerate(self.fields):
            values = idx[..., col]
            if values.numel() and (values.min() < 0 or values.max() >= size):
                raise ValueError(f"CalendarEmbedding: field {name!r} (column {col}) must lie in "
                                 f"[0, {size - 1}], got values in [{int(values.min())}, {int(values.max())}]")
            emb = self.tables[name](values)
            out = out + (emb.detach() if self.kind == "fixed" else emb)
        return out


def make_temporal_embedding(kind: str, d_model: int, n_time_features: int,
                            bias: bool = False) -> nn.Module | None:
    """``"timeF"`` -> ``TimeFeatureEmbedding`` (``bias``: its linear bias); ``"fixed"``/``"learned"`` ->
    ``CalendarEmbedding`` (with the minute field when ``n_time_features >= 5``); ``"none"`` -> None."""
    if kind == "timeF":
        return TimeFeatureEmbedding(n_time_features, d_model, bias=bias)
    if kind in ("fixed", "learned"):
        return CalendarEmbedding(d_model, kind=kind, minute=n_time_features >= 5)
    if kind == "none":
        return None
    raise ValueError(f"unknown temporal embedding {kind!r}; expected one of {TEMPORAL_EMBEDDINGS}")


class DataEmbedding(nn.Module):
    """Informer's input representation (Sec. 3 / Appendix B, Fig. 6): ``dropout(TokenEmbedding(x) +
    PositionalEmbedding + TemporalEmbedding(x_mark))``.

    Args:
        c_in: input channels C.
        d_model: width D.
        n_time_features: columns F of ``x_mark``.
        temporal: ``"timeF"`` (linear on real time features), ``"fixed"``/``"learned"`` (calendar
            embeddings of integer fields), or ``"none"``.
        dropout: dropout on the sum.
        value_bias, temporal_bias: biases of the token conv and of the "timeF" linear (Informer2020: both;
            TSLib: neither; default: the conv's only).

    Shapes: ``x`` (B, L, C), ``x_mark`` (B, L, F) -> (B, L, D).
    """

    def __init__(self, c_in: int, d_model: int, n_time_features: int, temporal: str = "timeF",
                 dropout: float = 0.0, value_bias: bool = True, temporal_bias: bool = False):
        super().__init__()
        self.value = TokenEmbedding(c_in, d_model, bias=value_bias)
        self.position = PositionalEmbedding(d_model)
        self.temporal = make_temporal_embedding(temporal, d_model, n_time_features, bias=temporal_bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, x_mark: torch.Tensor | None) -> torch.Tensor:
        out = self.value(x) + self.position(x)
        if self.temporal is not None:
            if x_mark is None or x_mark.shape[:2] != x.shape[:2]:
                got = None if x_mark is None else tuple(x_mark.shape)
                raise ValueError(f"DataEmbedding: x_mark must have shape (batch, length, features) with "
                                 f"(batch, length) = {tuple(x.shape[:2])}, got {got}")
            out = out + self.temporal(x_mark)
        return self.dropout(out)


# ------------------------------------------------------------------------------------------ normalisation
class InstanceNorm(nn.Module):
    """Per-instance normalisation over time (Non-stationary Transformer, Liu et al. NeurIPS 2022, Sec. 3.1;
    used as is by iTransformer, S-Mamba and Gateformer): no parameters, no running statistics.

    ``normalize(x)``: ``mean = x.mean(time)`` (detached, as the official code), ``std = sqrt(var(time,
    biased) + eps)``, returns ``((x - mean) / std, (mean, std))``. ``denormalize(y, stats)``: ``y * std +
    mean``; ``channels`` picks the series whose statistics apply (e.g. the last ``n_targets`` for MS).

    Because the forecast is de-normalised with the input's own statistics, a model built on it is
    scale/shift-equivariant: ``f(a·x + b) = a·f(x) + b`` for ``a > 0`` (up to the ``eps`` in the std).

    Shapes: ``x`` (B, L, C) -> (B, L, C); stats ``(B, 1, C)`` each; ``y`` (B, H, C') -> (B, H, C').
    """

    def __init__(self, eps: float = 1e-5):
        super().__init__()
        self.eps = eps

    def normalize(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        _check_series("InstanceNorm", x)
        mean = x.mean(dim=1, keepdim=True).detach()
        centred = x - mean
        std = torch.sqrt(torch.var(centred, dim=1, keepdim=True, unbiased=False) + self.eps)
        return centred / std, (mean, std)

    def denormalize(self, y: torch.Tensor, stats: tuple[torch.Tensor, torch.Tensor],
                    channels: slice | None = None) -> torch.Tensor:
        mean, std = stats
        if channels is not None:
            mean, std = mean[..., channels], std[..., channels]
        return y * std + mean

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        return self.normalize(x)

