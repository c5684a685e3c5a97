"""The hub's Finance tab in headless Chromium (fixtures in conftest.py): predict on the shipped snapshot and see
the data note, the metrics beside the random walk and the plots; live data offline shows a message."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "demos"))

import finance_tab as ft


def _open(page):
    page.get_by_role("tab", name="Finance", exact=True).click()
    page.get_by_role("button", name="Predict", exact=True).wait_for()


@pytest.mark.slow
def test_predict_on_the_shipped_snapshot_in_the_browser(hub_page, screenshot, tmp_path):
    from playwright.sync_api import expect

    page = hub_page
    _open(page)
    m = ft._find_model("t2v_wiki_aapl_k2")
    page.get_by_role("button", name="Predict", exact=True).click()
    metrics = page.locator("#finance-metrics")
    expect(metrics).to_contain_text("Test metrics — AAPL", timeout=180_000)
    expect(metrics).to_contain_text("random walk (zero return)")
    expect(metrics).to_contain_text(f"{m.test_metrics['rw_mse'] * 1e4:.4f}")  # the recorded baseline, recomputed
    data = page.locator("#finance-data")
    expect(data).to_contain_text("Shipped snapshot wiki")
    expect(data).to_contain_text("2000-03-01 .. 2013-03-01")
    expect(data).to_contain_text(f"Correlation-selected tickers for AAPL (training window only): {m.selected[0]}")
    for elem in ("#finance-plot", "#finance-corr"):
        img = page.locator(elem).locator("img").first
        img.wait_for(state="visible", timeout=30_000)
        expect(img).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))
    box = page.locator("#finance-plot img").first.bounding_box()
    assert box is not None and box["width"] > 400 and box["height"] > 200, box
    expect(page.locator("#finance-data .spanmix-error")).to_have_count(0)
    screenshot(page, tmp_path / "hub_finance.png")


@pytest.mark.slow
def test_live_data_offline_shows_a_message_in_the_browser(hub_page, screenshot, tmp_path, monkeypatch):
    from playwright.sync_api import expect

    yf = pytest.importorskip("yfinance")
    requests = pytest.importorskip("requests")

    def offline(*args, **kwargs):  # this machine is offline anyway; never depend on it
        raise requests.exceptions.ConnectionError("Failed to establish a new connection: no network")

    monkeypatch.setattr(yf, "download", offline)
    monkeypatch.setenv("SPANMIX_CACHE", str(tmp_path / "empty-cache"))
    page = hub_page
    _open(page)
    page.get_by_label(ft.LIVE, exact=True).check()
    page.get_by_role("button", name="Predict", exact=True).click()
    error = page.locator("#finance-data .spanmix-error")
    expect(error).to_contain_text("cannot reach Yahoo Finance", timeout=60_000)
    expect(error).to_contain_text("shipped snapshot")
    for internal in ("ConnectionError", "Failed to establish", "curl", str(tmp_path), "yfinance:"):
        expect(error).not_to_contain_text(internal)  # one plain message, no downloader internals or server path
    screenshot(page, tmp_path / "hub_finance_offline.png")
