"""Choosing between a fast path and its reference twin.

Set ``SPANMIX_FORCE_REFERENCE=1`` (or use ``with reference_mode():``) to run every kernel through its
slow, obviously-correct reference; useful to rule a kernel out when debugging a model. It wins over
every other choice, on any device.

CUDA tensors take the Triton kernels (``kernels/triton_*.py``) when Triton is installed; set
``SPANMIX_DISABLE_TRITON=1`` to send them to the chunked / blocked PyTorch paths instead. Triton is
imported only when a CUDA tensor first reaches a kernel, never at ``import spanmix``.
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import threading
import warnings

_local = threading.local()
_cache: dict = {}
_broken_triton_modules: set[str] = set()


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "0").lower() not in ("", "0", "false", "no")


def use_reference() -> bool:
    """True when kernels must take their reference path."""
    forced = getattr(_local, "forced", None)
    if forced is not None:
        return forced
    return _env_flag("SPANMIX_FORCE_REFERENCE")


@contextlib.contextmanager
def reference_mode(enabled: bool = True):
    """Context manager: force (or, with ``enabled=False``, forbid) the reference kernels."""
    previous = getattr(_local, "forced", None)
    _local.forced = enabled
    try:
        yield
    finally:
        _local.forced = previous


def triton_available() -> bool:
    """True when Triton is installed (checked without importing it) and not disabled with
    ``SPANMIX_DISABLE_TRITON=1``."""
    if _env_flag("SPANMIX_DISABLE_TRITON"):
        return False
    if "triton" not in _cache:
        _cache["triton"] = importlib.util.find_spec("triton") is not None
    return _cache["triton"]


def is_cuda(t) -> bool:
    """The device check behind ``use_triton`` (a function of its own so tests can stand in for a GPU)."""
    return getattr(getattr(t, "device", None), "type", None) == "cuda"


def use_triton(*tensors) -> bool:
    """True when every given tensor (None entries are skipped) is on a CUDA device and Triton can be used."""
    present = [t for t in tensors if t is not None]
    return bool(present) and all(is_cuda(t) for t in present) and triton_available()


def triton_kernel(module: str, name: str):
    """``spanmix.kernels.<module>.<name>``, imported on first use; None when the module cannot be imported (a
    broken Triton install), with one warning, so that the caller falls back to its PyTorch path."""
    if module in _broken_triton_modules:
        return None
    try:
        return getattr(importlib.import_module(f"spanmix.kernels.{module}"), name)
    except Exception as exc:  # noqa: BLE001 -- whatever a broken install raises, the PyTorch path still works
        _broken_triton_modules.add(module)
        warnings.warn(f"{name}: Triton kernels unavailable ({exc!r}); using the PyTorch path instead",
                      RuntimeWarning, stacklevel=3)
        return None
