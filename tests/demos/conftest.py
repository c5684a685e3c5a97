"""Browser fixtures every demo tab's test shares: one hub for the whole session, one headless Chromium.

Chromium is Debian's (/usr/bin/chromium, `apt-get install -y chromium`), driven by the PyPI `playwright`
package; never `playwright install` (it downloads another browser). Each tab's browser test takes the
``hub_page`` fixture (a fresh page on the running hub) and ``screenshot`` to save what it saw."""

from __future__ import annotations

import os
import shutil
import socket
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "demos") not in sys.path:
    sys.path.insert(0, str(ROOT / "demos"))  # demos/ is a folder of scripts, not a package

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def hub_url():
    import hub

    app, url = hub.launch("127.0.0.1", _free_port(), prevent_thread_lock=True, quiet=True)
    try:
        yield url
    finally:
        app.close()


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(
            f"{CHROMIUM} is missing: install Debian's browser with `apt-get install -y chromium` "
            "(`make test` does); never `playwright install`"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def hub_page(browser, hub_url):
    """A new 1400×1000 page on the hub, once the hub's tabs have rendered."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(hub_url)
    page.get_by_role("tab", name="Forecast", exact=True).wait_for()
    yield page
    page.close()


@pytest.fixture
def screenshot():
    """``screenshot(page, path, full_page=True)``: a PNG of the page (or of the viewport); also copied to $SPANMIX_SCREENSHOTS when set, for a look."""

    def take(page, path: Path, full_page: bool = True) -> None:
        page.screenshot(path=str(path), full_page=full_page)
        keep = os.environ.get("SPANMIX_SCREENSHOTS")
        if keep:
            shutil.copy(path, Path(keep) / Path(path).name)

    return take
