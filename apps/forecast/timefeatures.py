"""Calendar covariates ("time marks") for long-horizon forecasters, as Informer / TSLib build them.

Two encodings, chosen by ``timeenc`` in the data module:

``timeenc=1`` -- :func:`time_features`: continuous features, each scaled to ``[-0.5, 0.5]``, fed to a
linear ``TimeFeatureEmbedding`` (TSLib's ``embed='timeF'``). The set depends on the sampling frequency
(the finest calendar unit that varies is included, plus every coarser one):

======================  ===========================================================================
``freq`` code           features, in this order (value -> formula)
======================  ===========================================================================
``s`` (secondly)        SecondOfMinute ``s/59``, MinuteOfHour ``m/59``, + the ``h`` set
``t`` (minutely; ETTm,  MinuteOfHour ``m/59``, + the ``h`` set
Weather)
``h`` (hourly)          HourOfDay ``h/23``, DayOfWeek ``dow/6`` (Mon=0), DayOfMonth ``(d-1)/30``,
                        DayOfYear ``(doy-1)/365``
``d``, ``b`` (daily)    DayOfWeek, DayOfMonth, DayOfYear (no hour)
``w`` (weekly)          DayOfMonth, WeekOfYear ``(isoweek-1)/52``
``m`` (monthly), ``q``,  MonthOfYear ``(month-1)/11``
``y``
======================  ===========================================================================

(each ``x/N`` above is shifted by ``-0.5``). The counts -- s 6, t 5, h 4, d/b 3, w 2, m/q/y 1 -- are
those of TSLib's ``freq_map`` in ``TimeFeatureEmbedding``; TSLib itself returns no feature for yearly
data, here yearly and quarterly data get MonthOfYear so the count is never zero.

``timeenc=0`` -- :func:`time_marks`: Informer's integer marks for its ``TemporalEmbedding`` (lookup
tables): columns ``month`` (1-12), ``day`` (1-31), ``weekday`` (0-6, Mon=0), ``hour`` (0-23) for every
frequency (the embedding always reads column 3), plus ``minute // 15`` (0-3) for sub-hourly data
(``t``, ``s``), which selects Informer's ``minute_embed``.

Frequency codes are TSLib's (``s, t, h, d, b, w, m, q, y``); pandas aliases such as ``"15min"``,
``"10min"``, ``"1h"``, ``"D"``, ``"W"``, ``"MS"`` are accepted too (:func:`freq_code`), and
:func:`infer_freq` derives the code from the dates.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

__all__ = [
    "FREQ_CODES",
    "freq_code",
    "infer_freq",
    "infer_step",
    "n_time_features",
    "time_features",
    "time_marks",
]

FREQ_CODES = ("s", "t", "h", "d", "b", "w", "m", "q", "y")

# Feature names per frequency code, finest first (the order TSLib's time_features_from_frequency_str uses).
_HOURLY = ("HourOfDay", "DayOfWeek", "DayOfMonth", "DayOfYear")
_FEATURES: dict[str, tuple[str, ...]] = {
    "s": ("SecondOfMinute", "MinuteOfHour", *_HOURLY),
    "t": ("MinuteOfHour", *_HOURLY),
    "h": _HOURLY,
    "d": ("DayOfWeek", "DayOfMonth", "DayOfYear"),
    "b": ("DayOfWeek", "DayOfMonth", "DayOfYear"),
    "w": ("DayOfMonth", "WeekOfYear"),
    "m": ("MonthOfYear",),
    "q": ("MonthOfYear",),
    "y": ("MonthOfYear",),
}


def _scaled(values: np.ndarray, top: int) -> np.ndarray:
    """Map integers ``0..top`` to ``[-0.5, 0.5]``."""
    return values.astype(np.float64) / top - 0.5


def _feature(dates: pd.DatetimeIndex, name: str) -> np.ndarray:
    if name == "SecondOfMinute":
        return _scaled(np.asarray(dates.second), 59)
    if name == "MinuteOfHour":
        return _scaled(np.asarray(dates.minute), 59)
    if name == "HourOfDay":
        return _scaled(np.asarray(dates.hour), 23)
    if name == "DayOfWeek":
        return _scaled(np.asarray(dates.day_of_week), 6)
    if name == "DayOfMonth":
        return _scaled(np.asarray(dates.day) - 1, 30)
    if name == "DayOfYear":
        return _scaled(np.asarray(dates.day_of_year) - 1, 365)
    if name == "WeekOfYear":
        return _scaled(np.asarray(dates.isocalendar().week, dtype=np.int64) - 1, 52)
    if name == "MonthOfYear":
        return _scaled(np.asarray(dates.month) - 1, 11)
    raise AssertionError(name)


def freq_code(freq: str) -> str:
    """Normalise a frequency to a TSLib code (``s, t, h, d, b, w, m, q, y``).

    Accepts the codes themselves (any case, ``a`` = ``y``, ``min`` = ``t``) and pandas offset aliases
    (``"15min"``, ``"1h"``, ``"D"``, ``"W-SUN"``, ``"MS"``, ``"QE"``, ``"YS"``).

    Raises:
        ValueError: for anything else, listing the accepted forms.
    """
    if not isinstance(freq, str) or not freq.strip():
        raise ValueError(f"freq must be a non-empty string such as 'h', 't', 'd' or '15min', got {freq!r}")
    text = freq.strip()
    low = text.lower()
    if low in FREQ_CODES:
        return low
    if low in ("a", "min"):
        return {"a": "y", "min": "t"}[low]
    try:
        offset = pd.tseries.frequencies.to_offset(text)
    except ValueError:
        offset = None
    if offset is not None:
        if isinstance(offset, pd.offsets.BusinessDay):
            return "b"
        if isinstance(
            offset,
            (
                pd.offsets.Week,
                pd.offsets.MonthBegin,
                pd.offsets.MonthEnd,
                pd.offsets.QuarterBegin,
                pd.offsets.QuarterEnd,
                pd.offsets.YearBegin,
                pd.offsets.YearEnd,
            ),
        ):
            return {
                pd.offsets.Week: "w",
                pd.offsets.MonthBegin: "m",
                pd.offsets.MonthEnd: "m",
                pd.offsets.QuarterBegin: "q",
                pd.offsets.QuarterEnd: "q",
                pd.offsets.YearBegin: "y",
                pd.offsets.YearEnd: "y",
            }[type(offset)]
        try:
            return _code_from_step(pd.Timedelta(offset))
        except ValueError:
            pass
    raise ValueError(
        f"unknown frequency {freq!r}; use a code ({', '.join(FREQ_CODES)}) or a pandas alias "
        "such as '15min', '10min', '1h', 'D', 'W', 'MS'"
    )


def _code_from_step(step: pd.Timedelta) -> str:
    if step <= pd.Timedelta(0):
        raise ValueError(f"the sampling step must be positive, got {step}")
    if step < pd.Timedelta(minutes=1):
        return "s"
    if step < pd.Timedelta(hours=1):
        return "t"
    if step < pd.Timedelta(days=1):
        return "h"
    if step < pd.Timedelta(days=7):
        return "d"
    if step < pd.Timedelta(days=28):
        return "w"
    if step < pd.Timedelta(days=90):
        return "m"
    if step < pd.Timedelta(days=365):
        return "q"
    return "y"


def infer_step(dates: pd.DatetimeIndex) -> pd.offsets.BaseOffset | pd.Timedelta:
    """The sampling step of ``dates``: a pandas offset when pandas can infer one (e.g. month starts),
    else the median spacing (robust to a few gaps or daylight-saving jumps).

    Raises:
        ValueError: fewer than two dates, or dates not increasing.
    """
    dates = pd.DatetimeIndex(dates)
    if len(dates) < 2:
        raise ValueError("at least two dates are needed to infer the sampling frequency")
    tail = dates[-min(len(dates), 200) :]
    if len(tail) >= 3:
        try:
            with warnings.catch_warnings():  # pandas 3 warns that infer_freq will return an offset
                warnings.simplefilter("ignore")
                inferred = pd.infer_freq(tail)
        except (TypeError, ValueError):
            inferred = None
        if inferred is not None:
            return pd.tseries.frequencies.to_offset(inferred)
    step = pd.Series(dates).diff().dropna().median()
    if not step > pd.Timedelta(0):
        raise ValueError(f"dates must be increasing to infer a frequency; median spacing is {step}")
    return step


def infer_freq(dates: pd.DatetimeIndex) -> str:
    """TSLib frequency code of ``dates`` from their median spacing (``h`` for hourly, ``t`` for 15-min...)."""
    dates = pd.DatetimeIndex(dates)
    if len(dates) < 2:
        raise ValueError("at least two dates are needed to infer the sampling frequency")
    step = infer_step(dates)
    if isinstance(step, pd.offsets.BaseOffset) and not isinstance(step, pd.offsets.Tick):
        return freq_code(step.freqstr)
    return _code_from_step(pd.Timedelta(step))


def n_time_features(freq: str, timeenc: int = 1) -> int:
    """Number of time-mark columns for ``freq`` (a code or pandas alias) and encoding ``timeenc``."""
    code = freq_code(freq)
    if timeenc == 1:
        return len(_FEATURES[code])
    if timeenc == 0:
        return 5 if code in ("t", "s") else 4
    raise ValueError(
        f"timeenc must be 0 (Informer's integer marks) or 1 (scaled time features), got {timeenc!r}"
    )


def time_features(dates: pd.DatetimeIndex, freq: str) -> np.ndarray:
    """Scaled calendar features (``timeenc=1``).

    Args:
        dates: the time stamps, length L.
        freq: TSLib code or pandas alias (see the module docstring for which features each gets).

    Returns:
        float32 array ``(L, F)``, every value in ``[-0.5, 0.5]``; F = :func:`n_time_features` (freq, 1).
    """
    dates = pd.DatetimeIndex(dates)
    names = _FEATURES[freq_code(freq)]
    out = np.stack([_feature(dates, n) for n in names], axis=1) if len(dates) else np.zeros((0, len(names)))
    return out.astype(np.float32)


def time_marks(dates: pd.DatetimeIndex, freq: str) -> np.ndarray:
    """Informer's integer calendar marks (``timeenc=0``) for its ``TemporalEmbedding``.

    Returns:
        float32 array ``(L, 4)`` = month (1-12), day (1-31), weekday (0-6, Monday 0), hour (0-23); for
        sub-hourly ``freq`` (``t``, ``s``) ``(L, 5)`` with ``minute // 15`` (0-3) appended. Values are
        whole numbers; cast with ``.long()`` before an embedding lookup.
    """
    dates = pd.DatetimeIndex(dates)
    columns = [dates.month, dates.day, dates.day_of_week, dates.hour]
    if freq_code(freq) in ("t", "s"):
        columns.append(dates.minute // 15)
    return np.stack([np.asarray(c, dtype=np.float32) for c in columns], axis=1).reshape(len(dates), -1)
