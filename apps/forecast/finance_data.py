"""``FinanceDataModule``: windows of OHLCV-derived features of a target stock and its correlated tickers.

    from spanmix.apps.forecast.finance_data import FinanceDataModule

    dm = FinanceDataModule("snapshot:wiki", target="AAPL", k=2)        # shipped real data, offline
    dm = FinanceDataModule("yfinance", target="XOM", universe=["CVX", "COP", "SLB", "EOG"], k=2,
                           start="2015-01-01", end="2024-01-01")          # live, cached as parquet
    dm.setup(); print(dm.selected, dm.correlation)

Pipeline (each step on the tidy OHLCV frame of :mod:`spanmix.datasets.finance`):

1. **Common calendar and split dates**: only the days on which the target and every universe ticker traded
   are kept (so the single-stock ablation and the multi-stock model see the same days), then split
   chronologically by ``split`` (default 70/10/20).
2. **Correlation selection** (:mod:`spanmix.apps.forecast.finance_select`): the ``k`` universe tickers whose
   daily log returns correlate most with the target's over dates before the training split's end only.
   ``k = 0`` is the single-stock ablation. ``setup`` prints the matrix (``verbose``).
3. **Features** per ticker, from split- and dividend-adjusted prices (``adj_close / close`` rescales
   open/high/low): ``ret`` = log(C_t / C_t-1), ``range`` = log(H_t / L_t), ``oc`` = log(C_t / O_t),
   ``logvol`` = log(1 + volume), ``close`` = adjusted close. Channels ``<TICKER>_<feature>``, the selected
   tickers first, the target last, and the target's target channel (``ret`` for ``target_kind: return``,
   ``close`` for ``target_kind: close``) the very last input channel (the forecast app's convention).
4. **Scaling**: mean/std of each channel on the training rows only.

Windows are the forecast app's (``ForecastWindows``): ``x_enc`` (seq_len, C), ``y`` (pred_len, 1) = the
next ``pred_len`` (default 1: next day) values of the target channel, normalised; plus ``last_close``
() and ``close`` (pred_len,), the target's adjusted close at the last input day and over the horizon, in
price units, so the task can score prices (MAPE) and the random walk. ``x_mark_*`` hold daily calendar
features. ``target_mean`` / ``target_std`` (the target channel's training statistics) let the task map
predictions back to returns or prices; the CLI links them.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
import torch
from spanmix.apps.forecast.data import ForecastDataModule, ForecastWindows, StandardScaler
from spanmix.apps.forecast.finance_select import (
    correlation_matrix,
    format_correlation,
    log_returns,
    select_correlated,
)
from spanmix.apps.forecast.timefeatures import time_features
from spanmix.datasets.finance import SNAPSHOTS, FinanceDataError, check_tidy, download_prices, load_snapshot

__all__ = ["FEATURES", "FinanceDataModule", "FinanceWindows", "ticker_features"]

FEATURES = ("ret", "range", "oc", "logvol", "close")
TARGET_KINDS = ("return", "close")
FREQ = "d"


def ticker_features(rows: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    """One ticker's tidy rows -> a date-indexed frame of ``features`` (the first day, without a return, dropped)."""
    rows = rows.sort_values("date").set_index("date")
    factor = rows["adj_close"] / rows["close"]
    close = rows["adj_close"]
    out = pd.DataFrame(index=rows.index)
    for name in features:
        if name == "ret":
            out[name] = np.log(close).diff()
        elif name == "range":
            out[name] = np.log(rows["high"] / rows["low"])
        elif name == "oc":
            out[name] = np.log(close / (rows["open"] * factor))
        elif name == "logvol":
            out[name] = np.log1p(rows["volume"])
        elif name == "close":
            out[name] = close
    out["_close"] = close
    return out.iloc[1:]


class FinanceWindows(ForecastWindows):
    """``ForecastWindows`` plus the target's adjusted close: ``last_close`` () and ``close`` (pred_len,)."""

    def __init__(self, x, y, marks, close: torch.Tensor, seq_len: int, label_len: int, pred_len: int):
        super().__init__(x, y, marks, seq_len, label_len, pred_len)
        if len(close) != len(x):
            raise ValueError(f"close must have one value per row ({len(x)}), got {len(close)}")
        self.close = close

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        sample = super().__getitem__(index)
        end = index + self.seq_len
        sample["last_close"] = self.close[end - 1]
        sample["close"] = self.close[end : end + self.pred_len]
        return sample


class FinanceDataModule(ForecastDataModule):
    """Correlation-selected multi-stock features for next-day (next-k-day) prediction (module docstring).

    Args:
        source: ``snapshot:wiki``, ``snapshot:gafa`` (shipped, offline) or ``yfinance`` (download + cache).
        target: the ticker to predict.
        universe: candidate tickers for the correlation selection (a sector list, or any); default: every
            other ticker of the snapshot. Required for ``yfinance`` when ``k > 0``.
        k: correlated tickers to add (0: single-stock input).
        features: per-ticker features among ``ret, range, oc, logvol, close``.
        target_kind: ``return`` (next-day log return) or ``close`` (next-day adjusted close price).
        correlation: ``pearson`` or ``spearman``.
        start, end, interval, cache_dir, offline: the yfinance request (see ``download_prices``); ``start``
            and ``end`` also clip a snapshot.
        seq_len: trading days of history per window.
        pred_len: days ahead (1: next day).
        split: chronological train/val/test fractions of the target's trading days.
        batch_size, num_workers, drop_last_train: loaders (as ``ForecastDataModule``).
        verbose: print the correlation matrix and the selection in ``setup``.

    After ``setup()``: everything ``ForecastDataModule`` offers (``n_features``, ``columns``, ``scaler``,
    ``dates``, ``borders``, ``datasets``, loaders, ``inverse_transform``) and ``selected``, ``tickers``,
    ``correlation``, ``target_mean``, ``target_std``, ``split_dates``, ``prices``.
    """

    def __init__(self, source: str = "snapshot:wiki", target: str = "AAPL", universe: list[str] | None = None,
                 k: int = 2, features: list[str] | None = None,
                 target_kind: Literal["return", "close"] = "return",
                 correlation: Literal["pearson", "spearman"] = "pearson", start: str | None = None,
                 end: str | None = None, interval: str = "1d", cache_dir: str | None = None,
                 offline: bool = False, seq_len: int = 30, pred_len: int = 1,
                 split: tuple[float, float, float] = (0.7, 0.1, 0.2), batch_size: int = 64,
                 num_workers: int = 0, drop_last_train: bool = True, verbose: bool = True) -> None:
        super(ForecastDataModule, self).__init__()  # LightningDataModule.__init__; the checks are ours
        features = list(features) if features is not None else ["ret", "range", "oc", "logvol"]
        bad = [f for f in features if f not in FEATURES]
        if bad or not features:
            raise ValueError(f"features must be a non-empty list of {list(FEATURES)}, got {features!r}")
        if target_kind not in TARGET_KINDS:
            raise ValueError(f"target_kind must be one of {TARGET_KINDS}, got {target_kind!r}")
        if not (source == "yfinance" or (source.startswith("snapshot:") and source[9:] in SNAPSHOTS)):
            raise ValueError(f"source must be 'yfinance' or one of "
                             f"{[f'snapshot:{s}' for s in SNAPSHOTS]}, got {source!r}")
        if source == "yfinance" and (start is None or end is None):
            raise ValueError("source 'yfinance' needs start and end dates, e.g. start: 2015-01-01, end: 2024-01-01")
        if source == "yfinance" and k > 0 and not universe:
            raise ValueError("source 'yfinance' with k > 0 needs a universe of candidate tickers")
        for name, value, low in (("seq_len", seq_len, 2), ("pred_len", pred_len, 1), ("k", k, 0),
                                 ("batch_size", batch_size, 1), ("num_workers", num_workers, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        split = tuple(float(s) for s in split)
        if len(split) != 3 or min(split) <= 0 or abs(sum(split) - 1) > 1e-6:
            raise ValueError(f"split must be three positive fractions summing to 1 (train, val, test), got {split}")
        self.save_hyperparameters()
        self._source, self.target, self.universe, self.k = source, str(target).upper(), universe, k
        self.feature_names, self.target_kind, self.correlation_method = features, target_kind, correlation
        self.start, self.end, self.interval, self.cache_dir, self.offline = start, end, interval, cache_dir, offline
        self.seq_len, self.label_len, self.pred_len, self.split = seq_len, 0, pred_len, split
        self.batch_size, self.num_workers, self.drop_last_train = batch_size, num_workers, drop_last_train
        self.verbose = verbose
        self.timeenc, self.freq_arg, self.features = 1, FREQ, "MS"
        self._state = None

    # -- loading ------------------------------------------------------------------------------------
    @property
    def source(self) -> str:
        """``snapshot:<name>`` or ``yfinance``."""
        return self._source

    def prepare_data(self) -> None:
        """Nothing to fetch ahead: ``setup`` downloads (and caches) yfinance data on first use."""

    def load_prices(self) -> pd.DataFrame:
        """The tidy OHLCV frame of the target and the universe (snapshot or yfinance)."""
        names = [self.target] + [t.upper() for t in (self.universe or []) if t.upper() != self.target]
        if self.source == "yfinance":
            return download_prices(names, self.start, self.end, self.interval, cache_dir=self.cache_dir,
                                   offline=self.offline)
        name = self.source.split(":", 1)[1]
        frame = load_snapshot(name, names if self.universe else None)
        if self.target not in set(frame["ticker"]):
            raise FinanceDataError(f"snapshot {name} has no ticker {self.target!r}; its tickers are "
                                   f"{list(SNAPSHOTS[name].tickers)}")
        if self.start is not None:
            frame = frame[frame["date"] >= pd.Timestamp(self.start)]
        if self.end is not None:
            frame = frame[frame["date"] < pd.Timestamp(self.end)]
        return check_tidy(frame.reset_index(drop=True), f"snapshot {name} {self.start}..{self.end}")

    def _split_dates(self, dates: pd.DatetimeIndex) -> tuple[pd.Timestamp, pd.Timestamp]:
        n = len(dates)
        n_train, n_test = int(self.split[0] * n), int(self.split[2] * n)
        return dates[n_train], dates[n - n_test]

    def setup(self, stage: str | None = None) -> None:
        """Load, select the correlated tickers, build the features, split, scale and window (once)."""
        if self._state is not None:
            return
        prices = self.load_prices()
        counts = prices.groupby("date")["ticker"].nunique()
        common = counts.index[counts == prices["ticker"].nunique()]
        prices = prices[prices["date"].isin(common)].reset_index(drop=True)
        target_dates = pd.DatetimeIndex(common.sort_values()[1:])
        need = 3 * (self.seq_len + self.pred_len) / min(self.split)
        if len(target_dates) < need:
            span = f"{common.min():%Y-%m-%d}..{common.max():%Y-%m-%d}" if len(common) else "none"
            raise ValueError(f"{self.target} and its universe share {len(target_dates)} trading days ({span}); "
                             f"seq_len={self.seq_len}, pred_len={self.pred_len} and split={self.split} need at "
                             f"least {int(need)}. Use a longer range, a universe with longer histories, or "
                             "shorter windows")
        train_end, test_start = self._split_dates(target_dates)

        returns = log_returns(prices)
        corr = correlation_matrix(returns, until=train_end, method=self.correlation_method)
        universe = [t.upper() for t in self.universe] if self.universe else None
        selected = select_correlated(corr, self.target, self.k, universe)
        if self.verbose:
            print(format_correlation(corr, self.target, selected), flush=True)

        tickers = [*selected, self.target]
        features = list(self.feature_names)
        target_channel = "ret" if self.target_kind == "return" else "close"
        frames = []
        for ticker in tickers:
            names = features + ([target_channel] if ticker == self.target and target_channel not in features else [])
            block = ticker_features(prices[prices["ticker"] == ticker], names)
            close = block.pop("_close")
            block.columns = [f"{ticker}_{c}" for c in block.columns]
            if ticker == self.target:
                block["_close"] = close
            frames.append(block)
        wide = pd.concat(frames, axis=1, join="inner").dropna()
        target_col = f"{self.target}_{target_channel}"
        in_cols = [c for c in wide.columns if c not in (target_col, "_close")] + [target_col]

        dates = pd.DatetimeIndex(wide.index)
        n = len(dates)
        a = int(np.searchsorted(dates, train_end))
        b = int(np.searchsorted(dates, test_start))
        borders = {"train": (0, a), "val": (max(0, a - self.seq_len), b), "test": (max(0, b - self.seq_len), n)}
        for split, (lo, hi) in borders.items():
            if hi - lo < self.seq_len + self.pred_len:
                raise ValueError(f"{self.target} with {selected}: the {split} split has {hi - lo} aligned days, "
                                 f"fewer than seq_len + pred_len = {self.seq_len + self.pred_len}; use a longer "
                                 "range or shorter windows")
        raw = wide[in_cols].to_numpy(dtype=np.float64)
        scaler = StandardScaler.fit(raw[:a], tuple(in_cols))
        data = torch.from_numpy(scaler.transform(raw).astype(np.float32))
        ydata = data[:, -1:]
        marks = torch.from_numpy(time_features(dates, FREQ))
        close = torch.from_numpy(wide["_close"].to_numpy(dtype=np.float32))
        windows = {split: FinanceWindows(data[lo:hi], ydata[lo:hi], marks[lo:hi], close[lo:hi], self.seq_len, 0,
                                         self.pred_len) for split, (lo, hi) in borders.items()}
        self._state = {
            "dates": dates, "freq": FREQ, "step": pd.offsets.BDay(), "scaler": scaler, "data": data,
            "marks": marks, "in_cols": tuple(in_cols), "out_cols": (target_col,), "borders": borders,
            "datasets": windows, "rule": "dates", "selected": selected, "tickers": tickers, "correlation": corr,
            "split_dates": (train_end, test_start), "prices": prices, "close": close,
        }

    # -- finance metadata -----------------------------------------------------------------------------
    @property
    def selected(self) -> list[str]:
        """The correlated tickers chosen for the target, strongest first."""
        return self._get("selected")

    @property
    def tickers(self) -> list[str]:
        """The input tickers: the selected ones, then the target."""
        return self._get("tickers")

    @property
    def correlation(self) -> pd.DataFrame:
        """Return correlations of the target and the universe over the training window."""
        return self._get("correlation")

    @property
    def split_dates(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """``(train_end, test_start)``: the first date of the validation and of the test split."""
        return self._get("split_dates")

    @property
    def prices(self) -> pd.DataFrame:
        """The tidy OHLCV frame the features were built from."""
        return self._get("prices")

    @property
    def target_mean(self) -> float:
        """Training mean of the target channel (for mapping normalised predictions back)."""
        return float(self.scaler.mean[-1])

    @property
    def target_std(self) -> float:
        """Training std of the target channel."""
        return float(self.scaler.std[-1])

    def predict_sample(self) -> dict[str, torch.Tensor]:
        """The window predicting the ``pred_len`` days after the last row (no ``y``), with ``last_close``."""
        sample = super().predict_sample()
        sample["last_close"] = self._get("close")[-1]
        return sample
