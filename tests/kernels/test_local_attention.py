"""local_attention (blocked SDPA) against local_attention_ref (dense mask + explicit softmax)."""
import importlib

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from spanmix.kernels import local_attention, local_attention_ref, reference_mode

la_module = importlib.import_module("spanmix.kernels.local_attention")

SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def problems(draw):
    """Small random problems: L not a multiple of the block, L < window, blocks smaller than the window."""
    B = draw(st.integers(1, 2))
    H = draw(st.integers(1, 3))
    L = draw(st.integers(1, 70))
    d = draw(st.integers(1, 8))
    window = draw(st.integers(1, 20))
    causal = draw(st.booleans())
    block_size = draw(st.one_of(st.none(), st.integers(1, 24)))
    padded = draw(st.booleans())
    seed = draw(st.integers(0, 2**31 - 1))
    return B, H, L, d, window, causal, block_size, padded, seed


def make(B, H, L, d, seed, dtype, padded):
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(B, H, L, d, generator=g, dtype=torch.float64).to(dtype) for _ in range(3))
    kpm = None
    if padded:
        kpm = torch.rand(B, L, generator=g) < 0.6
        kpm[0, : max(1, L // 3)] = False  # leading padding: early causal queries see no key at all
    return q, k, v, kpm


def run_both(q, k, v, window, causal, kpm, block_size):
    """Outputs and gradients (w.r.t. q, k, v) of the fast path and of the fp64 reference."""
    qs = [t.detach().clone().requires_grad_() for t in (q, k, v)]
    qr = [t.detach().double().requires_grad_() for t in (q, k, v)]
    out = local_attention(*qs, window, causal, kpm, block_size=block_size)
    ref = local_attention_ref(*qr, window, causal, kpm)
    gout = torch.randn(out.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    gout = gout.to(out.dtype)  # the same (rounded) upstream gradient for both
    grads = torch.autograd.grad(out, qs, gout)
    grads_ref = torch.autograd.grad(ref, qr, gout.double())
    return out, ref, grads, grads_ref


@SETTINGS
@given(problems())
def test_matches_reference_fp32(p):
    B, H, L, d, window, causal, block_size, padded, seed = p
    q, k, v, kpm = make(B, H, L, d, seed, torch.float32, padded)
    out, ref, grads, grads_ref = run_both(q, k, v, window, causal, kpm, block_size)
    assert out.shape == (B, H, L, d) and out.dtype == torch.float32
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-5)
    for name, ga, gr in zip("qkv", grads, grads_ref):
        assert torch.isfinite(ga).all(), name
        torch.testing.assert_close(ga.double(), gr, rtol=1e-4, atol=1e-4, msg=f"grad {name}")


@SETTINGS
@given(problems())
def test_matches_reference_fp64_tight(p):
    B, H, L, d, window, causal, block_size, padded, seed = p
    q, k, v, kpm = make(B, H, L, d, seed, torch.float64, padded)
    out, ref, grads, grads_ref = run_both(q, k, v, window, causal, kpm, block_size)
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-10)
    for ga, gr in zip(grads, grads_ref):
        torch.testing.assert_close(ga, gr, rtol=1e-9, atol=1e-9)


@settings(max_examples=10, deadline=None)
@given(problems())
def test_bf16_close_to_reference(p):
    B, H, L, d, window, causal, block_size, padded, seed = p
    q, k, v, kpm = make(B, H, L, d, seed, torch.bfloat16, padded)
    out, ref, grads, grads_ref = run_both(q, k, v, window, causal, kpm, block_size)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.double(), ref, rtol=3e-2, atol=3e-2)
    for ga, gr in zip(grads, grads_ref):
        torch.testing.assert_close(ga.double(), gr, rtol=5e-2, atol=5e-2)


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize(
    "L, window, block_size",
    [(1, 1, None), (1, 5, None), (7, 20, 3), (16, 4, 4), (17, 4, 4), (15, 4, 4), (40, 9, 8), (33, 1, 5),
     (50, 12, 50), (50, 12, 80), (64, 16, None)],
)
def test_edge_shapes(L, window, block_size, causal):
    """L = 1, L < window, L a multiple of the block or not, block >= L, window 1 (fp64, exact-ish)."""
    for padded in (False, True):
        q, k, v, kpm = make(2, 2, L, 3, seed=L * 31 + window, dtype=torch.float64, padded=padded)
        out, ref, grads, grads_ref = run_both(q, k, v, window, causal, kpm, block_size)
        torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-10)
        for ga, gr in zip(grads, grads_ref):
            torch.testing.assert_close(ga, gr, rtol=1e-9, atol=1e-9)


def test_default_block_on_longer_sequence():
    """The default block (>= 64) with several blocks, a ragged tail and both directions."""
    for causal in (True, False):
        for window, L in ((5, 300), (64, 200), (100, 257)):
            q, k, v, kpm = make(2, 2, L, 8, seed=window + L, dtype=torch.float32, padded=True)
            out, ref, grads, grads_ref = run_both(q, k, v, window, causal, kpm, None)
            torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-5)
            for ga, gr in zip(grads, grads_ref):
                torch.testing.assert_close(ga.double(), gr, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("fn", [local_attention, local_attention_ref], ids=["fast", "ref"])
def test_fully_masked_rows_are_zero_not_nan(fn, causal):
    B, H, L, d, window = 2, 2, 23, 4, 3
    q, k, v, _ = make(B, H, L, d, seed=3, dtype=torch.float32, padded=False)
    kpm = torch.ones(B, L, dtype=torch.bool)
    kpm[0] = False  # batch 0: every key is padding
    kpm[1, :10] = False  # batch 1: queries 0..9 (causal) / 0..7 (non-causal) have no visible key
    q, k, v = (t.requires_grad_() for t in (q, k, v))
    out = fn(q, k, v, window, causal, kpm)
    assert torch.isfinite(out).all()
    assert (out[0] == 0).all()
    empty_upto = 10 if causal else 10 - (window - 1)
    assert (out[1, :, :empty_upto] == 0).all()
    assert (out[1, :, empty_upto:].abs().sum(-1) > 0).all()
    out.square().sum().backward()
    for t in (q, k, v):
        assert torch.isfinite(t.grad).all()
    assert (q.grad[0] == 0).all() and (q.grad[1, :, :empty_upto] == 0).all()
    assert (k.grad[1, :, :10] == 0).all() and (v.grad[1, :, :10] == 0).all()  # padded keys get no gradient


@pytest.mark.parametrize("block_size", [None, 4, 7])
def test_causal_output_ignores_future_and_out_of_window_inputs(block_size):
    """Output at t depends only on inputs at t - w < j <= t: perturbation and gradient checks."""
    B, H, L, d, window = 1, 2, 40, 4, 6
    q, k, v, _ = make(B, H, L, d, seed=11, dtype=torch.float64, padded=False)
    base = local_attention(q, k, v, window, block_size=block_size)
    for t in (0, 5, 17, 39):
        q2, k2, v2 = q.clone(), k.clone(), v.clone()
        for x in (q2, k2, v2):
            x[:, :, t + 1:] += 10.0 * torch.randn_like(x[:, :, t + 1:])  # the future
            x[:, :, : max(0, t - window + 1)] -= 7.0  # the past beyond the window
        pert = local_attention(q2, k2, v2, window, block_size=block_size)
        torch.testing.assert_close(pert[:, :, t], base[:, :, t], rtol=0, atol=1e-12)
        # The same through autograd: d out[t] / d inputs is zero outside (t - w, t].
        xs = [x.clone().requires_grad_() for x in (q, k, v)]
        local_attention(*xs, window, block_size=block_size)[:, :, t].sum().backward()
        for x in xs:
            visible = torch.zeros(L, dtype=torch.bool)
            visible[max(0, t - window + 1): t + 1] = True
            assert (x.grad[:, :, ~visible] == 0).all()
        if t > 0:  # with more than one visible key, it does depend on the query at t
            assert (xs[0].grad[:, :, t] != 0).any()


def test_noncausal_window_is_symmetric():
    L, window = 30, 4
    q, k, v, _ = make(1, 1, L, 4, seed=5, dtype=torch.float64, padded=False)
    ks = k.clone().requires_grad_()
    local_attention(q, ks, v, window, causal=False, block_size=5)[:, :, 12].sum().backward()
    nonzero = (ks.grad[0, 0].abs().sum(-1) != 0).nonzero().flatten().tolist()
    assert nonzero == list(range(12 - window + 1, 12 + window))


def test_window_longer_than_sequence_is_full_attention():
    q, k, v, _ = make(2, 2, 9, 4, seed=2, dtype=torch.float64, padded=False)
    full = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(local_attention(q, k, v, 50), full)
    full_nc = torch.nn.functional.scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(local_attention(q, k, v, 50, causal=False), full_nc)


def test_window_one_causal_returns_v():
    q, k, v, _ = make(1, 2, 13, 3, seed=4, dtype=torch.float64, padded=False)
    torch.testing.assert_close(local_attention(q, k, v, 1), v)


def test_scale_is_used():
    q, k, v, _ = make(1, 1, 20, 4, seed=6, dtype=torch.float64, padded=False)
    out = local_attention(q, k, v, 5, scale=0.3, block_size=3)
    torch.testing.assert_close(out, local_attention_ref(q, k, v, 5, scale=0.3))
    torch.testing.assert_close(out, local_attention(q * 0.6, k, v, 5, scale=0.5))
    assert not torch.allclose(out, local_attention(q, k, v, 5))


def test_reference_mode_routes_to_reference(monkeypatch):
    q, k, v, _ = make(1, 2, 17, 4, seed=8, dtype=torch.float32, padded=False)
    calls = []
    real_fast = la_module._local_attention_blocked

    def spy(*args, **kwargs):
        calls.append(1)
        return real_fast(*args, **kwargs)

    monkeypatch.setattr(la_module, "_local_attention_blocked", spy)
    local_attention(q, k, v, 4)
    assert calls == [1]
    with reference_mode():
        out = local_attention(q, k, v, 4)
    assert calls == [1]  # the fast path was not called
    torch.testing.assert_close(out, local_attention_ref(q, k, v, 4), rtol=0, atol=0)
    monkeypatch.setenv("SPANMIX_FORCE_REFERENCE", "1")
    local_attention(q, k, v, 4)
    assert calls == [1]
    with reference_mode(False):  # forbids the reference even with the variable set
        local_attention(q, k, v, 4)
    assert calls == [1, 1]


class _BiggestStorage(TorchDispatchMode):
    """Records the largest storage (bytes) of any tensor an aten op returns, forward and backward."""

    def __init__(self):
        super().__init__()
        self.biggest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                self.biggest = max(self.biggest, t.untyped_storage().nbytes())
        return out


@pytest.mark.parametrize("causal", [True, False])
def test_blocked_path_memory_is_linear_in_L(causal):
    """No tensor anywhere near L×L (forward and backward): here an L×L bool mask alone would be 4 MiB."""
    L, w, d = 2048, 16, 8
    q, k, v = (torch.randn(1, 1, L, d, requires_grad=True) for _ in range(3))
    kpm = torch.ones(1, L, dtype=torch.bool)
    kpm[0, -5:] = False
    with _BiggestStorage() as probe:
        local_attention(q, k, v, w, causal, kpm).sum().backward()
    # Largest legitimate tensors: the (nb, 64, slab) float mask / scores ~ L·192·4 bytes = 1.5 MiB.
    assert probe.biggest <= L * 192 * 4, probe.biggest
    with _BiggestStorage() as probe_ref:
        local_attention_ref(q, k, v, w, causal, kpm)
    assert probe_ref.biggest >= L * L  # the probe does see an L×L allocation when there is one


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(window=0), "window"),
        (dict(window=-3), "window"),
        (dict(window=2.0), "window"),
        (dict(q=torch.zeros(2, 5, 4)), "rank 4"),
        (dict(k=torch.zeros(1, 2, 5, 4, 1)), "rank 4"),
        (dict(v=torch.zeros(1, 2, 6, 4)), "same shape"),
        (dict(key_padding_mask=torch.ones(1, 6, dtype=torch.bool)), "key_padding_mask"),
        (dict(key_padding_mask=torch.ones(1, 5)), "bool"),
        (dict(q=torch.zeros(1, 2, 0, 4), k=torch.zeros(1, 2, 0, 4), v=torch.zeros(1, 2, 0, 4)), "L"),
    ],
)
@pytest.mark.parametrize("fn", [local_attention, local_attention_ref], ids=["fast", "ref"])
def test_bad_input_raises_clear_value_error(fn, kwargs, match):
    args = dict(q=torch.zeros(1, 2, 5, 4), k=torch.zeros(1, 2, 5, 4), v=torch.zeros(1, 2, 5, 4), window=3)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        fn(**args)


def test_bad_block_size_raises():
    q = torch.zeros(1, 1, 5, 2)
    with pytest.raises(ValueError, match="block_size"):
        local_attention(q, q, q, 2, block_size=0)
