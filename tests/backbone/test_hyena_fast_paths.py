"""Hyena's fast paths against their references: the channels-last short conv and the whole operator
(outputs and every gradient), in float64 (tight) and float32 (1e-5 relative)."""
from __future__ import annotations

import importlib

import pytest
import torch

from spanmix.backbone.mixers.depthwise import causal_depthwise_conv, depthwise_conv_ref
from spanmix.backbone.mixers.hyena import Hyena

TOL = {torch.float64: 1e-10, torch.float32: 1e-5}


def _short_conv_both(x, w, b):
    xs = [t.detach().clone().requires_grad_() for t in (x, w, b) if t is not None]
    xr = [t.detach().double().requires_grad_() for t in (x, w, b) if t is not None]
    bias, bias_r = (xs[2], xr[2]) if b is not None else (None, None)
    y = causal_depthwise_conv(xs[0], xs[1], bias)
    y_ref = depthwise_conv_ref(xr[0].transpose(1, 2), xr[1], bias_r, left=w.shape[-1] - 1).transpose(1, 2)
    g = torch.randn(y.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    return y, y_ref, torch.autograd.grad(y, xs, g.to(y.dtype)), torch.autograd.grad(y_ref, xr, g)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("k, length", [(1, 5), (2, 1), (3, 2), (3, 40), (4, 17)])
@pytest.mark.parametrize("with_bias", [False, True])
def test_short_conv_matches_reference(dtype, k, length, with_bias):
    g = torch.Generator().manual_seed(k * 100 + length)
    x = torch.randn(2, length, 6, generator=g, dtype=torch.float64).to(dtype)
    w = torch.randn(6, 1, k, generator=g, dtype=torch.float64).to(dtype)
    b = torch.randn(6, generator=g, dtype=torch.float64).to(dtype) if with_bias else None
    y, y_ref, grads, grads_ref = _short_conv_both(x, w, b)
    assert y.shape == (2, length, 6) and y.dtype == dtype
    tol = TOL[dtype]
    torch.testing.assert_close(y.double(), y_ref, rtol=tol, atol=tol)
    for ga, gr in zip(grads, grads_ref):
        torch.testing.assert_close(ga.double(), gr, rtol=tol, atol=tol)


def test_short_conv_matches_conv1d_and_keeps_bf16():
    x = torch.randn(1, 30, 5)
    conv = torch.nn.Conv1d(5, 5, 3, groups=5, padding=2)
    expected = conv(x.transpose(1, 2))[..., :30].transpose(1, 2)
    torch.testing.assert_close(causal_depthwise_conv(x, conv.weight, conv.bias), expected, rtol=1e-5, atol=1e-6)
    y16 = causal_depthwise_conv(x.bfloat16(), conv.weight, conv.bias)
    assert y16.dtype == torch.bfloat16
    torch.testing.assert_close(y16.float(), expected, rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("layout", ["official", "paper"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("masked", [False, True])
def test_hyena_forward_and_all_gradients_match_reference(layout, dtype, masked):
    torch.manual_seed(0)
    m = Hyena(8, order=3, emb_dim=5, max_len=16, layout=layout, filter_freq=10.0).to(dtype).eval()
    x = torch.randn(2, 21, 8, dtype=dtype)  # longer than max_len: the filter is capped
    mask = None
    if masked:
        mask = torch.ones(2, 21, dtype=torch.bool)
        mask[1, 15:] = False
    params = [p for p in m.parameters() if p.requires_grad]

    def run(fn):
        xx = x.clone().requires_grad_()
        y = fn(xx, mask)
        gy = torch.randn(y.shape, generator=torch.Generator().manual_seed(3), dtype=dtype)
        return y, torch.autograd.grad(y, [xx, *params], gy)

    y, grads = run(m)
    y_ref, grads_ref = run(m.reference)
    tol = TOL[dtype]
    scale = y_ref.abs().max().item()
    torch.testing.assert_close(y, y_ref, rtol=tol, atol=tol * scale)
    for (name, _), ga, gr in zip([("x", None), *m.named_parameters()], grads, grads_ref):
        torch.testing.assert_close(ga, gr, rtol=tol, atol=tol * gr.abs().max().item(), msg=lambda s: f"{name}: {s}")


def test_no_grad_caches_filters_until_the_filter_changes(monkeypatch):
    import spanmix.backbone.mixers.depthwise as dw

    monkeypatch.setattr(dw, "_CHUNK", 8)  # the in-place short conv of the no-grad path, in 3 chunks
    torch.manual_seed(0)
    m = Hyena(8, order=2, emb_dim=5, max_len=32, layout="official").eval()
    x = torch.randn(2, 20, 8)
    expected = m.reference(x)
    calls = []
    real = m.filter.forward
    monkeypatch.setattr(m.filter, "forward", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    with torch.no_grad():
        torch.testing.assert_close(m(x), expected, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(m(x), expected, rtol=1e-5, atol=1e-6)
        assert len(calls) == 1  # the second call used the cached filters and spectra
        m.filter.freq.mul_(1.5)  # an in-place change, as an optimiser step makes
        changed = m(x)
        assert len(calls) == 2
    torch.testing.assert_close(changed, m.reference(x), rtol=1e-5, atol=1e-6)
    assert not torch.allclose(changed, expected)
    assert not any("cache" in k for k in m.state_dict())
    y = m(x)  # with autograd: no cache, gradients reach the filter
    y.sum().backward()
    assert m.filter.freq.grad is not None and m._cache is None


@pytest.mark.parametrize("length", [5, 40, 64])
def test_short_conv_in_place_equals_out_of_place(monkeypatch, length):
    import spanmix.backbone.mixers.depthwise as dw

    monkeypatch.setattr(dw, "_CHUNK", 8)  # several chunks, the last one short when length is not a multiple
    x = torch.randn(2, length, 6, dtype=torch.float64)
    w, b = torch.randn(6, 1, 3, dtype=torch.float64), torch.randn(6, dtype=torch.float64)
    expected = depthwise_conv_ref(x.transpose(1, 2), w, b, left=2).transpose(1, 2)
    xx = x.clone()
    with torch.no_grad():
        y = causal_depthwise_conv(xx, w, b, inplace=True)
    torch.testing.assert_close(y, expected, rtol=1e-12, atol=1e-12)
    if length > 8:
        assert y.data_ptr() == xx.data_ptr()  # no second activation
    xg = x.clone().requires_grad_()  # with autograd the input is left alone
    y = causal_depthwise_conv(xg, w, b, inplace=True)
    torch.testing.assert_close(y, expected)
    torch.testing.assert_close(xg.detach(), x)


def _grads(m, x, mask, fn):
    params = [p for p in m.parameters() if p.requires_grad]
    xx = x.clone().requires_grad_()
    y = fn(xx, mask)
    gy = torch.randn(y.shape, generator=torch.Generator().manual_seed(3), dtype=x.dtype)
    return y, torch.autograd.grad(y, [xx, *params], gy)


@pytest.mark.parametrize("layout, order", [("official", 2), ("paper", 2), ("official", 3)])
def test_fused_backward_over_channel_groups_and_row_chunks(monkeypatch, layout, order):
    import spanmix.backbone.mixers.hyena_core as core
    fc = importlib.import_module("spanmix.kernels.fft_conv")  # the package attribute is the function

    monkeypatch.setattr(fc, "_GROUP_ELEMS", 1)  # groups of 8 channels (fft_conv's channel_groups): 3 for D = 24
    monkeypatch.setattr(core, "_ROWS", 7)  # the short conv's weight gradient in several row chunks
    torch.manual_seed(1)
    m = Hyena(24, order=order, emb_dim=5, max_len=64, layout=layout, filter_freq=10.0).double().train()
    x = torch.randn(2, 30, 24, dtype=torch.float64)
    mask = torch.ones(2, 30, dtype=torch.bool)
    mask[0, :4] = False  # left padding
    y, grads = _grads(m, x, mask, m)
    assert y.grad_fn is not None
    y_ref, grads_ref = _grads(m, x, mask, m.reference)
    torch.testing.assert_close(y, y_ref, rtol=1e-10, atol=1e-10)
    for ga, gr in zip(grads, grads_ref):
        torch.testing.assert_close(ga, gr, rtol=1e-10, atol=1e-10 * gr.abs().max().item())


@pytest.mark.parametrize("layout, order", [("official", 2), ("paper", 3), ("official", 3)])
def test_no_grad_in_place_path_matches_reference(monkeypatch, layout, order):
    fc = importlib.import_module("spanmix.kernels.fft_conv")  # the package attribute is the function

    monkeypatch.setattr(fc, "_GROUP_ELEMS", 1)  # groups of 8 channels (fft_conv's channel_groups)
    torch.manual_seed(2)
    m = Hyena(16, order=order, emb_dim=5, max_len=64, layout=layout).eval()
    x = torch.randn(2, 33, 16)
    mask = torch.ones(2, 33, dtype=torch.bool)
    mask[1, 20:] = False
    with torch.no_grad():
        y = m(x, mask)
    torch.testing.assert_close(y, m.reference(x, mask), rtol=1e-5, atol=1e-6)


def test_fused_path_saves_only_the_projection_and_the_filter_outputs():
    """Under autograd one Hyena layer keeps its input, the in_proj output u ((N+1)·D per position), one
    (B, L, D) output per long filter and out_proj's input: no spectra, no gate products, no filter FFN."""
    torch.manual_seed(0)
    B, L, D = 2, 512, 16
    m = Hyena(D, order=2, emb_dim=5, max_len=L, layout="official").train()
    x = torch.randn(B, L, D, requires_grad=True)
    saved = {}

    def pack(t):
        saved[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = m(x)
    params = sum(p.numel() * p.element_size() for p in m.parameters())
    per_position = (D + 3 * D + D + D) * 4  # x, u, the filter's output, out_proj's input (fp32)
    assert sum(saved.values()) <= B * L * per_position + params
    y.sum().backward()  # and the backward still runs from what was kept
    assert m.filter.linears[0].weight.grad is not None


def test_filter_generated_in_row_blocks_without_autograd(monkeypatch):
    import spanmix.backbone.mixers.hyena as hy

    torch.manual_seed(0)
    m = Hyena(8, order=2, emb_dim=5, max_len=100, layout="paper", filter_freq=10.0)
    whole = m.filters(100)  # with autograd: one block
    monkeypatch.setattr(hy, "_FILTER_ROWS", 16)  # 7 blocks, the last one short
    with torch.no_grad():
        blocks = m.filters(100)
    torch.testing.assert_close(blocks, whole.detach(), rtol=1e-6, atol=1e-7)


def test_block_ffn_in_position_blocks_in_inference(monkeypatch):
    import spanmix.backbone.blocks as blocks
    from spanmix.backbone import MixerStack

    torch.manual_seed(0)
    stack = MixerStack(16, ["hyena", "hyena"], mlp_ratio=4.0, act="gelu_tanh", max_len=64, layout="official").eval()
    x = torch.randn(2, 50, 16)
    with torch.no_grad():
        expected = stack(x)
        monkeypatch.setattr(blocks, "FFN_POSITIONS", 12)  # blocks of 6 rows of 2 sequences
        chunked = stack(x)
    torch.testing.assert_close(chunked, expected, rtol=1e-6, atol=1e-6)
    assert not torch.equal(chunked, x)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("approximate", ["tanh", "none"])
def test_gelu_mlp_matches_timm_mlp_and_saves_one_hidden_activation(dtype, approximate):
    from functools import partial

    from timm.layers import Mlp

    from spanmix.backbone.blocks import GeluMlp

    torch.manual_seed(0)
    act = partial(torch.nn.GELU, approximate=approximate)
    ref, mine = Mlp(12, 48, act_layer=act).to(dtype), GeluMlp(12, 48, act_layer=act).to(dtype)
    mine.load_state_dict(ref.state_dict())
    x = torch.randn(2, 30, 12, dtype=dtype)
    gy = torch.randn(2, 30, 12, dtype=dtype)
    outs = []
    for m in (ref, mine):
        xx = x.clone().requires_grad_()
        saved = {}
        with torch.autograd.graph.saved_tensors_hooks(
                lambda t: saved.setdefault(t.untyped_storage().data_ptr(), t.numel()) and t, lambda t: t):
            y = m(xx)
        outs.append((y, torch.autograd.grad(y, [xx, *m.parameters()], gy), saved))
    (y_ref, g_ref, saved_ref), (y, g, saved) = outs
    tol = TOL[dtype]
    torch.testing.assert_close(y, y_ref, rtol=tol, atol=tol)
    for a, b in zip(g, g_ref):
        torch.testing.assert_close(a, b, rtol=tol, atol=tol * b.abs().max().item())
    hidden = 2 * 30 * 48
    assert sum(v == hidden for v in saved_ref.values()) == 2 and sum(v == hidden for v in saved.values()) == 1
