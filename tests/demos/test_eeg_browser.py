"""The EEG tab end to end in headless Chromium: decode the shipped real recording (table + topomap), then a
bad upload shows a message. Fixtures (the hub, the browser, screenshots) are in ``conftest.py``."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "demos"))

import eeg_tab as et


@pytest.mark.slow
def test_decode_the_shipped_recording_in_the_browser(hub_page, screenshot, tmp_path):
    from playwright.sync_api import expect

    page = hub_page
    page.get_by_role("tab", name="EEG", exact=True).click()
    page.get_by_label(et.REAL, exact=True).check()
    button = page.get_by_role("button", name="Decode", exact=True)
    # the button is in the first viewport (the 60 channel chips are folded in an accordion below it)
    box = button.bounding_box()
    viewport = page.viewport_size
    assert page.evaluate("window.scrollY") == 0 and box is not None
    assert box["y"] + box["height"] <= viewport["height"], (box, viewport)
    screenshot(page, tmp_path / "hub_eeg_first_view.png", full_page=False)
    chips = page.locator("#eeg-channels")
    expect(chips).to_be_hidden()
    accordion = page.locator("#eeg-channels-accordion")
    expect(accordion).to_contain_text("Channels: 60 selected")
    accordion.get_by_role("button").first.click()  # unfold: the 60 chips are there to review
    expect(chips).to_be_visible()
    expect(chips).to_contain_text("EEG 060")
    accordion.get_by_role("button").first.click()
    expect(chips).to_be_hidden()
    button.click()
    summary = page.locator("#eeg-summary")
    expect(summary).to_contain_text("28 epochs decoded by DBConformer", timeout=180_000)
    expect(summary).to_contain_text("Accuracy")
    expect(summary).to_contain_text("× the uniform share 1/60")
    expect(page.locator("#eeg-table")).to_contain_text("auditory/left")
    plot = page.locator("#eeg-topomap").locator("img").first
    plot.wait_for(state="visible", timeout=30_000)
    expect(plot).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))
    box = plot.bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 150, box
    expect(page.locator("#eeg-summary .spanmix-error")).to_have_count(0)
    screenshot(page, tmp_path / "hub_eeg.png")


@pytest.mark.slow
def test_a_bad_eeg_upload_shows_a_message_in_the_browser(hub_page, screenshot, tmp_path):
    from playwright.sync_api import expect

    page = hub_page
    page.get_by_role("tab", name="EEG", exact=True).click()
    bad = tmp_path / "broken.edf"
    bad.write_bytes(b"definitely not an EDF header" * 20)
    page.get_by_label(et.UPLOAD, exact=True).check()
    page.locator("#eeg-upload input[type=file]").set_input_files(str(bad))
    expect(page.locator("#eeg-upload-info .spanmix-error")).to_contain_text("could not be read", timeout=60_000)
    page.get_by_role("button", name="Decode", exact=True).click()
    error = page.locator("#eeg-summary .spanmix-error")
    expect(error).to_contain_text("broken.edf could not be read as .edf EEG", timeout=60_000)
    expect(error).not_to_contain_text("Traceback")
    screenshot(page, tmp_path / "hub_eeg_bad_upload.png")
