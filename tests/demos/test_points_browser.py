"""The Points tab in a real browser: classify a shipped shape (probabilities + the 3-D plot appear) and a bad
upload shows a message on the page."""
from __future__ import annotations

import pytest


@pytest.mark.slow
def test_points_tab(hub_page, screenshot, tmp_path):
    page = hub_page
    page.get_by_role("tab", name="Points", exact=True).click()
    page.get_by_role("button", name="Classify shape", exact=True).click()
    page.locator("#points-status", has_text="Predicted").wait_for(timeout=120_000)
    from spanmix.datasets.points import load_kicad_sample

    label = page.locator("#points-label").inner_text()
    assert any(c in label for c in load_kicad_sample()["classes"])
    page.locator("#points-plot .js-plotly-plot").wait_for(timeout=60_000)
    screenshot(page, tmp_path / "points_tab.png")

    bad = tmp_path / "flat.xyz"
    bad.write_text("0 0\n1 1\n2 2\n")
    page.locator("#points-upload input[type=file]").set_input_files(str(bad))
    page.get_by_role("button", name="Classify shape", exact=True).click()
    page.locator("#points-status .spanmix-error").wait_for(timeout=60_000)
    assert "2-D" in page.locator("#points-status").inner_text()
    assert "Traceback" not in page.content()


@pytest.mark.slow
def test_points_medical_mode(hub_page, screenshot, tmp_path):
    """The Medical mode with the shipped frog weights: organ probabilities and the three 3-D views appear."""
    page = hub_page
    page.get_by_role("tab", name="Points", exact=True).click()
    page.get_by_role("tab", name="Medical", exact=True).click()
    page.get_by_role("button", name="Analyse anatomy", exact=True).click()
    page.locator("#medical-status", has_text="Predicted organ").wait_for(timeout=180_000)
    from spanmix.datasets.medical_points import FROG_TISSUES

    label = page.locator("#medical-label").inner_text()
    assert any(t in label for t in FROG_TISSUES)
    page.locator("#medical-plot .js-plotly-plot").wait_for(timeout=60_000)
    assert page.locator("#medical-plot").inner_text().count("completed") >= 1
    screenshot(page, tmp_path / "points_medical.png")
