"""selective_scan_triton (Triton kernels, run on CPU by Triton's interpreter) against selective_scan_ref:
outputs and every gradient, fp32 and bf16; plus the dispatch between the Triton, CPU and reference paths.

Triton's interpreter works only if ``TRITON_INTERPRET=1`` is set before ``triton`` itself is imported:
its own standard library (``tl.zeros``, ``tl.sum``, ...) is built at that import, and in a pytest process
triton has usually been imported already (``torch._dynamo`` imports it). So every check that runs a
kernel is a plain ``check_*`` function executed in ONE fresh interpreter started with the flag set
(``run_interpreted.py``, via conftest's ``interpreted_results``); each ``test_interpreted[<check>]`` asserts
its own check's outcome, so failures are still reported one by one.

The interpreter runs each program instance in Python (~1 ms each, every op a NumPy call), so the shapes
are tiny: a few channels, L up to 70 so that several chunks and a ragged last chunk are crossed.
"""
from __future__ import annotations

import contextlib
import importlib
import os
import subprocess
import sys

import pytest
import torch

pytest.importorskip("triton")

from spanmix.kernels import reference_mode, selective_scan, selective_scan_ref  # noqa: E402

NAMES = ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")
MODULE = "spanmix.kernels.triton_selective_scan"


def make_inputs(b, d, n, length, *, D=True, z=True, bias=True, softplus=True, seed=0):
    """Mamba-like inputs: A < 0, dt = softplus(delta + bias) in about (0.02, 2), u/B/C/z ~ randn."""
    g = torch.Generator().manual_seed(seed)
    randn = lambda *s: torch.randn(*s, generator=g)  # noqa: E731
    rand = lambda *s: torch.rand(*s, generator=g)  # noqa: E731
    if softplus:
        delta, delta_bias = randn(b, d, length) - 1.5, 0.5 * randn(d)
    else:  # used as is: keep dt > 0
        delta, delta_bias = 0.01 + 0.2 * rand(b, d, length), 0.1 * rand(d)
    A = -(0.1 + 4 * rand(d, n))
    return {"u": randn(b, d, length), "delta": delta, "A": A,
            "B": randn(b, n, length), "C": randn(b, n, length),
            "D": randn(d) if D else None, "z": randn(b, d, length) if z else None,
            "delta_bias": delta_bias if bias else None}


def run_with_grads(fn, inputs, softplus, **kw):
    """(y, h_last, {name: grad}) for random cotangents on both y and h_last."""
    x = {k: v.detach().clone().requires_grad_() if v is not None else None for k, v in inputs.items()}
    y, h = fn(**x, delta_softplus=softplus, return_last_state=True, **kw)
    g = torch.Generator().manual_seed(1)
    gy, gh = torch.randn(y.shape, generator=g), torch.randn(h.shape, generator=g)
    used = [k for k in NAMES if x[k] is not None]
    grads = torch.autograd.grad((y.float() * gy).sum() + (h * gh).sum(), [x[k] for k in used])
    return y, h, dict(zip(used, grads))


def assert_close_scaled(actual, expected, tol, what):
    """|a - e| <= tol * (|e| + max|e|): relative to the element and to the tensor's scale."""
    scale = expected.detach().abs().max().clamp_min(1e-6).item()
    torch.testing.assert_close(actual.detach().double(), expected.detach().double(),
                               rtol=tol, atol=tol * scale,
                               msg=lambda m: f"{what}: {m}")


def check_against_ref(fn, inputs, softplus, tol, **kw):
    y_r, h_r, g_r = run_with_grads(selective_scan_ref, inputs, softplus)
    y, h, g = run_with_grads(fn, inputs, softplus, **kw)
    assert y.dtype == inputs["u"].dtype and y.shape == inputs["u"].shape
    assert h.dtype == torch.float32 and h.shape == h_r.shape
    assert_close_scaled(y, y_r, tol, "y")
    assert_close_scaled(h, h_r, tol, "h_last")
    assert g.keys() == g_r.keys()
    for k in g_r:
        assert g[k].dtype == inputs[k].dtype and g[k].shape == inputs[k].shape, k
        assert torch.isfinite(g[k]).all(), k
        assert_close_scaled(g[k], g_r[k], tol, f"grad of {k}")


# --------------------------------------------------------------------- checks (run in the interpreter)

def _tss():
    from triton.runtime.interpreter import InterpretedFunction

    mod = importlib.import_module(MODULE)
    assert isinstance(mod._scan_fwd_kernel, InterpretedFunction), "the kernels are not interpreted"
    return mod


# (b, d, n, L, options, chunk, (BLOCK_D forward, backward)); L is not a multiple of the chunk except in
# the last case, and D is not a multiple of the block where one is given.
CASES = {
    "all_options_3_chunks": (2, 6, 4, 70, {}, 32, (4, 2)),
    "no_options_3_chunks": (1, 5, 3, 20, dict(D=False, z=False, bias=False, softplus=False), 8, None),
    "D_and_z_no_bias": (2, 3, 5, 37, dict(bias=False), 16, (2, 2)),
    "N16_shorter_than_a_chunk": (1, 4, 16, 9, dict(D=False, z=False), 32, None),
    "N1_bias_only_exact_chunks": (1, 3, 1, 32, dict(D=False, z=False), 8, (2, 1)),
    "default_chunk_and_blocks": (1, 4, 16, 70, {}, None, None),  # T = 64: a full and a ragged chunk
}
CHECKS = {}


def check(fn):
    CHECKS[fn.__name__.removeprefix("check_")] = fn
    return fn


def _fp32_case(case):
    def run():
        b, d, n, length, opts, chunk, blocks = CASES[case]
        inputs = make_inputs(b, d, n, length, seed=len(case), **opts)
        check_against_ref(_tss().selective_scan_triton, inputs, opts.get("softplus", True), tol=1e-4,
                          chunk_size=chunk, block_d=blocks)
    return run


for _case in CASES:
    CHECKS[f"fp32_{_case}"] = _fp32_case(_case)


@check
def check_bf16_inputs_close_to_reference():
    inputs = make_inputs(2, 4, 4, 45, seed=4)
    half = ("u", "delta", "B", "C", "z")
    inputs = {k: (v.to(torch.bfloat16) if k in half else v) for k, v in inputs.items()}
    # Both compute in float32 from the same bf16 values; what differs is the bf16 rounding of y and grads.
    check_against_ref(_tss().selective_scan_triton, inputs, True, tol=2e-2, chunk_size=16)


@check
def check_deterministic_mode_sums_partials_instead_of_atomics():
    fn = _tss().selective_scan_triton
    inputs = make_inputs(2, 6, 4, 40, seed=5)
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        check_against_ref(fn, inputs, True, tol=1e-4, chunk_size=16, block_d=(4, 2))  # 3 channel blocks
        first, again = (run_with_grads(fn, inputs, True, chunk_size=16, block_d=(4, 2)) for _ in range(2))
    finally:
        torch.use_deterministic_algorithms(before)
    assert all(torch.equal(first[2][k], again[2][k]) for k in first[2])


@check
def check_without_grad_and_gradient_of_one_input():
    fn = _tss().selective_scan_triton
    x = make_inputs(1, 3, 4, 25, seed=6)
    with torch.no_grad():
        y = fn(**x, delta_softplus=True, chunk_size=8)
    assert not y.requires_grad
    assert_close_scaled(y, selective_scan_ref(**x, delta_softplus=True), 1e-4, "y without grad")
    u = x["u"].clone().requires_grad_()
    (g,) = torch.autograd.grad(fn(**{**x, "u": u}, delta_softplus=True, chunk_size=8).sum(), [u])
    u_ref = x["u"].clone().requires_grad_()
    y_ref = selective_scan_ref(**{**x, "u": u_ref}, delta_softplus=True)
    (g_ref,) = torch.autograd.grad(y_ref.sum(), [u_ref])
    assert_close_scaled(g, g_ref, 1e-4, "grad of u")


@check
def check_gradient_through_the_last_state_only():
    fn = _tss().selective_scan_triton
    x = make_inputs(1, 3, 4, 30, seed=7)
    grads = []
    for f in (fn, selective_scan_ref):
        leaves = {k: v.clone().requires_grad_() for k, v in x.items()}
        _, h = f(**leaves, delta_softplus=True, return_last_state=True)
        g = torch.autograd.grad(h.square().sum(), [leaves[k] for k in NAMES], allow_unused=True)
        grads.append([t if t is not None else torch.zeros_like(x[k]) for k, t in zip(NAMES, g)])  # C, D, z
    for k, g, g_ref in zip(NAMES, *grads):
        assert_close_scaled(g, g_ref, 1e-4, f"grad of {k} through h_last")


@check
def check_bad_input_raises_one_clear_error():
    fn = _tss().selective_scan_triton
    x = make_inputs(1, 2, 3, 10)
    with pytest.raises(ValueError, match=r"expected B of shape \(batch, d_state, length\)"):
        fn(**{**x, "B": torch.randn(1, 4, 10)})
    with pytest.raises(ValueError, match="chunk_size must be a power of two"):
        fn(**x, chunk_size=12)


@contextlib.contextmanager
def fake_gpu():
    """The dispatcher treats CPU tensors as CUDA ones (the interpreter then runs the kernels); yields
    the list of calls of the Triton entry point."""
    dispatch = importlib.import_module("spanmix.kernels.dispatch")
    tss = _tss()
    calls = []
    real = tss.selective_scan_triton

    def spy(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dispatch, "is_cuda", lambda t: True)
        mp.setattr(tss, "selective_scan_triton", spy)
        mp.delenv("SPANMIX_FORCE_REFERENCE", raising=False)
        mp.delenv("SPANMIX_DISABLE_TRITON", raising=False)
        yield calls, mp


@check
def check_cuda_tensors_take_the_triton_path():
    x = make_inputs(1, 3, 4, 12, seed=10)
    with fake_gpu() as (calls, _):
        y = selective_scan(**x, delta_softplus=True)
        assert calls == [1]
        assert_close_scaled(y, selective_scan_ref(**x, delta_softplus=True), 1e-4, "dispatched y")
        x64 = {k: v.double() if v is not None else None for k, v in x.items()}
        assert selective_scan(**x64, delta_softplus=True).dtype == torch.float64  # float64: chunked
        assert calls == [1]


@check
def check_force_reference_wins_over_triton():
    x = make_inputs(1, 3, 4, 12, seed=10)
    expected = selective_scan_ref(**x, delta_softplus=True)
    with fake_gpu() as (calls, mp):
        mp.setenv("SPANMIX_FORCE_REFERENCE", "1")
        assert torch.equal(selective_scan(**x, delta_softplus=True), expected)
        mp.setenv("SPANMIX_FORCE_REFERENCE", "0")
        with reference_mode():
            assert torch.equal(selective_scan(**x, delta_softplus=True), expected)
        assert calls == []


@check
def check_disable_triton_and_cpu_tensors_stay_off_triton():
    x = make_inputs(1, 3, 4, 12, seed=10)
    with fake_gpu() as (calls, mp):
        mp.setenv("SPANMIX_DISABLE_TRITON", "1")
        selective_scan(**x, delta_softplus=True)
        mp.delenv("SPANMIX_DISABLE_TRITON")
        mp.setattr(importlib.import_module("spanmix.kernels.dispatch"), "is_cuda",
                   lambda t: t.device.type == "cuda")  # the real check
        selective_scan(**x, delta_softplus=True)
        assert calls == []


# ------------------------------------------------------------------------------------------------ tests

def test_interpreted(interpreted_results, interpreted_check):  # one test per check (see conftest.py)
    outcome = interpreted_results[interpreted_check]
    if outcome != "ok":
        pytest.fail(f"{interpreted_check} failed in the interpreter run:\n{outcome}", pytrace=False)


def test_importing_spanmix_does_not_import_the_triton_kernels():
    code = ("import sys, torch; before = 'triton' in sys.modules; import spanmix.kernels; "
            "assert before or 'triton' not in sys.modules, 'spanmix.kernels imported triton'; "
            "import spanmix.backbone; "
            "assert not [m for m in sys.modules if m.startswith('spanmix.kernels.triton_')], "
            "'kernels imported'")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
