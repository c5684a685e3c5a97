"""The Music tab in a real browser: generate over a preset (score, audio and metrics appear), and a bad
progression shows a message on the page."""

from __future__ import annotations

import pytest


@pytest.mark.slow
def test_music_tab(hub_page, screenshot, tmp_path):
    page = hub_page
    page.get_by_role("tab", name="Music", exact=True).click()
    page.get_by_role("button", name="Generate melody", exact=True).click()
    page.locator("#music-score svg").first.wait_for(timeout=240_000)
    assert "Generated" in page.locator("#music-status").inner_text()
    page.locator("#music-audio audio, #music-audio button").first.wait_for(timeout=30_000)
    assert "chord-tone ratio" in page.locator("#music-metrics").inner_text()
    screenshot(page, tmp_path / "music_tab.png")

    page.locator("#music-chords textarea").fill("C Hm | G")
    page.get_by_role("button", name="Generate melody", exact=True).click()
    page.locator("#music-status-box .spanmix-error").wait_for(timeout=60_000)
    assert "unknown chord 'Hm'" in page.locator("#music-status-box").inner_text()
    assert "Traceback" not in page.content()
