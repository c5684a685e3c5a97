"""The Restore tab in a real browser: restore a shipped image (slider + scores appear), and a bad upload shows a
message on the page."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image


@pytest.mark.slow
def test_restore_tab(hub_page, screenshot, tmp_path):
    import restore_tab

    assert restore_tab._models(restore_tab.WEIGHTS_DIR), \
        "no shipped restore weights in pretrained/restore: run `spanmix weights build restore --all`"
    page = hub_page
    page.get_by_role("tab", name="Restore", exact=True).click()
    page.get_by_role("button", name="Restore", exact=True).click()
    report = page.locator("#restore-report .restore-metrics")
    report.wait_for(timeout=120_000)
    text = report.inner_text()
    assert "PSNR" in text and "synthetic degradation" in text
    assert page.locator("#restore-slider img").count() >= 1
    screenshot(page, tmp_path / "restore_tab.png")

    bad = tmp_path / "alpha.png"
    Image.fromarray(np.zeros((32, 32, 4), np.uint8), "RGBA").save(bad)
    page.locator("#restore-upload input[type=file]").set_input_files(str(bad))
    page.locator("#restore-source").get_by_label("upload").check()
    page.get_by_role("button", name="Restore", exact=True).click()
    page.locator("#restore-report .spanmix-error").wait_for(timeout=60_000)
    assert "alpha channel" in page.locator("#restore-report").inner_text()
    assert "Traceback" not in page.content()
