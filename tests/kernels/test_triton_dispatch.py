"""A broken Triton install never breaks a CUDA run: the kernels fall back to their PyTorch paths with one
warning. Runs on CPU (no interpreter): the device check stands in for a GPU and the Triton modules fail to
import."""

from __future__ import annotations

import sys
import warnings

import pytest
import torch

from spanmix.kernels import dispatch, local_attention, local_attention_ref, selective_scan, selective_scan_ref


@pytest.fixture
def broken_triton(monkeypatch):
    monkeypatch.setattr(dispatch, "is_cuda", lambda t: True)
    monkeypatch.setattr(dispatch, "triton_available", lambda: True)
    monkeypatch.setattr(dispatch, "_broken_triton_modules", set())
    for module in ("triton_selective_scan", "triton_local_attention"):
        monkeypatch.setitem(sys.modules, f"spanmix.kernels.{module}", None)  # import raises ImportError
    monkeypatch.delenv("SPANMIX_FORCE_REFERENCE", raising=False)


def _warnings_of(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn()
    return out, [w for w in caught if "Triton kernels unavailable" in str(w.message)]


def test_a_broken_triton_falls_back_to_pytorch_and_warns_once(broken_triton):
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 2, 20, 8, generator=g) for _ in range(3))
    out, warned = _warnings_of(lambda: local_attention(q, k, v, 5))
    assert len(warned) == 1 and warned[0].category is RuntimeWarning
    torch.testing.assert_close(out, local_attention_ref(q, k, v, 5))
    _, warned = _warnings_of(lambda: local_attention(q, k, v, 5))
    assert warned == []

    u, delta = torch.randn(1, 3, 12, generator=g), torch.rand(1, 3, 12, generator=g)
    A = -torch.rand(3, 4, generator=g)
    B, C = torch.randn(1, 4, 12, generator=g), torch.randn(1, 4, 12, generator=g)
    y, warned = _warnings_of(lambda: selective_scan(u, delta, A, B, C))
    assert len(warned) == 1
    torch.testing.assert_close(y, selective_scan_ref(u, delta, A, B, C), rtol=1e-5, atol=1e-5)
