"""The Genomics tab in a real browser: classify the example peak (probabilities + saliency appear), generate a
continuation, and bad input shows a message on the page."""

from __future__ import annotations

import pytest


@pytest.mark.slow
def test_genomics_tab(hub_page, screenshot, tmp_path):
    page = hub_page
    page.get_by_role("tab", name="Genomics", exact=True).click()
    page.get_by_role("button", name="Classify", exact=True).click()
    page.locator("#genomics-saliency .genomics-seq").wait_for(timeout=60_000)
    label = page.locator("#genomics-label")
    assert "Oct4" in label.inner_text() and "Mafk" in label.inner_text()
    key = page.locator("#genomics-saliency .spanmix-shading-legend")  # what the amber shading means
    assert key.is_visible() and "saliency" in key.inner_text()

    page.get_by_role("button", name="Generate", exact=True).click()
    page.locator("#genomics-generated", has_text="").wait_for(timeout=60_000)
    page.get_by_text("done;", exact=False).wait_for(timeout=120_000)
    generated = page.locator("#genomics-generated").inner_text()
    assert len(generated) >= 200 and set(generated) <= set("ACGT")
    key = page.locator("#genomics-generated-box .spanmix-shading-legend")  # what the blue shading means
    assert key.is_visible() and "probability" in key.inner_text()
    screenshot(page, tmp_path / "genomics_tab.png")

    box = page.locator("#genomics-input textarea")
    box.fill("ACGTZZ")
    page.get_by_role("button", name="Classify", exact=True).click()
    page.locator("#genomics-saliency .spanmix-error").wait_for(timeout=30_000)
    assert "position 4" in page.locator("#genomics-saliency").inner_text()
    assert "Traceback" not in page.content()
