"""Choosing between a fast path and its reference twin.

Set ``SPANMIX_FORCE_REFERENCE=1`` (or use ``with reference_mode():``) to run every kernel through its
slow, obviously-correct reference; useful to rule a kernel out when debugging a model.
"""
from __future__ import annotations

import contextlib
import os
import threading

_local = threading.local()


def use_reference() -> bool:
    """True when kernels must take their reference path."""
    forced = getattr(_local, "forced", None)
    if forced is not None:
        return forced
    return os.environ.get("SPANMIX_FORCE_REFERENCE", "0").lower() not in ("", "0", "false", "no")


@contextlib.contextmanager
def reference_mode(enabled: bool = True):
    """Context manager: force (or, with ``enabled=False``, forbid) the reference kernels."""
    previous = getattr(_local, "forced", None)
    _local.forced = enabled
    try:
        yield
    finally:
        _local.forced = previous
