"""LightningDataModule for long-horizon forecasting (the Informer / Autoformer / TSLib protocol).

    from spanmix.apps.forecast.data import ForecastDataModule

    dm = ForecastDataModule()                                   # shipped real sample "vic_elec", offline
    dm = ForecastDataModule("ETTh1", download=True)             # standard benchmark, TSLib borders
    dm = ForecastDataModule(csv="my.csv", target="load", features="MS", seq_len=168, pred_len=24)
    dm.setup()
    batch = next(iter(dm.train_dataloader()))                   # dict of tensors, shapes below

Every sample (and batch, with a leading ``B``) is a dict of float32 tensors:

==============  =================================  ==========================================================
key             shape                              content
==============  =================================  ==========================================================
``x_enc``       ``(seq_len, n_features)``          encoder input: the ``seq_len`` rows before the forecast
``x_mark_enc``  ``(seq_len, n_time_features)``     calendar features of those rows
``x_dec``       ``(label_len + pred_len,           decoder input (Informer's "start token"): the last
                n_features)``                      ``label_len`` encoder rows, then ``pred_len`` rows of zeros
``x_mark_dec``  ``(label_len + pred_len,           calendar features of the decoder rows (future dates are
                n_time_features)``                 known, so they are filled in)
``y``           ``(label_len + pred_len,           the true values of the target channels over the decoder
                n_targets)``                       rows; the loss and metrics use ``y[:, -pred_len:]``
==============  =================================  ==========================================================

All values are on the normalised scale (mean/std of the training split, as TSLib; metrics are computed
there too). ``dm.inverse_transform(pred)`` maps ``n_targets`` outputs back to data units. Predict
samples (``predict_dataloader``) have no ``y``: they forecast past the last row.

Channels (``features``, TSLib's flag): ``M`` -- all numeric columns in and out (``n_targets =
n_features``); ``S`` -- the target only, in and out; ``MS`` -- all columns in, the target out (the
target is the last input channel). Columns keep the file order with the target moved last, as TSLib.

Protocol (``protocol``): ``None`` (default) derives the calendar features from the sampling frequency
guessed from the dates (ETTm 5 features, Exchange 3, ILI 2); ``"tslib"`` reproduces the official
repositories' inputs, where no benchmark script passes ``--freq`` and every dataset therefore gets the 4
hourly features (HourOfDay, DayOfWeek, DayOfMonth, DayOfYear) -- which changes the number of tokens of
iTransformer / S-Mamba (time features become tokens) and the width of Informer's time embedding. An
explicit ``freq`` still wins over either. Everything else of TSLib's protocol (borders, train-only scaler,
every evaluation window) holds in both.

Splits: the standard ETT sets use TSLib's fixed 12/4/4-month borders, everything else (the other
benchmarks, the shipped samples, your CSV) a chronological 70/10/20 split; val and test windows start
``seq_len`` rows before their border (:func:`spanmix.datasets.timeseries.split_borders`). A split of
``n`` rows holds ``n - seq_len - pred_len + 1`` windows, every one of which the val and test loaders
yield (``shuffle=False, drop_last=False``). The train loader shuffles and, by default, drops its last
incomplete batch (``drop_last_train=True``, as TSLib; never when the split is smaller than one batch):
this keeps every optimiser step at the configured batch size and costs at most ``batch_size - 1``
training windows per epoch, each seen in other epochs.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import lightning as L
import numpy as np
import pandas as pd
import torch
from spanmix.apps.forecast.timefeatures import freq_code, infer_freq, infer_step, time_features, time_marks
from spanmix.datasets.timeseries import (
    SAMPLES,
    download_dataset,
    get_spec,
    load_dataset,
    load_sample,
    min_rows,
    parse_dates,
    resolve_cache_dir,
    split_borders,
)
from torch.utils.data import DataLoader, Dataset

__all__ = ["ForecastDataModule", "ForecastWindows", "StandardScaler", "read_series_csv"]

DATE_NAMES = ("date", "time", "timestamp", "ds", "datetime")
FEATURE_MODES = ("M", "S", "MS")
PROTOCOLS = (None, "tslib")


# ---------------------------------------------------------------------------------------------------
# Scaler
# ---------------------------------------------------------------------------------------------------


@dataclass
class StandardScaler:
    """Per-column ``(x - mean) / std`` with statistics of the training split (sklearn's StandardScaler:
    population std, and ``std = 1`` for a constant column).

    Attributes:
        mean: ``(C,)`` float64.
        std: ``(C,)`` float64, never zero.
        columns: the ``C`` column names, in channel order.
    """

    mean: np.ndarray
    std: np.ndarray
    columns: tuple[str, ...]

    @classmethod
    def fit(cls, values: np.ndarray, columns: tuple[str, ...]) -> StandardScaler:
        values = np.asarray(values, dtype=np.float64)
        std = values.std(axis=0)
        return cls(values.mean(axis=0), np.where(std > 0, std, 1.0), tuple(columns))

    @classmethod
    def identity(cls, columns: tuple[str, ...]) -> StandardScaler:
        n = len(columns)
        return cls(np.zeros(n), np.ones(n), tuple(columns))

    def _stats(self, x, columns):
        idx = slice(None) if columns is None else [self.columns.index(c) for c in columns]
        mean, std = self.mean[idx], self.std[idx]
        n = len(mean)
        if x.shape[-1] != n:
            raise ValueError(
                f"expected the last dimension to be {n} channels "
                f"({list(self.columns) if columns is None else list(columns)}), got shape "
                f"{tuple(x.shape)}"
            )
        if isinstance(x, torch.Tensor):
            return (
                torch.as_tensor(mean, dtype=x.dtype, device=x.device),
                torch.as_tensor(std, dtype=x.dtype, device=x.device),
            )
        return mean, std

    def transform(self, x, columns: list[str] | tuple[str, ...] | None = None):
        """Normalise ``x`` (array or tensor, channels last); ``columns`` selects a subset of channels."""
        mean, std = self._stats(x, columns)
        return (x - mean) / std

    def inverse_transform(self, x, columns: list[str] | tuple[str, ...] | None = None):
        """Back to data units: ``x * std + mean`` (numpy array or tensor, channels last, any leading dims)."""
        mean, std = self._stats(x, columns)
        return x * std + mean


# ---------------------------------------------------------------------------------------------------
# Windows
# ---------------------------------------------------------------------------------------------------


class ForecastWindows(Dataset):
    """Sliding windows over one split: window ``i`` encodes rows ``[i, i + seq_len)`` and forecasts
    ``[i + seq_len, i + seq_len + pred_len)``.

    Args:
        x: ``(N, n_features)`` normalised input channels of the split.
        y: ``(N, n_targets)`` normalised target channels of the same rows.
        marks: ``(N, n_time_features)`` calendar features of the same rows.
        seq_len, label_len, pred_len: window lengths (``label_len <= seq_len``).
    """

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        marks: torch.Tensor,
        seq_len: int,
        label_len: int,
        pred_len: int,
    ):
        if not (len(x) == len(y) == len(marks)):
            raise ValueError(
                f"x, y and marks must have the same length, got {len(x)}, {len(y)}, {len(marks)}"
            )
        self.x, self.y, self.marks = x, y, marks
        self.seq_len, self.label_len, self.pred_len = seq_len, label_len, pred_len

    def __len__(self) -> int:
        return max(0, len(self.x) - self.seq_len - self.pred_len + 1)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(f"window {index} out of range for {len(self)} windows")
        s_end = index + self.seq_len
        r_begin, r_end = s_end - self.label_len, s_end + self.pred_len
        x_dec = torch.cat([self.x[r_begin:s_end], self.x.new_zeros(self.pred_len, self.x.shape[1])])
        return {
            "x_enc": self.x[index:s_end],  # (seq_len, C_in)
            "x_mark_enc": self.marks[index:s_end],  # (seq_len, F)
            "x_dec": x_dec,  # (label_len + pred_len, C_in), zeros after label_len
            "x_mark_dec": self.marks[r_begin:r_end],  # (label_len + pred_len, F)
            "y": self.y[r_begin:r_end],  # (label_len + pred_len, C_out)
        }


class _PredictWindow(Dataset):
    """The single window that forecasts the ``pred_len`` steps after the last row (no ``y``)."""

    def __init__(self, sample: dict[str, torch.Tensor]):
        self.sample = sample

    def __len__(self) -> int:
        return 1

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if index != 0:
            raise IndexError(index)
        return self.sample


# ---------------------------------------------------------------------------------------------------
# Your own CSV
# ---------------------------------------------------------------------------------------------------


def read_series_csv(path: str | Path, date_column: str | None = None) -> pd.DataFrame:
    """Read a user's CSV into ``date`` + numeric columns.

    The date column is ``date_column`` if given, else the first column when it parses as dates, else
    the first column named date/time/timestamp/ds/datetime (case-insensitive). Every other numeric (or
    true/false) column becomes a feature; other non-numeric columns are dropped with a warning. Rows are
    sorted by date if they are not already.

    Returns:
        DataFrame: ``date`` (datetime64) then float64 columns in file order.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not UTF-8, empty, no date column, unparsable or duplicate dates, no numeric
            column, or missing values -- each naming the file and what was expected.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"CSV file not found: {path}")
    try:
        frame = pd.read_csv(path, encoding="utf-8", low_memory=False)
    except UnicodeDecodeError as err:
        raise ValueError(
            f"{path} is not UTF-8 text ({err.reason} at byte {err.start}); expected a UTF-8 "
            "encoded CSV file -- re-save it as 'CSV UTF-8'"
        ) from None
    except pd.errors.EmptyDataError:
        raise ValueError(
            f"{path} is empty; expected a CSV file with a header row and a date column"
        ) from None
    except pd.errors.ParserError as err:
        raise ValueError(f"{path} is not a well-formed CSV file: {err}") from None
    if frame.empty:
        raise ValueError(f"{path} has a header but no data rows")
    frame.columns = [str(c).strip() for c in frame.columns]
    where = f"CSV {path}"

    if date_column is not None:
        if date_column not in frame.columns:
            raise ValueError(
                f"{where}: date_column {date_column!r} is not a column; columns: {list(frame.columns)}"
            )
        column = date_column
    else:
        column = None
        first = frame.columns[0]
        if not pd.api.types.is_numeric_dtype(frame[first]) and not pd.api.types.is_bool_dtype(frame[first]):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if pd.to_datetime(frame[first], errors="coerce", format="mixed").notna().all():
                    column = first
        if column is None:
            named = [c for c in frame.columns if c.lower() in DATE_NAMES]
            if not named:
                raise ValueError(
                    f"{where}: no date column found. Expected the first column to hold dates (e.g. "
                    f"'2016-07-01 00:00:00') or a column named one of {list(DATE_NAMES)}; pass "
                    f"date_column=... to choose one. Columns: {list(frame.columns)}"
                )
            column = named[0]
    dates = parse_dates(frame[column], where, column)

    values = frame.drop(columns=[column])
    numeric, dropped = [], []
    for name in values.columns:
        series = values[name]
        if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
            numeric.append(name)
        else:
            dropped.append(name)
    if dropped:
        warnings.warn(
            f"{where}: dropping non-numeric column(s) {dropped} (only numbers can be features; "
            "a column with a stray text cell counts as non-numeric)",
            UserWarning,
            stacklevel=2,
        )
    if not numeric:
        raise ValueError(
            f"{where}: no numeric column besides the date column {column!r}; expected at least "
            f"one column of numbers. Columns: {list(frame.columns)}"
        )
    out = values[numeric].astype("float64")
    bad = {c: int(n) for c, n in (~np.isfinite(out)).sum().items() if n}
    if bad:
        first_row = int((~np.isfinite(out.to_numpy())).any(axis=1).argmax()) + 1
        raise ValueError(
            f"{where}: missing or infinite values (count per column: {bad}; first at data row "
            f"{first_row}); expected complete numeric columns -- fill or drop those rows first"
        )
    out.insert(0, "date", dates.to_numpy())
    if out["date"].duplicated().any():
        dup = out.loc[out["date"].duplicated(), "date"].iloc[0]
        raise ValueError(f"{where}: the date {dup} appears more than once; expected one row per time step")
    if not out["date"].is_monotonic_increasing:
        out = out.sort_values("date", kind="stable").reset_index(drop=True)
    return out


# ---------------------------------------------------------------------------------------------------
# DataModule
# ---------------------------------------------------------------------------------------------------


class ForecastDataModule(L.LightningDataModule):
    """Windows of a multivariate series for Informer-style forecasters (see the module docstring).

    Args:
        dataset: a shipped sample (``vic_elec``, ``epf_fr_be``) or a standard benchmark (``ETTh1``,
            ``ETTh2``, ``ETTm1``, ``ETTm2``, ``ECL``, ``Weather``, ``Traffic``, ``Exchange``, ``ILI``).
            Ignored when ``csv`` is given.
        csv: path of your own CSV (a date column + numeric columns); takes precedence over ``dataset``.
        date_column: the date column of ``csv`` (default: detected).
        target: the column to forecast (``S``/``MS``) and the one put last (``M``).
        features: ``M`` (all in, all out), ``S`` (target in, target out), ``MS`` (all in, target out).
        seq_len: encoder length (rows of history).
        label_len: rows of known history at the start of the decoder input (``<= seq_len``).
        pred_len: forecast horizon (rows).
        batch_size: windows per batch (all loaders).
        num_workers: DataLoader worker processes.
        scale: normalise with the training split's mean/std (False: raw values, identity scaler).
        timeenc: 1 = scaled calendar features (TSLib ``timeF``); 0 = Informer's integer marks.
        freq: frequency whose calendar features to use (TSLib code ``h``/``t``/``d``/... or pandas alias
            ``15min``/``1h``/...); when None: ``h`` under ``protocol="tslib"``, else inferred from the dates.
            ``future_dates`` always steps at the spacing inferred from the dates.
        protocol: None or ``"tslib"`` (the official scripts' time features; see the module docstring).
        cache_dir: folder of the standard benchmarks' files (default ``$SPANMIX_CACHE/forecast`` or
            ``~/.cache/spanmix/forecast``).
        download: fetch a missing standard benchmark (checksum-verified); never otherwise.
        drop_last_train: drop the train loader's last incomplete batch (see module docstring).

    After ``setup()`` (or on first access to these attributes): ``n_features``, ``n_targets``,
    ``n_time_features``, ``columns`` (input channels), ``target_columns``, ``scaler``, ``freq`` (code),
    ``dates``, ``borders``, ``datasets``.
    """

    def __init__(
        self,
        dataset: str = "vic_elec",
        csv: str | None = None,
        date_column: str | None = None,
        target: str = "OT",
        features: Literal["M", "S", "MS"] = "M",
        seq_len: int = 96,
        label_len: int = 48,
        pred_len: int = 96,
        batch_size: int = 32,
        num_workers: int = 0,
        scale: bool = True,
        timeenc: int = 1,
        freq: str | None = None,
        cache_dir: str | None = None,
        download: bool = False,
        drop_last_train: bool = True,
        protocol: Literal["tslib"] | None = None,
    ) -> None:
        super().__init__()
        if features not in FEATURE_MODES:
            raise ValueError(
                f"features must be one of {FEATURE_MODES} (M: all->all, S: target->target, "
                f"MS: all->target), got {features!r}"
            )
        for name, value, low in (
            ("seq_len", seq_len, 1),
            ("label_len", label_len, 0),
            ("pred_len", pred_len, 1),
            ("batch_size", batch_size, 1),
            ("num_workers", num_workers, 0),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if label_len > seq_len:
            raise ValueError(
                f"label_len ({label_len}) must not exceed seq_len ({seq_len}): the decoder's start "
                "token is the end of the encoder window"
            )
        if timeenc not in (0, 1):
            raise ValueError(
                f"timeenc must be 0 (Informer's integer marks) or 1 (scaled time features), got {timeenc!r}"
            )
        if freq is not None:
            freq_code(freq)  # validates
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be None or 'tslib' (the official scripts' hourly time features), "
                             f"got {protocol!r}")
        if csv is None and dataset not in SAMPLES:
            get_spec(dataset)  # validates the name early, with the list of choices
        self.save_hyperparameters()
        self.dataset, self.csv, self.date_column, self.target = dataset, csv, date_column, target
        self.features, self.seq_len, self.label_len, self.pred_len = features, seq_len, label_len, pred_len
        self.batch_size, self.num_workers, self.scale, self.timeenc = batch_size, num_workers, scale, timeenc
        self.freq_arg, self.cache_dir, self.protocol = freq, cache_dir, protocol
        self.download, self.drop_last_train = download, drop_last_train
        self._state: dict | None = None

    # -- loading ------------------------------------------------------------------------------------

    @property
    def source(self) -> str:
        """Where the data comes from: the CSV path, ``sample:<name>`` or ``standard:<name>``."""
        if self.csv is not None:
            return str(self.csv)
        return (
            f"sample:{self.dataset}" if self.dataset in SAMPLES else f"standard:{get_spec(self.dataset).name}"
        )

    def prepare_data(self) -> None:
        """Download a missing standard benchmark if ``download=True`` (Lightning runs this on one process)."""
        if self.csv is None and self.dataset not in SAMPLES and self.download:
            spec = get_spec(self.dataset)
            if not (resolve_cache_dir(self.cache_dir) / spec.file).is_file():
                download_dataset(spec.name, self.cache_dir)

    def _load_frame(self) -> tuple[pd.DataFrame, str]:
        if self.csv is not None:
            return read_series_csv(self.csv, self.date_column), "ratio"
        if self.dataset in SAMPLES:
            return load_sample(self.dataset), "ratio"
        spec = get_spec(self.dataset)
        return load_dataset(spec.name, self.cache_dir, self.download), spec.border

    def setup(self, stage: str | None = None) -> None:
        """Load the series, split it, fit the scaler on the training split and build the windows (once)."""
        if self._state is not None:
            return
        frame, rule = self._load_frame()
        name = self.source
        numeric = [c for c in frame.columns if c != "date"]
        if self.target not in numeric:
            raise ValueError(
                f"{name}: target column {self.target!r} not found; available numeric columns: "
                f"{numeric}. Pass target=<one of them>."
            )
        ordered = [c for c in numeric if c != self.target] + [self.target]
        in_cols = [self.target] if self.features == "S" else ordered
        out_cols = ordered if self.features == "M" else [self.target]

        n = len(frame)
        need = self.seq_len + self.pred_len
        if n < need:
            raise ValueError(
                f"{name}: {n} rows, fewer than seq_len + pred_len = {self.seq_len} + {self.pred_len} "
                f"= {need} needed for one window"
            )
        fewest = min_rows(rule, self.seq_len, self.pred_len)
        if n < fewest:
            split = "12/4/4-month ETT" if rule.startswith("ett") else "70/10/20 train/val/test"
            raise ValueError(
                f"{name}: {n} rows; seq_len={self.seq_len} and pred_len={self.pred_len} need at "
                f"least {fewest} rows so that each split of the {split} protocol holds one full "
                "window. Use a longer series or shorter seq_len/pred_len."
            )
        borders = split_borders(rule, n, self.seq_len)

        dates = pd.DatetimeIndex(frame["date"])
        if self.freq_arg is not None:
            freq = freq_code(self.freq_arg)
        else:
            freq = "h" if self.protocol == "tslib" else infer_freq(dates)
        step = infer_step(dates)  # from the data (anchored, e.g. W-TUE), whatever freq the features use

        raw = frame[in_cols].to_numpy(dtype=np.float64)
        train_a, train_b = borders["train"]
        scaler = (
            StandardScaler.fit(raw[train_a:train_b], tuple(in_cols))
            if self.scale
            else StandardScaler.identity(tuple(in_cols))
        )
        data = torch.from_numpy(scaler.transform(raw).astype(np.float32))
        out_idx = [in_cols.index(c) for c in out_cols]
        ydata = data[:, out_idx]
        marks = torch.from_numpy(self._marks(dates, freq))

        windows = {
            split: ForecastWindows(
                data[a:b], ydata[a:b], marks[a:b], self.seq_len, self.label_len, self.pred_len
            )
            for split, (a, b) in borders.items()
        }
        self._state = {
            "dates": dates, "freq": freq, "step": step, "scaler": scaler, "data": data,
            "marks": marks, "in_cols": tuple(in_cols), "out_cols": tuple(out_cols), "borders": borders,
            "datasets": windows, "rule": rule,
        }  # fmt: skip

    def _marks(self, dates: pd.DatetimeIndex, freq: str) -> np.ndarray:
        return time_features(dates, freq) if self.timeenc == 1 else time_marks(dates, freq)

    def _get(self, key: str):
        if self._state is None:
            self.setup()
        return self._state[key]

    # -- metadata (available after setup; accessing them runs setup) ----------------------------------

    @property
    def n_features(self) -> int:
        """Encoder/decoder input channels (``enc_in``/``dec_in``)."""
        return len(self._get("in_cols"))

    @property
    def n_targets(self) -> int:
        """Output channels (``c_out``)."""
        return len(self._get("out_cols"))

    @property
    def n_time_features(self) -> int:
        """Calendar-feature channels of ``x_mark_enc``/``x_mark_dec``."""
        return int(self._get("marks").shape[1])

    @property
    def columns(self) -> tuple[str, ...]:
        """Input channel names, in channel order (the target last for ``M``/``MS``)."""
        return self._get("in_cols")

    @property
    def target_columns(self) -> tuple[str, ...]:
        """Output channel names, in channel order."""
        return self._get("out_cols")

    @property
    def scaler(self) -> StandardScaler:
        """Mean/std of the input channels over the training split (identity if ``scale=False``)."""
        return self._get("scaler")

    @property
    def freq(self) -> str:
        """TSLib frequency code used for the calendar features."""
        return self._get("freq")

    @property
    def dates(self) -> pd.DatetimeIndex:
        """Time stamps of every row of the series."""
        return self._get("dates")

    @property
    def borders(self) -> dict[str, tuple[int, int]]:
        """Row ranges ``[start, end)`` of train/val/test (val/test start ``seq_len`` before their border)."""
        return self._get("borders")

    @property
    def datasets(self) -> dict[str, ForecastWindows]:
        """The window datasets of ``train``, ``val`` and ``test``."""
        return self._get("datasets")

    def inverse_transform(self, y):
        """Map model outputs ``(..., n_targets)`` (tensor or array, normalised) back to data units."""
        return self.scaler.inverse_transform(y, self.target_columns)

    def window_dates(self, split: str, index: int) -> pd.DatetimeIndex:
        """The ``pred_len`` dates that window ``index`` of ``split`` forecasts."""
        a, _ = self.borders[split]
        if not 0 <= index < len(self.datasets[split]):
            raise IndexError(f"window {index} out of range for {len(self.datasets[split])} {split} windows")
        start = a + index + self.seq_len
        return self.dates[start : start + self.pred_len]

    # -- loaders ------------------------------------------------------------------------------------

    def _loader(self, dataset: Dataset, shuffle: bool, drop_last: bool) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle,
            drop_last=drop_last,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        """Shuffled training windows; drops the last incomplete batch if ``drop_last_train`` (and the split
        holds at least one full batch)."""
        data = self.datasets["train"]
        return self._loader(
            data, shuffle=True, drop_last=self.drop_last_train and len(data) >= self.batch_size
        )

    def val_dataloader(self) -> DataLoader:
        """Every validation window, in time order."""
        return self._loader(self.datasets["val"], shuffle=False, drop_last=False)

    def test_dataloader(self) -> DataLoader:
        """Every test window, in time order (never drops any: published numbers depend on it)."""
        return self._loader(self.datasets["test"], shuffle=False, drop_last=False)

    def future_dates(self, n: int | None = None) -> pd.DatetimeIndex:
        """The ``n`` (default ``pred_len``) time stamps after the last row, at the series' sampling step."""
        n = self.pred_len if n is None else n
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        last, step = self.dates[-1], self._get("step")
        if isinstance(step, pd.Timedelta):
            return pd.DatetimeIndex([last + step * k for k in range(1, n + 1)])
        return pd.date_range(start=last, periods=n + 1, freq=step)[1:]

    def predict_sample(self) -> dict[str, torch.Tensor]:
        """The window that forecasts the ``pred_len`` steps after the last row: ``x_enc``/``x_mark_enc``
        from the last ``seq_len`` rows, ``x_dec`` from the last ``label_len`` rows then zeros, and
        ``x_mark_dec`` with the calendar features of :meth:`future_dates`. No ``y``."""
        data, marks = self._get("data"), self._get("marks")
        n = len(data)
        future = torch.from_numpy(self._marks(self.future_dates(self.pred_len), self.freq))
        return {
            "x_enc": data[n - self.seq_len :],
            "x_mark_enc": marks[n - self.seq_len :],
            "x_dec": torch.cat([data[n - self.label_len :], data.new_zeros(self.pred_len, data.shape[1])]),
            "x_mark_dec": torch.cat([marks[n - self.label_len :], future]),
        }

    def predict_dataloader(self) -> DataLoader:
        """One batch of one window: the forecast beyond the last row (dates: :meth:`future_dates`)."""
        return DataLoader(_PredictWindow(self.predict_sample()), batch_size=1, shuffle=False)
