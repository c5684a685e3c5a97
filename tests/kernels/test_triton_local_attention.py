"""local_attention_triton (Triton kernels, run on CPU by Triton's interpreter) against local_attention_ref:
outputs and the gradients of q, k, v, fp32 and bf16, causal and not, key padding, windows longer than L,
L not a multiple of the block; plus the dispatch between the Triton, blocked-SDPA and reference paths.

As in test_triton_selective_scan.py: Triton's interpreter needs ``TRITON_INTERPRET=1`` before ``triton``
itself is imported, so every check that runs a kernel is a ``check_*`` function executed in ONE fresh
interpreter started with the flag (``run_interpreted.py``, see conftest.py); ``test_interpreted[<check>]``
asserts each check's outcome. Tiny shapes (each program instance costs ~1 ms in the interpreter):
16 x 16 tiles, L <= 50, head size 8-16.
"""
from __future__ import annotations

import contextlib
import importlib

import pytest
import torch

pytest.importorskip("triton")

from spanmix.kernels import local_attention, local_attention_ref, reference_mode  # noqa: E402

MODULE = "spanmix.kernels.triton_local_attention"
CHECKS = {}


def check(fn):
    CHECKS[fn.__name__.removeprefix("check_")] = fn
    return fn


def _tla():
    from triton.runtime.interpreter import InterpretedFunction

    mod = importlib.import_module(MODULE)
    assert isinstance(mod._attn_fwd_kernel, InterpretedFunction), "the kernels are not interpreted"
    return mod


def make(B, H, L, d, seed, dtype, padded):
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(B, H, L, d, generator=g, dtype=torch.float64).to(dtype) for _ in range(3))
    kpm = None
    if padded:
        kpm = torch.rand(B, L, generator=g) < 0.6
        kpm[0, : max(1, L // 3)] = False  # leading padding: early causal queries see no key at all
    return q, k, v, kpm


def run_both(q, k, v, window, causal, kpm, **kw):
    """Outputs and gradients (w.r.t. q, k, v) of the Triton kernels and of the fp64 reference."""
    qs = [t.detach().clone().requires_grad_() for t in (q, k, v)]
    qr = [t.detach().double().requires_grad_() for t in (q, k, v)]
    out = _tla().local_attention_triton(*qs, window, causal, kpm, **kw)
    ref = local_attention_ref(*qr, window, causal, kpm, scale=kw.get("scale"))
    g = torch.Generator().manual_seed(1)
    gout = torch.randn(out.shape, generator=g, dtype=torch.float64).to(out.dtype)
    grads = torch.autograd.grad(out, qs, gout)
    grads_ref = torch.autograd.grad(ref, qr, gout.double())
    return out, ref, grads, grads_ref


def compare(out, ref, grads, grads_ref, tol_out, tol_grad):
    assert out.dtype == grads[0].dtype
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out.double(), ref, rtol=tol_out, atol=tol_out, msg=lambda m: f"out: {m}")
    for name, ga, gr in zip("qkv", grads, grads_ref):
        assert torch.isfinite(ga).all(), name
        torch.testing.assert_close(ga.double(), gr, rtol=tol_grad, atol=tol_grad,
                                   msg=lambda m, name=name: f"grad {name}: {m}")


# (B, H, L, d, window, causal, padded, (BLOCK_M, BLOCK_N)); L is never a multiple of the blocks.
CASES = {
    "causal": (1, 2, 50, 16, 8, True, False, (16, 16)),
    "noncausal_padded": (2, 2, 50, 16, 12, False, True, (16, 16)),
    "causal_padded_window_past_L": (1, 1, 37, 8, 100, True, True, (16, 16)),
    "noncausal_window_past_L": (1, 1, 37, 8, 100, False, False, (16, 16)),
    "causal_window_1_padded": (2, 1, 33, 16, 1, True, True, (16, 16)),
    "causal_padded_tall_query_block": (1, 2, 45, 16, 9, True, True, (32, 16)),
    "noncausal_wide_key_block_d12": (1, 1, 41, 12, 7, False, True, (16, 32)),
}


def _fp32_case(case):
    def run():
        B, H, L, d, window, causal, padded, blocks = CASES[case]
        q, k, v, kpm = make(B, H, L, d, seed=len(case), dtype=torch.float32, padded=padded)
        compare(*run_both(q, k, v, window, causal, kpm, blocks=blocks), 1e-5, 1e-4)
    return run


for _case in CASES:
    CHECKS[f"fp32_{_case}"] = _fp32_case(_case)


@check
def check_bf16_close_to_reference():
    for causal in (True, False):
        q, k, v, kpm = make(2, 1, 40, 16, seed=3, dtype=torch.bfloat16, padded=True)
        out, ref, grads, grads_ref = run_both(q, k, v, 10, causal, kpm, blocks=(16, 16))
        assert out.dtype == torch.bfloat16
        compare(out, ref, grads, grads_ref, 3e-2, 5e-2)


@check
def check_scale_is_used():
    q, k, v, _ = make(1, 1, 20, 8, seed=6, dtype=torch.float32, padded=False)
    compare(*run_both(q, k, v, 5, True, None, scale=0.3, blocks=(16, 16)), 1e-5, 1e-4)


@check
def check_fully_masked_rows_are_zero_and_pass_no_gradient():
    B, H, L, d, window = 2, 2, 23, 8, 3
    q, k, v, _ = make(B, H, L, d, seed=3, dtype=torch.float32, padded=False)
    kpm = torch.ones(B, L, dtype=torch.bool)
    kpm[0] = False  # batch 0: every key is padding
    kpm[1, :10] = False  # batch 1: causal queries 0..9 have no visible key
    q, k, v = (t.requires_grad_() for t in (q, k, v))
    out = _tla().local_attention_triton(q, k, v, window, True, kpm, blocks=(16, 16))
    assert torch.isfinite(out).all()
    assert (out[0] == 0).all() and (out[1, :, :10] == 0).all()
    assert (out[1, :, 10:].abs().sum(-1) > 0).all()
    out.square().sum().backward()
    for t in (q, k, v):
        assert torch.isfinite(t.grad).all()
    assert (q.grad[0] == 0).all() and (q.grad[1, :, :10] == 0).all()
    assert (k.grad[1, :, :10] == 0).all() and (v.grad[1, :, :10] == 0).all()  # padded keys get no gradient


@check
def check_bad_input_raises_one_clear_error():
    fn = _tla().local_attention_triton
    q = torch.zeros(1, 1, 5, 4)
    with pytest.raises(ValueError, match="window must be >= 1"):
        fn(q, q, q, 0)
    with pytest.raises(ValueError, match="blocks must be powers of two >= 16"):
        fn(q, q, q, 2, blocks=(16, 24))
    with pytest.raises(ValueError, match="expected float16, bfloat16 or float32"):
        fn(q.double(), q.double(), q.double(), 2)


@contextlib.contextmanager
def fake_gpu():
    """The dispatcher treats CPU tensors as CUDA ones (the interpreter then runs the kernels); yields
    the list of calls of the Triton entry point."""
    dispatch = importlib.import_module("spanmix.kernels.dispatch")
    tla = _tla()
    calls = []
    real = tla.local_attention_triton

    def spy(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dispatch, "is_cuda", lambda t: True)
        mp.setattr(tla, "local_attention_triton", spy)
        mp.delenv("SPANMIX_FORCE_REFERENCE", raising=False)
        mp.delenv("SPANMIX_DISABLE_TRITON", raising=False)
        yield calls, mp


@check
def check_cuda_tensors_take_the_triton_path():
    q, k, v, kpm = make(1, 2, 30, 16, seed=8, dtype=torch.float32, padded=True)
    with fake_gpu() as (calls, _):
        out = local_attention(q, k, v, 6, False, kpm)
        assert calls == [1]
        torch.testing.assert_close(out, local_attention_ref(q, k, v, 6, False, kpm), rtol=1e-5, atol=1e-5)
        local_attention(q.double(), k.double(), v.double(), 6)  # float64: the blocked SDPA path
        assert calls == [1]


@check
def check_force_reference_wins_over_triton():
    q, k, v, _ = make(1, 2, 17, 8, seed=8, dtype=torch.float32, padded=False)
    expected = local_attention_ref(q, k, v, 4)
    with fake_gpu() as (calls, mp):
        mp.setenv("SPANMIX_FORCE_REFERENCE", "1")
        torch.testing.assert_close(local_attention(q, k, v, 4), expected, rtol=0, atol=0)
        mp.setenv("SPANMIX_FORCE_REFERENCE", "0")
        with reference_mode():
            torch.testing.assert_close(local_attention(q, k, v, 4), expected, rtol=0, atol=0)
        assert calls == []


@check
def check_disable_triton_and_cpu_tensors_stay_off_triton():
    q, k, v, _ = make(1, 2, 17, 8, seed=8, dtype=torch.float32, padded=False)
    with fake_gpu() as (calls, mp):
        mp.setenv("SPANMIX_DISABLE_TRITON", "1")
        local_attention(q, k, v, 4)
        mp.delenv("SPANMIX_DISABLE_TRITON")
        mp.setattr(importlib.import_module("spanmix.kernels.dispatch"), "is_cuda",
                   lambda t: t.device.type == "cuda")  # the real check
        local_attention(q, k, v, 4)
        assert calls == []


# ------------------------------------------------------------------------------------------------ tests

def test_interpreted(interpreted_results, interpreted_check):  # one test per check (see conftest.py)
    outcome = interpreted_results[interpreted_check]
    if outcome != "ok":
        pytest.fail(f"{interpreted_check} failed in the interpreter run:\n{outcome}", pytrace=False)
