"""Where downloaded datasets are kept: one folder per domain under one cache root.

``cache_dir("eeg")`` is ``$SPANMIX_CACHE/eeg`` when ``SPANMIX_CACHE`` is set, else ``~/.cache/spanmix/eeg``;
an explicit ``path`` (a loader's ``cache_dir=`` argument) wins over both.
"""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DEFAULT_ROOT", "ENV_CACHE", "cache_dir"]

ENV_CACHE = "SPANMIX_CACHE"
DEFAULT_ROOT = Path("~/.cache/spanmix")


def cache_dir(domain: str, path: str | os.PathLike | None = None) -> Path:
    """``path`` if given, else ``$SPANMIX_CACHE/<domain>``, else ``~/.cache/spanmix/<domain>``."""
    if path is not None:
        return Path(path).expanduser()
    root = os.environ.get(ENV_CACHE)
    return (Path(root) if root else DEFAULT_ROOT).expanduser() / domain
