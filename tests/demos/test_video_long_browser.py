"""The Video tab's "Long video" panel in a real browser: a shipped composited long video gives the segment
timeline, nearest-segment thumbnails and the probe's prediction; an uploaded clip shorter than one segment
shows one message on the page."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.slow
def test_long_video_panel(hub_page, screenshot, tmp_path):
    from spanmix.datasets.video import write_clip

    page = hub_page
    page.get_by_role("tab", name="Video", exact=True).click()
    page.get_by_role("button", name="Analyse long video", exact=True).click()
    page.locator("#video-long-status").wait_for(timeout=300_000)
    status = page.locator("#video-long-status-box").inner_text()
    assert "segments of 5 s" in status and "COMPOSITED" in status and "Probe:" in status
    page.locator("#video-long-thumbs img").first.wait_for(timeout=60_000)
    assert page.locator("#video-long-thumbs img").count() == 6
    page.locator("#video-long-timeline").wait_for()
    screenshot(page, tmp_path / "video_long_panel.png")

    short = write_clip(tmp_path / "short.mp4", np.zeros((20, 64, 64, 3), np.uint8), 10)
    page.locator("#video-long-input input[type=file]").set_input_files(str(short))
    page.get_by_role("button", name="Analyse long video", exact=True).click()
    page.locator("#video-long-status-box .spanmix-error").wait_for(timeout=120_000)
    assert "shorter than one segment" in page.locator("#video-long-status-box").inner_text()
    assert "Traceback" not in page.content()
