"""The Video tab in a real browser: the shipped composited clip becomes an annotated video with a timeline and
face thumbnails; an uploaded clip without sound shows one message on the page."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.slow
def test_video_tab(hub_page, screenshot, tmp_path):
    from spanmix.datasets.video import write_clip

    page = hub_page
    page.get_by_role("tab", name="Video", exact=True).click()
    page.get_by_role("button", name="Detect speakers", exact=True).click()
    page.locator("#video-status").wait_for(timeout=300_000)
    status = page.locator("#video-status").inner_text()
    assert "3 face track(s)" in status and "COMPOSITED" in status
    page.locator("#video-annotated video").wait_for(timeout=60_000)
    page.locator("#video-thumbs img").first.wait_for(timeout=60_000)
    assert page.locator("#video-thumbs img").count() >= 3
    page.locator("#video-timeline").wait_for()
    screenshot(page, tmp_path / "video_tab.png")

    silent = write_clip(tmp_path / "silent.mp4", np.zeros((25, 64, 64, 3), np.uint8), 25)
    page.locator("#video-input input[type=file]").set_input_files(str(silent))
    page.locator("#video-use-shipped input").uncheck()
    page.get_by_role("button", name="Detect speakers", exact=True).click()
    page.locator("#video-status-box .spanmix-error").wait_for(timeout=120_000)
    assert "no audio track" in page.locator("#video-status-box").inner_text()
    assert "Traceback" not in page.content()
