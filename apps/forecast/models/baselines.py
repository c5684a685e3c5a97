"""Baselines every forecaster has to beat: naive / seasonal naive, DLinear, and an LSTM.

- ``naive``: repeat the last observed value of each target series (``season=1``), or the last full
  season (``season=s``: step ``t`` of the horizon copies the input step ``L - s + (t mod s)``), e.g.
  ``season=24`` for hourly data with a daily cycle. No parameters: ``ForecastTask`` runs no optimiser
  step for it (``fit`` only evaluates), and ``validate`` / ``test`` / ``predict`` work as for any model.
- ``linear``: DLinear (Zeng et al., "Are Transformers Effective for Time Series Forecasting?", AAAI 2023,
  Sec. 4): split each series into a trend (moving average, kernel 25, the ends padded by repeating the
  first/last value) and a seasonal remainder, map each with a ``Linear(seq_len -> pred_len)`` shared by
  all channels (``individual=True``: one pair per channel), and add. Channel-independent, so for S/MS only
  the target series are decomposed and mapped.

Departures from the official DLinear code (cure-lab/LTSF-Linear): none in the maths; the kernel must be
odd (the official padding gives a wrong length for an even kernel, which it leaves unchecked).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from spanmix.apps.forecast.models import FORECAST_MODELS, ForecastModel
from spanmix.apps.forecast.models.embed import check_positive_int
from torch import nn

__all__ = ["DLinear", "LSTMForecast", "MovingAverage", "NaiveForecast", "series_decomposition"]


@FORECAST_MODELS.register("naive")
class NaiveForecast(ForecastModel):
    """Naive (``season=1``) or seasonal-naive forecast of the target series; no parameters.

    Args:
        n_features, n_targets, seq_len, label_len, pred_len, n_time_features: see ``ForecastModel``.
        season: period s (1 <= s <= seq_len); step t of the horizon repeats input step ``L - s + (t mod s)``.

    Shapes: ``x_enc`` (B, L, C_in) -> (B, H, C_out). ``x_mark_enc``, ``x_dec``, ``x_mark_dec`` are ignored.
    """

    def __init__(self, n_features: int, n_targets: int, seq_len: int, label_len: int = 0, pred_len: int = 1,
                 n_time_features: int = 0, *, season: int = 1):
        super().__init__(n_features, n_targets, seq_len, label_len, pred_len, n_time_features)
        check_positive_int("NaiveForecast", season=season)
        if season > seq_len:
            raise ValueError(f"NaiveForecast: season={season} must not exceed seq_len={seq_len}")
        self.season = season
        steps = seq_len - season + torch.arange(pred_len) % season
        self.register_buffer("steps", steps, persistent=False)  # (H,) input step copied to each horizon step

    def forward(self, x_enc, x_mark_enc=None, x_dec=None, x_mark_dec=None) -> torch.Tensor:
        self.check_inputs(x_enc, x_mark_enc, x_dec, x_mark_dec)
        return x_enc[:, self.steps, self.targets]  # (B, H, C_out)


class MovingAverage(nn.Module):
    """Centred moving average over time with edge replication (DLinear's trend, Zeng et al. 2023, Sec. 4).

    ``trend[t] = mean(x_pad[t : t + k])`` where ``x_pad`` repeats ``x[0]`` and ``x[L-1]`` ``(k-1)/2`` times
    at the two ends, so the output keeps length L.

    Shapes: ``x`` (B, L, C) -> (B, L, C). Cost: O(L·C·k).
    """

    def __init__(self, kernel_size: int = 25):
        super().__init__()
        check_positive_int("MovingAverage", kernel_size=kernel_size)
        if kernel_size % 2 == 0:
            raise ValueError(f"MovingAverage: kernel_size must be odd to keep the length, got {kernel_size}")
        self.kernel_size = kernel_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad = (self.kernel_size - 1) // 2
        front = x[:, :1].expand(-1, pad, -1)
        end = x[:, -1:].expand(-1, pad, -1)
        padded = torch.cat([front, x, end], dim=1).transpose(1, 2)  # (B, C, L + k - 1)
        return F.avg_pool1d(padded, self.kernel_size, stride=1).transpose(1, 2)


def series_decomposition(x: torch.Tensor, moving_average: MovingAverage) -> tuple[torch.Tensor, torch.Tensor]:
    """``(seasonal, trend)`` with ``trend = moving_average(x)`` and ``seasonal = x - trend``."""
    trend = moving_average(x)
    return x - trend, trend


@FORECAST_MODELS.register("linear")
class DLinear(ForecastModel):
    """DLinear (Zeng et al., AAAI 2023): ``Linear_s(seasonal) + Linear_t(trend)`` along time, per channel.

    Args:
        n_features, n_targets, seq_len, label_len, pred_len, n_time_features: see ``ForecastModel``.
        kernel_size: moving-average window of the decomposition (25, odd).
        individual: one pair of linear maps per target channel instead of one shared pair.

    Shapes: ``x_enc`` (B, L, C_in) -> (B, H, C_out); marks and ``x_dec`` are ignored.
    Parameters: ``2·(L·H + H)`` shared (×C_out with ``individual``).
    """

    def __init__(self, n_features: int, n_targets: int, seq_len: int, label_len: int = 0, pred_len: int = 1,
                 n_time_features: int = 0, *, kernel_size: int = 25, individual: bool = False):
        super().__init__(n_features, n_targets, seq_len, label_len, pred_len, n_time_features)
        self.decomposition = MovingAverage(kernel_size)
        self.individual = bool(individual)
        copies = n_targets if self.individual else 1
        self.seasonal = nn.ModuleList(nn.Linear(seq_len, pred_len) for _ in range(copies))
        self.trend = nn.ModuleList(nn.Linear(seq_len, pred_len) for _ in range(copies))

    def forward(self, x_enc, x_mark_enc=None, x_dec=None, x_mark_dec=None) -> torch.Tensor:
        self.check_inputs(x_enc, x_mark_enc, x_dec, x_mark_dec)
        seasonal, trend = series_decomposition(x_enc[..., self.targets], self.decomposition)
        seasonal, trend = seasonal.transpose(1, 2), trend.transpose(1, 2)  # (B, C_out, L)
        if self.individual:
            out = torch.stack([s(seasonal[:, c]) + t(trend[:, c])
                               for c, (s, t) in enumerate(zip(self.seasonal, self.trend))], dim=1)
        else:
            out = self.seasonal[0](seasonal) + self.trend[0](trend)  # (B, C_out, H)
        return out.transpose(1, 2)  # (B, H, C_out)


@FORECAST_MODELS.register("lstm")
class LSTMForecast(ForecastModel):
    """LSTM baseline (Hochreiter & Schmidhuber 1997): ``nn.LSTM`` over the window, last hidden state -> horizon.

    The RNN baseline of the finance system (Bui et al. 2025 compare TT2VFin with LSTM/RNN models of similar
    size): size ``hidden`` so its parameter count is close to the Transformer's (``count_parameters``).

    Args:
        n_features, n_targets, seq_len, label_len, pred_len, n_time_features: see ``ForecastModel``.
        hidden: LSTM state width.
        layers: stacked LSTM layers.
        dropout: between LSTM layers (when ``layers > 1``) and before the head.

    Shapes: ``x_enc`` (B, L, C_in) -> (B, H, C_out); marks and ``x_dec`` are ignored. Cost: O(L·hidden²).
    Parameters: ``4·hidden·(C_in + hidden + 2)`` for the first layer, ``4·hidden·(2·hidden + 2)`` per further
    layer, plus ``(hidden + 1)·H·C_out`` for the head.
    """

    def __init__(self, n_features: int, n_targets: int, seq_len: int, label_len: int = 0, pred_len: int = 1,
                 n_time_features: int = 0, *, hidden: int = 64, layers: int = 1, dropout: float = 0.1):
        super().__init__(n_features, n_targets, seq_len, label_len, pred_len, n_time_features)
        check_positive_int("LSTMForecast", hidden=hidden, layers=layers)
        self.lstm = nn.LSTM(n_features, hidden, num_layers=layers, batch_first=True,
                            dropout=dropout if layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, pred_len * n_targets)

    def forward(self, x_enc, x_mark_enc=None, x_dec=None, x_mark_dec=None) -> torch.Tensor:
        self.check_inputs(x_enc, x_mark_enc, x_dec, x_mark_dec)
        out, _ = self.lstm(x_enc)  # (B, L, hidden)
        return self.head(self.dropout(out[:, -1])).view(-1, self.pred_len, self.n_targets)
