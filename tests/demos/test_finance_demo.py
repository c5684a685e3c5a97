"""The Finance tab's functions without a browser: shipped weights on the shipped snapshots, the recorded test
metrics recomputed, the random walk beside them, and clear messages for bad input and for live data offline."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "demos"))  # demos/ is a folder of scripts, not a package

import finance_tab as ft
from tab_common import LEGEND_FONTSIZE

WIKI = next(k for k, v in ft.sources().items() if v == "snapshot:wiki")
GAFA = next(k for k, v in ft.sources().items() if v == "snapshot:gafa")


def test_the_shipped_weights_are_listed():
    models = {m.name: m for m in ft.list_models()}
    assert {"t2v_wiki_aapl_k2", "t2v_wiki_aapl_k0"} <= set(models)
    assert models["t2v_wiki_aapl_k2"].k == 2 and len(models["t2v_wiki_aapl_k2"].selected) == 2
    assert "spanmix finance fit" in ft.model_card("t2v_wiki_aapl_k2")


def test_shipped_snapshot_reproduces_the_recorded_test_metrics():
    m = ft._find_model("t2v_wiki_aapl_k2")
    corr, fig, data, metrics = ft.run(WIKI, "AAPL", "GOOG, IBM, MSFT", m.choice)
    assert corr is not None and fig is not None, data
    for ax in fig.axes:  # readable legends at the hub's size
        assert {t.get_fontsize() for t in ax.get_legend().get_texts()} == {LEGEND_FONTSIZE}
    assert corr.axes[-1].get_ylabel() == "correlation of daily log returns"  # the colour bar says what it shows
    assert "Shipped snapshot `wiki`" in data and "2000-03-01 .. 2013-03-01" in data and "Zero-shot" not in data
    assert all(t in data for t in m.selected)
    dm = ft.prepare_data(m, WIKI, "AAPL", "GOOG, IBM, MSFT")
    result = ft.evaluate(ft.load_weights(str(m.path)), dm)
    assert result["model"]["mse"] == pytest.approx(m.test_metrics["mse"], rel=1e-4)
    assert result["random walk"]["mse"] == pytest.approx(m.test_metrics["rw_mse"], rel=1e-5)
    assert result["model"]["mape"] == pytest.approx(m.test_metrics["mape"], rel=1e-3)
    assert f"{result['random walk']['mse'] * 1e4:.4f}" in metrics and "random walk" in metrics
    assert len(result["dates"]) == m.test_metrics.get("windows", len(dm.datasets["test"]))


def test_other_snapshot_and_single_stock_are_zero_shot():
    k0 = ft._find_model("t2v_wiki_aapl_k0")
    _, fig, data, metrics = ft.run(GAFA, "AMZN", "", k0.choice)
    assert fig is not None and "Zero-shot" in data and "AMZN_ret" in data and "Test metrics — AMZN" in metrics
    k2 = ft._find_model("t2v_wiki_aapl_k2")
    _, fig, data, _ = ft.run(GAFA, "FB", "AAPL, AMZN, GOOG", k2.choice)
    assert fig is not None and "Correlation-selected tickers for **FB**" in data


@pytest.mark.parametrize("target, universe, match", [
    ("ZZZZ", "GOOG, IBM, MSFT", "snapshot wiki has no"),
    ("ZZZZ", "", "has no ticker"),
    ("AAPL", "IBM", "reads 2 correlated tickers"),
    ("", "IBM", "Enter a target ticker"),
    ("AAPL", "AMZN, IBM", "snapshot wiki has no"),
])
def test_bad_input_becomes_a_message(target, universe, match):
    corr, fig, data, _ = ft.run(WIKI, target, universe, "t2v_wiki_aapl_k2")
    assert corr is None and fig is None and "spanmix-error" in data and match in data


def test_live_data_offline_fails_into_a_message(monkeypatch, tmp_path):
    yf = pytest.importorskip("yfinance")
    requests = pytest.importorskip("requests")

    def offline(*args, **kwargs):
        raise requests.exceptions.ConnectionError("Failed to establish a new connection: no network")

    monkeypatch.setattr(yf, "download", offline)
    _, fig, data, _ = ft.run(ft.LIVE, "AAPL", "MSFT, IBM", "t2v_wiki_aapl_k2", "2015-01-01", "2020-01-01",
                             cache_dir=str(tmp_path))
    assert fig is None and "cannot reach Yahoo Finance" in data and "load_snapshot(&#x27;wiki&#x27;)" not in data
    assert "snapshot" in data
    # one plain message: no downloader internals, no server path
    assert "Failed to establish" not in data and "ConnectionError" not in data and str(tmp_path) not in data
