"""Shared by the LV-MAE tests: one embedding cache for the session, so the shipped long videos are embedded once
(each test that runs the CLI or the shipped weights on them points ``SPANMIX_CACHE`` here)."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def lvmae_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("lvmae_cache")
