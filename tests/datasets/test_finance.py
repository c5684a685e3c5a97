"""The finance loaders: the shipped snapshots, and the yfinance path with a mocked download of recorded real
data (the shipped snapshot, in yfinance's own return layout) -- no network in these tests."""
from __future__ import annotations

import gzip
import logging
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from spanmix.datasets import finance
from spanmix.datasets.finance import (
    COLUMNS,
    FinanceDataError,
    NetworkUnavailable,
    download_prices,
    load_snapshot,
    tidy_from_yfinance,
)

yf = pytest.importorskip("yfinance")


def yfinance_layout(tidy: pd.DataFrame) -> pd.DataFrame:
    """What ``yfinance.download(tickers, auto_adjust=False)`` returns: a ``Date`` index and (Price, Ticker)
    column pairs, prices sorted by name, NaN where a ticker has no row on a date another one has."""
    names = {v: k for k, v in finance.YF_COLUMNS.items()}
    wide = tidy.pivot(index="date", columns="ticker", values=list(names))
    wide.columns = pd.MultiIndex.from_tuples([(names[p], t) for p, t in wide.columns], names=["Price", "Ticker"])
    wide.index = pd.DatetimeIndex(wide.index, name="Date")
    return wide.sort_index(axis=1, level=0)


@pytest.fixture
def recorded():
    """Real AAPL and MSFT rows of January-June 2010 from the shipped snapshot."""
    frame = load_snapshot("wiki", ["AAPL", "MSFT"])
    return frame[(frame["date"] >= "2010-01-01") & (frame["date"] < "2010-07-01")].reset_index(drop=True)


@pytest.fixture
def mock_download(monkeypatch, recorded):
    calls = []

    def download(tickers, start=None, end=None, **kwargs):
        calls.append((list(tickers), start, end, kwargs))
        rows = recorded[recorded["ticker"].isin(tickers) & (recorded["date"] >= start) & (recorded["date"] < end)]
        if rows.empty:
            logging.getLogger("yfinance").error(f"{tickers}: possibly delisted; no price data found")
            return pd.DataFrame(columns=pd.MultiIndex.from_product([["Adj Close"], tickers]))
        return yfinance_layout(rows)

    monkeypatch.setattr(yf, "download", download)
    return calls


def test_snapshots_are_tidy_real_daily_ohlcv():
    wiki = load_snapshot("wiki")
    assert list(wiki.columns) == list(COLUMNS)
    sizes = wiki.groupby("ticker").size().to_dict()
    assert sizes == {"AAPL": 3270, "GOOG": 2148, "IBM": 3270, "MSFT": 3270}
    assert wiki["date"].min() == pd.Timestamp("2000-03-01") and wiki["date"].max() == pd.Timestamp("2013-03-01")
    assert (wiki["high"] >= wiki["low"]).all() and (wiki["volume"] > 0).all()
    gafa = load_snapshot("gafa", ["fb"])
    assert set(gafa["ticker"]) == {"FB"} and len(gafa) == 1258
    with pytest.raises(FinanceDataError, match="unknown snapshot 'nope'"):
        load_snapshot("nope")
    with pytest.raises(FinanceDataError, match=r"has no \['AMZN'\]"):
        load_snapshot("wiki", ["AMZN"])


def test_tidy_from_yfinance_inverts_its_layout(recorded):
    tidy, empty = tidy_from_yfinance(yfinance_layout(recorded), ["AAPL", "MSFT"])
    assert empty == []
    pd.testing.assert_frame_equal(finance.check_tidy(tidy), finance.check_tidy(recorded))


def test_download_caches_parquet_and_second_run_is_offline(tmp_path, mock_download, recorded, monkeypatch):
    frame = download_prices(["aapl", "MSFT"], "2010-01-01", "2010-07-01", cache_dir=tmp_path)
    pd.testing.assert_frame_equal(frame, finance.check_tidy(recorded))
    assert len(mock_download) == 1 and mock_download[0][3]["auto_adjust"] is False
    assert sorted(p.name for p in tmp_path.glob("*.parquet")) == [
        "AAPL_1d_20100101_20100701.parquet", "MSFT_1d_20100101_20100701.parquet"]

    def no_network(*args, **kwargs):
        raise AssertionError("the cache should have answered")

    monkeypatch.setattr(yf, "download", no_network)
    again = download_prices(["AAPL", "MSFT"], "2010-01-01", "2010-07-01", cache_dir=tmp_path)
    pd.testing.assert_frame_equal(again, frame)
    offline = download_prices("AAPL MSFT", "2010-01-01", "2010-07-01", cache_dir=tmp_path, offline=True)
    pd.testing.assert_frame_equal(offline, frame)


def test_cache_dir_honours_spanmix_cache(tmp_path, mock_download, monkeypatch):
    monkeypatch.setenv("SPANMIX_CACHE", str(tmp_path / "c"))
    download_prices(["AAPL"], "2010-01-01", "2010-02-01")
    assert (tmp_path / "c" / "finance" / "AAPL_1d_20100101_20100201.parquet").is_file()
    monkeypatch.delenv("SPANMIX_CACHE")
    assert finance.resolve_cache_dir() == Path("~/.cache/spanmix/finance").expanduser()


def test_unknown_ticker_names_it(tmp_path, mock_download):
    with pytest.raises(FinanceDataError, match=r"no 1d prices for \['NOSUCHTKR'\].*unknown") as info:
        download_prices(["AAPL", "NOSUCHTKR"], "2010-01-01", "2010-07-01", cache_dir=tmp_path)
    assert not isinstance(info.value, NetworkUnavailable)


def test_empty_ranges(tmp_path, mock_download):
    with pytest.raises(FinanceDataError, match="empty date range"):
        download_prices(["AAPL"], "2010-07-01", "2010-01-01", cache_dir=tmp_path)
    with pytest.raises(FinanceDataError, match="range without trading days"):  # a weekend: no rows
        download_prices(["AAPL"], "2010-01-02", "2010-01-04", cache_dir=tmp_path)
    assert not list(tmp_path.glob("*.parquet"))


@pytest.mark.parametrize("how", ["raise", "log"])
def test_network_error_points_to_the_snapshot(tmp_path, monkeypatch, how):
    requests = pytest.importorskip("requests")

    def download(tickers, **kwargs):
        if how == "raise":
            raise requests.exceptions.ConnectionError("Failed to establish a new connection")
        # what yfinance 1.x really does offline: log the curl error, return an empty frame
        logging.getLogger("yfinance").error(f"{tickers}: DNSError('Failed to perform, curl: (6) Could not "
                                            "resolve host: query2.finance.yahoo.com')")
        return pd.DataFrame(columns=pd.MultiIndex.from_product([["Adj Close"], tickers]))

    monkeypatch.setattr(yf, "download", download)
    with pytest.raises(NetworkUnavailable, match="cannot reach Yahoo Finance.*load_snapshot\\('wiki'\\)"):
        download_prices(["AAPL"], "2010-01-01", "2010-07-01", cache_dir=tmp_path)


def test_offline_without_cache_says_so(tmp_path):
    with pytest.raises(FinanceDataError, match="offline and not cached.*snapshot"):
        download_prices(["AAPL"], "2010-01-01", "2010-07-01", cache_dir=tmp_path, offline=True)


def test_gaps_are_dropped_and_reported(tmp_path, monkeypatch, recorded):
    layout = yfinance_layout(recorded)
    layout.loc[layout.index[5:8], (slice(None), "MSFT")] = np.nan  # MSFT missing 3 days AAPL traded
    gap = layout.index[(layout.index >= "2010-03-01") & (layout.index < "2010-03-15")]
    layout = layout.drop(index=gap)  # two trading weeks missing for both
    monkeypatch.setattr(yf, "download", lambda tickers, **kw: layout.loc[:, (slice(None), tickers)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = download_prices(["AAPL", "MSFT"], "2010-01-01", "2010-07-01", cache_dir=tmp_path)
    text = " | ".join(str(w.message) for w in caught)
    assert "dropping rows with missing prices" in text and "'MSFT': 3" in text
    assert "no rows from 2010-02-26 to 2010-03-15" in text
    sizes = frame.groupby("ticker").size()
    assert sizes["AAPL"] == sizes["MSFT"] + 3
    assert np.isfinite(frame[["open", "high", "low", "close", "adj_close", "volume"]].to_numpy()).all()


def test_bad_arguments():
    with pytest.raises(FinanceDataError, match="not ticker symbols"):
        download_prices(["AAPL; rm -rf"], "2010-01-01", "2010-07-01", offline=True)
    with pytest.raises(FinanceDataError, match="interval must be one of"):
        download_prices(["AAPL"], "2010-01-01", "2010-07-01", interval="7d", offline=True)
    with pytest.raises(FinanceDataError, match="dates like"):
        download_prices(["AAPL"], "someday", "2010-07-01", offline=True)


def test_prepare_script_regenerates_the_shipped_text():
    pytest.importorskip("bokeh_sampledata", reason="the one-off preparation needs bokeh-sampledata")
    pytest.importorskip("tsdata")
    from spanmix.datasets import prepare_finance_sample as prep

    for name, frame in (("wiki", prep.wiki_frame()), ("gafa", prep.gafa_frame())):
        with gzip.open(prep.SAMPLES_DIR / prep.FILES[name], "rt", encoding="utf-8") as f:
            assert f.read() == prep.csv_text(frame)
