"""selective_scan: the fused (numba) and chunked paths against the reference loop, outputs and every gradient."""
from __future__ import annotations

import faulthandler
import importlib
import os

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from spanmix.kernels import reference_mode, selective_scan, selective_scan_ref
from spanmix.kernels.selective_scan import numba_available, selective_scan_chunked, selective_scan_fused

# The module itself (``spanmix.kernels.selective_scan`` the attribute is the function of that name).
ss = importlib.import_module("spanmix.kernels.selective_scan")

needs_numba = pytest.mark.skipif(not numba_available(), reason="numba is not installed")
PATHS = [pytest.param(selective_scan_fused, id="fused", marks=needs_numba),
         pytest.param(selective_scan_chunked, id="chunked")]
NAMES = ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")


def make_inputs(b, d, n, length, *, D=True, z=True, bias=True, softplus=True, dtype=torch.float32, seed=0):
    """Mamba-like inputs: A < 0, dt > 0 (about 1e-2..2), u/B/C/z ~ randn. A dict keyed like the arguments."""
    g = torch.Generator().manual_seed(seed)

    def randn(*shape):
        return torch.randn(*shape, generator=g)

    def rand(*shape):
        return torch.rand(*shape, generator=g)

    if softplus:  # softplus(delta + bias) in about (0.02, 2)
        delta, delta_bias = randn(b, d, length) - 1.5, 0.5 * randn(d)
    else:  # used as is: keep dt > 0
        delta, delta_bias = 0.01 + 0.2 * rand(b, d, length), 0.1 * rand(d)
    A = -(0.1 + 4 * rand(d, n))
    A[:, 0] = -1.0  # and one S4D-Real-like column
    x = {"u": randn(b, d, length), "delta": delta, "A": A, "B": randn(b, n, length), "C": randn(b, n, length),
         "D": randn(d) if D else None, "z": randn(b, d, length) if z else None,
         "delta_bias": delta_bias if bias else None}
    return {k: (v.to(dtype) if v is not None else None) for k, v in x.items()}


def leaves(inputs):
    return {k: v.detach().clone().requires_grad_() if v is not None else None for k, v in inputs.items()}


def run_with_grads(fn, inputs, softplus, seed=1, **kw):
    """(y, h_last, {name: grad}) for a random cotangent on both y and h_last."""
    x = leaves(inputs)
    y, h = fn(**x, delta_softplus=softplus, return_last_state=True, **kw)
    g = torch.Generator().manual_seed(seed)
    gy = torch.randn(y.shape, generator=g).to(y.dtype)
    gh = torch.randn(h.shape, generator=g).to(h.dtype)
    used = [k for k in NAMES if x[k] is not None]
    grads = torch.autograd.grad((y.float() * gy.float()).sum() + (h * gh).sum(), [x[k] for k in used])
    return y, h, dict(zip(used, grads))


def assert_close_scaled(actual, expected, tol, what):
    """|a - e| <= tol * (|e| + max|e|): relative to the element and to the tensor's scale."""
    scale = expected.detach().abs().max().clamp_min(1e-6).item()
    torch.testing.assert_close(actual.detach().double(), expected.detach().double(), rtol=tol, atol=tol * scale,
                               msg=lambda m: f"{what}: {m}")


def check_against_ref(fn, inputs, softplus, tol=1e-4, **kw):
    y_r, h_r, g_r = run_with_grads(selective_scan_ref, inputs, softplus)
    y, h, g = run_with_grads(fn, inputs, softplus, **kw)
    assert y.dtype == inputs["u"].dtype and y.shape == inputs["u"].shape
    assert h.shape == (inputs["u"].shape[0], inputs["u"].shape[1], inputs["A"].shape[1])
    assert h.dtype == torch.float32
    assert_close_scaled(y, y_r, tol, "y")
    assert_close_scaled(h, h_r, tol, "h_last")
    assert g.keys() == g_r.keys()
    for k in g_r:
        assert g[k].dtype == inputs[k].dtype and g[k].shape == inputs[k].shape, k
        assert_close_scaled(g[k], g_r[k], tol, f"grad of {k}")


# ------------------------------------------------------------------------------------ against the reference

@pytest.mark.parametrize("fn", PATHS)
@settings(max_examples=20, deadline=None)
@given(b=st.integers(1, 2), d=st.integers(1, 8), n=st.integers(1, 8), length=st.integers(1, 80),
       D=st.booleans(), z=st.booleans(), bias=st.booleans(), softplus=st.booleans(),
       chunk=st.sampled_from([1, 5, 32]), seed=st.integers(0, 2**16))
def test_matches_reference_outputs_and_every_gradient(fn, b, d, n, length, D, z, bias, softplus, chunk, seed):
    inputs = make_inputs(b, d, n, length, D=D, z=z, bias=bias, softplus=softplus, seed=seed)
    kw = {"chunk_size": chunk} if fn is selective_scan_chunked else {}
    check_against_ref(fn, inputs, softplus, **kw)


@pytest.mark.parametrize("fn", PATHS)
def test_wide_state_and_several_chunks(fn):
    # N = 17: two 16-wide state blocks in the fused kernel; L = 150: 3 backward chunks of 64 (the last
    # partial) and 5 chunks of 32 in the chunked form.
    check_against_ref(fn, make_inputs(2, 6, 17, 150, seed=3), softplus=True)


@pytest.mark.parametrize("fn", PATHS)
def test_bf16_inputs(fn):
    inputs = make_inputs(2, 8, 8, 70, seed=4)
    inputs = {k: (v.to(torch.bfloat16) if k in ("u", "delta", "B", "C", "z") else v) for k, v in inputs.items()}
    # Both paths compute in float32 from the same bf16 values; what differs is bf16 rounding of y/grads.
    check_against_ref(fn, inputs, softplus=True, tol=2e-2)


@needs_numba
@pytest.mark.parametrize("b, d, n, length, options, threads", [
    (2, 80, 17, 200, {}, 2),  # two lane blocks of 64 channels (the second partial), N past one vector
    (1, 200, 16, 131, {}, 1),  # four blocks in two work items: one item walks two blocks per chunk
    (3, 24, 5, 70, {"z": False, "delta_bias": False}, 2),  # narrow: one block of 32 lanes, 8 past D
    (1, 64, 16, 129, {"D": False, "softplus": False}, 2),  # one step past two chunks
])
def test_fused_gradients_within_1e5_of_the_float64_reference(b, d, n, length, options, threads):
    """Every gradient of the fused kernel (float32 inside) within 1e-5 of the float64 reference,
    relative to each gradient's largest entry; shapes cross the backward's lane blocks, work items and
    chunk edges."""
    softplus = options.get("softplus", True)
    kw = {k.replace("delta_bias", "bias"): v for k, v in options.items() if k != "softplus"}
    inputs = make_inputs(b, d, n, length, softplus=softplus, seed=21, **kw)
    exact = {k: (v.double() if v is not None else None) for k, v in inputs.items()}
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(threads)
        y, h, g = run_with_grads(selective_scan_fused, inputs, softplus)
    finally:
        torch.set_num_threads(before)
    y_r, h_r, g_r = run_with_grads(selective_scan_ref, exact, softplus)
    assert_close_scaled(y, y_r, 1e-5, "y")
    assert g.keys() == g_r.keys()
    for k in g_r:
        assert_close_scaled(g[k], g_r[k], 1e-5, f"grad of {k}")


@needs_numba
def test_fused_meets_the_mamba_init_accuracy_target():
    b, d, n, length = 1, 64, 16, 1024
    g = torch.Generator().manual_seed(0)
    dt = torch.exp(torch.empty(b, d, length).uniform_(torch.log(torch.tensor(1e-3)).item(),
                                                      torch.log(torch.tensor(0.1)).item(), generator=g))
    delta = dt + torch.log(-torch.expm1(-dt))  # softplus^-1
    A = -torch.arange(1, n + 1, dtype=torch.float32).repeat(d, 1)
    u, B, C = torch.randn(b, d, length, generator=g), torch.randn(b, n, length, generator=g), \
        torch.randn(b, n, length, generator=g)
    with torch.no_grad():
        ref = selective_scan_ref(u, delta, A, B, C, delta_softplus=True)
        fast = selective_scan(u, delta, A, B, C, delta_softplus=True)
    assert (fast - ref).abs().max().item() < 1e-4


@needs_numba
def test_fused_same_result_with_one_or_two_threads():
    inputs = make_inputs(1, 8, 4, 90, seed=5)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = run_with_grads(selective_scan_fused, inputs, softplus=True)
        torch.set_num_threads(2)
        two = run_with_grads(selective_scan_fused, inputs, softplus=True)
    finally:
        torch.set_num_threads(before)
    torch.testing.assert_close(one[0], two[0])
    for k in one[2]:
        torch.testing.assert_close(one[2][k], two[2][k], rtol=1e-5, atol=1e-5)


@needs_numba
def test_fused_leaves_torch_thread_count_alone():
    # With numba's OpenMP layer (it shares libgomp with torch) a launch reset torch's thread count.
    inputs = make_inputs(1, 8, 4, 40, seed=6)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        run_with_grads(selective_scan_fused, inputs, softplus=True)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("fn", PATHS)
def test_gradient_of_some_inputs_only_and_no_grad(fn):
    x = make_inputs(2, 4, 3, 20, seed=6)
    u = x["u"].clone().requires_grad_()
    y = fn(u, x["delta"], x["A"], x["B"], x["C"], D=x["D"], z=x["z"], delta_bias=x["delta_bias"],
           delta_softplus=True)
    (g,) = torch.autograd.grad(y.sum(), [u])
    u_ref = x["u"].clone().requires_grad_()
    y_ref = selective_scan_ref(u_ref, x["delta"], x["A"], x["B"], x["C"], D=x["D"], z=x["z"],
                               delta_bias=x["delta_bias"], delta_softplus=True)
    (g_ref,) = torch.autograd.grad(y_ref.sum(), [u_ref])
    assert_close_scaled(g, g_ref, 1e-4, "grad of u")
    with torch.no_grad():
        y_ng = fn(**x, delta_softplus=True)
    assert not y_ng.requires_grad
    assert_close_scaled(y_ng, y_ref, 1e-4, "y without grad")


@needs_numba
def test_fused_backward_refuses_inputs_modified_in_place():
    # The kernel keeps numpy views of float32 inputs; autograd's version check must still fire.
    x = leaves(make_inputs(1, 2, 3, 9, seed=13))
    y = selective_scan_fused(**x, delta_softplus=True)
    with torch.no_grad():
        x["delta"].mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_float64_stays_float64():
    # float64 never goes through the float32 fused kernel: the dispatcher takes the chunked form.
    x = make_inputs(2, 3, 4, 40, dtype=torch.float64, seed=7)
    y, h = selective_scan(**x, delta_softplus=True, return_last_state=True)
    y_r, h_r = selective_scan_ref(**x, delta_softplus=True, return_last_state=True)
    assert y.dtype == h.dtype == torch.float64
    torch.testing.assert_close(y, y_r, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(h, h_r, rtol=1e-10, atol=1e-10)


def test_chunked_gradcheck_float64():
    x = leaves(make_inputs(1, 2, 3, 7, dtype=torch.float64, seed=8))
    used = [k for k in NAMES if x[k] is not None]

    def f(*tensors):
        kw = dict(zip(used, tensors))
        y, h = selective_scan_chunked(**kw, delta_softplus=True, return_last_state=True, chunk_size=3)
        return y, h

    assert torch.autograd.gradcheck(f, [x[k] for k in used])


# ------------------------------------------------------------------------------------------ the carried state

@pytest.mark.parametrize("fn", [*PATHS, pytest.param(selective_scan_ref, id="ref")])
def test_state_carries_across_a_split(fn):
    """Scan the first part, take its last state h, scan the rest from zero: the full scan's tail equals
    that scan plus h decayed through the tail, C_l · (prod_{s<=l} exp(dt_s A)) h."""
    x = make_inputs(2, 5, 6, 77, D=False, z=False, bias=False, softplus=False, seed=9)
    k = 45
    first = {n: (v[..., :k] if n in ("u", "delta", "B", "C") else v) for n, v in x.items()}
    rest = {n: (v[..., k:] if n in ("u", "delta", "B", "C") else v) for n, v in x.items()}
    with torch.no_grad():
        y_full = fn(**x)
        _, h_mid = fn(**first, return_last_state=True)
        y_rest = fn(**rest)
    decay = torch.exp(torch.cumsum(rest["delta"].unsqueeze(-1) * x["A"].unsqueeze(1), dim=2))  # (B, D, L-k, N)
    from_state = torch.einsum("bdln,bdn,bnl->bdl", decay, h_mid, rest["C"])
    assert_close_scaled(y_full[..., k:], y_rest + from_state, 1e-4, "tail")
    assert_close_scaled(y_full[..., :k], fn(**first), 1e-5, "head")


# ----------------------------------------------------------------------------------------------- dispatch

def test_reference_mode_routes_to_the_reference(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("a fast path ran in reference mode")

    x = make_inputs(1, 3, 4, 12, seed=10)
    expected = selective_scan_ref(**x, delta_softplus=True)
    monkeypatch.setattr(ss, "selective_scan_fused", forbidden)
    monkeypatch.setattr(ss, "selective_scan_chunked", forbidden)
    with reference_mode():
        assert torch.equal(selective_scan(**x, delta_softplus=True), expected)
    monkeypatch.setenv("SPANMIX_FORCE_REFERENCE", "1")
    assert torch.equal(selective_scan(**x, delta_softplus=True), expected)
    monkeypatch.setenv("SPANMIX_FORCE_REFERENCE", "0")
    with pytest.raises(AssertionError, match="fast path"):
        selective_scan(**x, delta_softplus=True)


def test_dispatch_picks_fused_on_cpu_and_chunked_without_numba(monkeypatch):
    calls = []

    def spy(name, real):
        def wrapped(*args, **kwargs):
            calls.append(name)
            return real(*args, **kwargs)
        return wrapped

    monkeypatch.setattr(ss, "selective_scan_fused", spy("fused", ss.selective_scan_fused))
    monkeypatch.setattr(ss, "selective_scan_chunked", spy("chunked", ss.selective_scan_chunked))
    x = make_inputs(1, 2, 3, 10, seed=11)
    with reference_mode(False):
        selective_scan(**x)
        assert calls == (["fused"] if numba_available() else ["chunked"])
        monkeypatch.setenv("SPANMIX_DISABLE_NUMBA", "1")
        selective_scan(**x)
        assert calls[-1] == "chunked"


@needs_numba
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_falls_back_instead_of_aborting():
    # numba's OpenMP pool (if a user selects it) is not fork-safe: a child of a process that ran it would
    # abort in it; the default workqueue pool must also work in a forked child.
    x = make_inputs(1, 3, 4, 20, seed=12)
    with torch.no_grad():
        expected = selective_scan_fused(**x, delta_softplus=True)  # starts numba's thread pool here
    pid = os.fork()
    if pid == 0:
        code = 3
        try:
            faulthandler.dump_traceback_later(30, exit=True)  # never hang the test session
            torch.set_num_threads(1)  # as DataLoader workers do: torch's own OpenMP pool is not fork-safe either
            with torch.no_grad():
                y = selective_scan(**x, delta_softplus=True)
            code = 0 if torch.allclose(y, expected, rtol=1e-4, atol=1e-5) else 2
            if code == 0 and ss._forked_after_use():
                try:
                    selective_scan_fused(**x)
                    code = 4
                except RuntimeError:
                    pass
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


# -------------------------------------------------------------------------------------------- bad input

def _bad(name):
    x = make_inputs(2, 4, 3, 10)
    bad = {
        "B_wrong_N": ("B", torch.randn(2, 5, 10), r"expected B of shape \(batch, d_state, length\) = \(2, 3, 10\), got \(2, 5, 10\)"),
        "C_wrong_L": ("C", torch.randn(2, 3, 9), r"expected C of shape \(batch, d_state, length\) = \(2, 3, 10\)"),
        "u_rank_2": ("u", torch.randn(4, 10), r"expected u of shape \(batch, d_inner, length\), got \(4, 10\)"),
        "A_wrong_D": ("A", torch.randn(5, 3), r"expected A of shape \(d_inner, d_state\) = \(4, N\), got \(5, 3\)"),
        "A_rank_1": ("A", torch.randn(4), r"expected A of shape \(d_inner, d_state\)"),
        "delta_wrong": ("delta", torch.randn(2, 4, 11), r"expected delta of shape \(batch, d_inner, length\) = \(2, 4, 10\)"),
        "z_wrong": ("z", torch.randn(1, 4, 10), r"expected z of shape \(batch, d_inner, length\) = \(2, 4, 10\)"),
        "D_wrong": ("D", torch.randn(3), r"expected D of shape \(d_inner,\) = \(4,\), got \(3,\)"),
        "bias_wrong": ("delta_bias", torch.randn(4, 1), r"expected delta_bias of shape \(d_inner,\) = \(4,\)"),
        "empty": ("u", torch.randn(2, 4, 0), r"length >= 1"),
        "complex_A": ("A", torch.randn(4, 3, dtype=torch.complex64), r"real floating-point A"),
    }[name]
    x[bad[0]] = bad[1]
    return x, bad[2]


@pytest.mark.parametrize("fn", [selective_scan, selective_scan_ref, selective_scan_chunked, selective_scan_fused],
                         ids=["dispatch", "ref", "chunked", "fused"])
@pytest.mark.parametrize("case", ["B_wrong_N", "C_wrong_L", "u_rank_2", "A_wrong_D", "A_rank_1", "delta_wrong",
                                  "z_wrong", "D_wrong", "bias_wrong", "empty", "complex_A"])
def test_bad_shapes_raise_one_clear_error(fn, case):
    x, message = _bad(case)
    with pytest.raises(ValueError, match=message):
        fn(**x)


def test_fused_refuses_non_cpu_tensors():
    x = {k: (v.to("meta") if v is not None else None) for k, v in make_inputs(1, 2, 3, 4).items()}
    with pytest.raises(ValueError, match="expected CPU tensors"):
        selective_scan_fused(**x)
