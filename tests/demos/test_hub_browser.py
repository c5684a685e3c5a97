"""The demo hub end to end in headless Chromium (Playwright): pick the shipped data and a model, forecast, see
the plot and the metrics; upload a bad CSV, see the message. Plus the hub's safe launch defaults (no browser).
The browser and the running hub are fixtures in ``conftest.py``, shared with every tab's browser test."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "demos"))  # demos/ is a folder of scripts, not a package (also in conftest)

import forecast_tab as ft  # noqa: E402
import hub  # noqa: E402

MODEL = "smamba_vic_elec_ms"


def test_hub_caps_uploads(monkeypatch):
    import gradio as gr

    seen = {}
    monkeypatch.setattr(gr.Blocks, "launch", lambda self, **kwargs: seen.update(kwargs) or (None, "url", None))
    monkeypatch.setattr(hub, "build_hub", lambda concurrency: gr.Blocks())
    hub.launch()
    assert seen["max_file_size"] == f"{ft.MAX_UPLOAD_MB}mb"


@pytest.mark.slow
def test_the_api_page_lists_named_endpoints(hub_page, hub_url, screenshot, tmp_path):
    from playwright.sync_api import expect

    info = hub_page.request.get(hub_url.rstrip("/") + "/gradio_api/info").json()
    named = set(info["named_endpoints"])
    assert {"/forecast_predict", "/eeg_decode", "/finance_predict", "/genomics_classify",
            "/genomics_generate", "/video_detect"} <= named, named
    assert not [n for n in named if "lambda" in n] and not info["unnamed_endpoints"]
    hub_page.get_by_role("button", name="Use via API").click()  # Gradio's API panel lists the endpoints
    expect(hub_page.get_by_text("/forecast_predict").first).to_be_visible(timeout=60_000)
    expect(hub_page.get_by_text("lambda")).to_have_count(0)
    screenshot(hub_page, tmp_path / "hub_api.png", full_page=False)


@pytest.mark.slow
def test_forecast_the_shipped_data_in_the_browser(hub_page, screenshot, tmp_path):
    page = hub_page
    from playwright.sync_api import expect

    m = ft._find_model(MODEL)
    page.get_by_label(ft.SHIPPED_DATASETS["vic_elec"], exact=True).check()
    page.get_by_role("combobox", name="Model (shipped weights)").click()
    page.get_by_role("option", name=m.choice, exact=True).click()
    expect(page.locator("#forecast-card")).to_contain_text(m.command)
    page.get_by_role("button", name="Forecast", exact=True).click()

    metrics = page.locator("#forecast-metrics")
    expect(metrics).to_contain_text(
        "Test error — vic_elec, test split", timeout=180_000
    )  # the event finished
    expect(metrics).to_contain_text(f"{m.test_metrics['mse']:.4f}")  # the recorded test MSE, recomputed
    # The rendered figure (matplotlib: an <img>); the empty plot shows only an icon (<svg class="iconify">).
    plot = page.locator("#forecast-plot").locator("img, canvas, svg:not(.iconify)").first
    plot.wait_for(state="visible", timeout=30_000)
    expect(plot).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))
    box = plot.bounding_box()
    assert box is not None and box["width"] > 400 and box["height"] > 200, box
    expect(page.locator(".spanmix-error")).to_have_count(0)
    screenshot(page, tmp_path / "hub_forecast.png")


@pytest.mark.slow
def test_a_bad_upload_shows_a_message_in_the_browser(hub_page, screenshot, tmp_path):
    page = hub_page
    from playwright.sync_api import expect

    bad = tmp_path / "latin1.csv"
    bad.write_bytes("date,load\n2021-01-01 00:00,caf\xe9\n".encode("latin-1"))
    page.get_by_label(ft.UPLOAD, exact=True).check()
    page.locator("#forecast-upload input[type=file]").set_input_files(str(bad))
    expect(page.locator("#forecast-upload-info .spanmix-error")).to_contain_text("not UTF-8", timeout=60_000)
    page.get_by_role("button", name="Forecast", exact=True).click()
    error = page.locator("#forecast-metrics .spanmix-error")
    expect(error).to_contain_text("latin1.csv is not UTF-8 text", timeout=60_000)
    expect(error).not_to_contain_text("Traceback")
    expect(page.locator("#forecast-plot img")).to_have_count(0)
    screenshot(page, tmp_path / "hub_bad_upload.png")
