"""fft_conv (zero-padded rfft) against fft_conv_ref (direct causal conv1d)."""
import importlib

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from spanmix.kernels import fft_conv, fft_conv_ref, reference_mode

fc_module = importlib.import_module("spanmix.kernels.fft_conv")

SETTINGS = settings(max_examples=20, deadline=None)


@st.composite
def problems(draw):
    B = draw(st.integers(1, 2))
    C = draw(st.integers(1, 4))
    L = draw(st.integers(1, 70))
    Lk = draw(st.integers(1, L + 10))  # Lk < L, = L, and > L (truncated)
    with_D = draw(st.booleans())
    seed = draw(st.integers(0, 2**31 - 1))
    return B, C, L, Lk, with_D, seed


def make(B, C, L, Lk, with_D, seed, dtype):
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(B, C, L, generator=g, dtype=torch.float64).to(dtype)
    k = (torch.randn(C, Lk, generator=g, dtype=torch.float64) / Lk**0.5).to(dtype)
    D = torch.randn(C, generator=g, dtype=torch.float64).to(dtype) if with_D else None
    return u, k, D


def brute_force(u, k, D):
    """The defining sum, term by term."""
    B, C, L = u.shape
    y = torch.zeros(B, C, L, dtype=torch.float64)
    for t in range(L):
        for s in range(min(t + 1, k.shape[1])):
            y[:, :, t] += k[:, s].double() * u[:, :, t - s].double()
    if D is not None:
        y += D.double()[:, None] * u.double()
    return y


def run_both(u, k, D):
    """Outputs and gradients (w.r.t. u, k, D) of the fast path and of the fp64 reference."""
    xs = [t.detach().clone().requires_grad_() for t in (u, k, D) if t is not None]
    xr = [t.detach().double().requires_grad_() for t in (u, k, D) if t is not None]
    out = fft_conv(*xs) if D is not None else fft_conv(xs[0], xs[1])
    ref = fft_conv_ref(*xr) if D is not None else fft_conv_ref(xr[0], xr[1])
    gout = torch.randn(out.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    gout = gout.to(out.dtype)  # the same (rounded) upstream gradient for both
    grads = torch.autograd.grad(out, xs, gout)
    grads_ref = torch.autograd.grad(ref, xr, gout.double())
    return out, ref, grads, grads_ref


@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (2, 3, 7, 3), (1, 2, 9, 9), (2, 2, 6, 11)])
def test_reference_is_the_defining_sum(shape):
    for with_D in (False, True):
        u, k, D = make(*shape, with_D=with_D, seed=0, dtype=torch.float64)
        torch.testing.assert_close(fft_conv_ref(u, k, D), brute_force(u, k, D))


@SETTINGS
@given(problems())
def test_matches_reference_fp64_tight(p):
    B, C, L, Lk, with_D, seed = p
    u, k, D = make(B, C, L, Lk, with_D, seed, torch.float64)
    out, ref, grads, grads_ref = run_both(u, k, D)
    assert out.shape == (B, C, L) and out.dtype == torch.float64
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-10)
    for ga, gr in zip(grads, grads_ref):
        torch.testing.assert_close(ga, gr, rtol=1e-10, atol=1e-10)


@SETTINGS
@given(problems())
def test_matches_reference_fp32(p):
    B, C, L, Lk, with_D, seed = p
    u, k, D = make(B, C, L, Lk, with_D, seed, torch.float32)
    out, ref, grads, grads_ref = run_both(u, k, D)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-5)
    for ga, gr in zip(grads, grads_ref):
        torch.testing.assert_close(ga.double(), gr, rtol=1e-5, atol=1e-5)


@settings(max_examples=10, deadline=None)
@given(problems())
def test_bf16_computed_in_fp32_and_cast_back(p):
    B, C, L, Lk, with_D, seed = p
    u, k, D = make(B, C, L, Lk, with_D, seed, torch.bfloat16)
    out, ref, grads, grads_ref = run_both(u, k, D)
    assert out.dtype == torch.bfloat16 and all(g.dtype == torch.bfloat16 for g in grads)
    # Computed in fp32 from the bf16 inputs: only the final rounding to bf16 (2^-8 relative) remains.
    torch.testing.assert_close(out.double(), ref, rtol=1e-2, atol=1e-2)
    assert (out.double() - ref).abs().max() <= ref.abs().max() * 2**-8 + 1e-6
    for ga, gr in zip(grads, grads_ref):
        torch.testing.assert_close(ga.double(), gr, rtol=2e-2, atol=2e-2)


def test_mixed_dtypes_return_the_dtype_of_u():
    u, k, D = make(2, 3, 20, 5, True, 3, torch.float64)
    out = fft_conv(u.bfloat16(), k.float(), D.float())
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.double(), fft_conv_ref(u.bfloat16().double(), k.float(), D.float()),
                               rtol=1e-2, atol=1e-2)


def test_long_kernel_is_truncated_to_L():
    u, k, D = make(2, 3, 16, 40, True, 4, torch.float64)
    torch.testing.assert_close(fft_conv(u, k, D), fft_conv(u, k[:, :16], D))
    torch.testing.assert_close(fft_conv(u, k, D), fft_conv_ref(u, k, D))
    kk = k.clone().requires_grad_()
    fft_conv(u, kk).sum().backward()
    assert (kk.grad[:, 16:] == 0).all()  # unused taps get no gradient


def test_short_kernel_means_zero_taps():
    u, k, _ = make(1, 2, 30, 4, False, 5, torch.float64)
    k_long = torch.cat([k, torch.zeros(2, 26, dtype=k.dtype)], dim=1)
    torch.testing.assert_close(fft_conv(u, k), fft_conv(u, k_long))


def test_impulse_response_is_the_kernel():
    C, L = 3, 50
    _, k, D = make(1, C, L, L, True, 6, torch.float32)
    u = torch.zeros(1, C, L)
    u[..., 0] = 1.0
    torch.testing.assert_close(fft_conv(u, k), k[None], rtol=0, atol=1e-6)
    torch.testing.assert_close(fft_conv(u, k, D)[..., 0], k[None, :, 0] + D[None], rtol=0, atol=1e-6)


def test_output_at_t_ignores_future_inputs():
    """Causality: perturbing u at positions > t leaves y[..., :t+1] unchanged (no circular wrap-around)."""
    B, C, L = 2, 3, 64
    u, k, D = make(B, C, L, L, True, 7, torch.float64)
    base = fft_conv(u, k, D)
    for t in (0, 1, 31, 62):
        u2 = u.clone()
        u2[..., t + 1:] += 100.0 * torch.randn_like(u2[..., t + 1:])
        torch.testing.assert_close(fft_conv(u2, k, D)[..., : t + 1], base[..., : t + 1], rtol=0, atol=1e-9)
        uu = u.clone().requires_grad_()
        fft_conv(uu, k, D)[..., t].sum().backward()
        assert uu.grad[..., t + 1:].abs().max() < 1e-12


@pytest.mark.parametrize("with_D", [False, True])
def test_channel_groups_match_single_group(monkeypatch, with_D):
    """Long problems run in channel groups (in place when no gradient is needed); force tiny groups."""
    u, k, D = make(2, 7, 33, 20, with_D, 8, torch.float64)
    whole = fft_conv(u, k, D)
    monkeypatch.setattr(fc_module, "_GROUP_ELEMS", 100)  # 1 channel per group at n = 54
    monkeypatch.setattr(fc_module, "_MIN_GROUP", 1)
    with torch.no_grad():  # in-place inference path
        torch.testing.assert_close(fft_conv(u, k, D), whole, rtol=0, atol=1e-12)
        out16 = fft_conv(u.bfloat16(), k, D)
        assert out16.dtype == torch.bfloat16
        torch.testing.assert_close(out16.double(), fft_conv_ref(u.bfloat16().double(), k, D), rtol=1e-2,
                                   atol=1e-2)
    uu = u.clone().requires_grad_()  # autograd path
    grouped = fft_conv(uu, k, D)
    torch.testing.assert_close(grouped, whole, rtol=0, atol=1e-12)
    grouped.square().sum().backward()
    uw = u.clone().requires_grad_()
    fft_conv_ref(uw, k, D).square().sum().backward()
    torch.testing.assert_close(uu.grad, uw.grad)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 11, 13, 49, 97, 121, 1000, 4095, 131073])
def test_next_fast_len(n):
    m = fc_module._next_fast_len(n)
    assert m >= n
    r = m
    for f in (2, 3, 5):
        while r % f == 0:
            r //= f
    assert r == 1
    assert all(not _smooth(x) for x in range(n, m))


def _smooth(x):
    for f in (2, 3, 5):
        while x % f == 0:
            x //= f
    return x == 1


def test_reference_mode_routes_to_reference(monkeypatch):
    u, k, D = make(1, 2, 17, 9, True, 9, torch.float32)
    calls = []
    real_fast = fc_module._fft_conv_fast

    def spy(*args):
        calls.append(1)
        return real_fast(*args)

    monkeypatch.setattr(fc_module, "_fft_conv_fast", spy)
    fft_conv(u, k, D)
    assert calls == [1]
    with reference_mode():
        out = fft_conv(u, k, D)
    assert calls == [1]  # the fast path was not called
    torch.testing.assert_close(out, fft_conv_ref(u, k, D), rtol=0, atol=0)
    monkeypatch.setenv("SPANMIX_FORCE_REFERENCE", "1")
    fft_conv(u, k, D)
    assert calls == [1]
    with reference_mode(False):
        fft_conv(u, k, D)
    assert calls == [1, 1]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(u=torch.zeros(3, 8)), "u must have rank 3"),
        (dict(k=torch.zeros(8)), "k must have rank 2"),
        (dict(k=torch.zeros(2, 4)), r"k must have shape \(C, Lk\) with C = 3"),
        (dict(k=torch.zeros(3, 0)), "kernel length"),
        (dict(u=torch.zeros(1, 3, 0)), "sequence length"),
        (dict(D=torch.zeros(2)), r"D must have shape \(C,\)"),
        (dict(D=torch.zeros(3, 1)), r"D must have shape \(C,\)"),
        (dict(u=torch.zeros(1, 3, 8, dtype=torch.long)), "floating"),
    ],
)
@pytest.mark.parametrize("fn", [fft_conv, fft_conv_ref], ids=["fast", "ref"])
def test_bad_input_raises_clear_value_error(fn, kwargs, match):
    args = dict(u=torch.zeros(1, 3, 8), k=torch.zeros(3, 4), D=None)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        fn(**args)


@pytest.mark.parametrize("with_D", [False, True])
@pytest.mark.parametrize("Lk", [5, 33, 50])
def test_cached_kernel_spectrum_gives_the_same_result(monkeypatch, with_D, Lk):
    from spanmix.kernels import kernel_spectrum

    u, k, D = make(2, 7, 33, Lk, with_D, 10, torch.float64)
    spec = kernel_spectrum(k, 33)
    assert spec.shape == (7, fc_module.fft_size(33, Lk) // 2 + 1)
    uu = u.clone().requires_grad_()  # autograd through u is kept with a cached spectrum
    out = fft_conv(uu, k, D, k_spec=spec)
    torch.testing.assert_close(out, fft_conv_ref(u, k, D), rtol=1e-10, atol=1e-10)
    out.square().sum().backward()
    uw = u.clone().requires_grad_()
    fft_conv_ref(uw, k, D).square().sum().backward()
    torch.testing.assert_close(uu.grad, uw.grad, rtol=1e-10, atol=1e-10)
    monkeypatch.setattr(fc_module, "_GROUP_ELEMS", 100)  # the in-place grouped inference path
    monkeypatch.setattr(fc_module, "_MIN_GROUP", 1)
    with torch.no_grad():
        torch.testing.assert_close(fft_conv(u, k, D, k_spec=spec), fft_conv_ref(u, k, D), rtol=1e-10, atol=1e-10)


def test_bad_kernel_spectrum_raises():
    from spanmix.kernels import kernel_spectrum

    u, k, _ = make(1, 3, 20, 6, False, 11, torch.float32)
    with pytest.raises(ValueError, match="k_spec must be kernel_spectrum"):
        fft_conv(u, k, k_spec=kernel_spectrum(k, 40))  # made for another length
    with pytest.raises(ValueError, match="no gradient to k"):
        fft_conv(u, k.clone().requires_grad_(), k_spec=kernel_spectrum(k, 20))
