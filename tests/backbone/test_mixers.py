"""Properties every registered mixer must have (one parametrised test per property, timm-style)."""
from __future__ import annotations

import pytest
import torch

from spanmix.backbone import build_mixer, list_mixers
from spanmix.backbone.registry import mixer_options

ISSUE_MIXERS = {"full", "local", "ls", "probsparse", "mamba", "s4d", "hyena", "conv"}
MIXERS = list_mixers()
DIM, B, L = 32, 2, 23  # L prime, so no chunk or block size divides it


def build(name: str, dim: int = DIM, causal: bool = False, **options):
    """A mixer in eval mode (dropout off); ``causal=True`` where the mixer has that option."""
    if causal and "causal" in mixer_options(name):
        options["causal"] = True
    if options.pop("dense", False) and name == "probsparse":
        # With u = c·ceil(ln L) >= L every query is active: exact attention, with no data-dependent
        # query ranking that could carry information between positions.
        options["factor"] = 100
    torch.manual_seed(0)
    return build_mixer(name, dim, **options).eval()


CAUSAL = [n for n in MIXERS if build(n, causal=True).causal]
STEPPABLE = [n for n in CAUSAL if build(n, causal=True).supports_step]


def test_every_issue_mixer_is_registered():
    assert ISSUE_MIXERS <= set(MIXERS)


def test_every_causal_mixer_streams():
    # ProbSparse is the documented exception: its top-u query selection ranks the whole sequence.
    assert set(CAUSAL) - set(STEPPABLE) <= {"probsparse"}
    assert ISSUE_MIXERS <= set(CAUSAL)


@pytest.mark.parametrize("name", MIXERS)
@pytest.mark.parametrize("causal", [False, True])
def test_shape_and_gradients(name, causal):
    mixer = build(name, causal=causal).train()
    x = torch.randn(B, L, DIM, requires_grad=True)
    y = mixer(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    y.square().mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    no_grad = [n for n, p in mixer.named_parameters() if p.requires_grad and (p.grad is None or not torch.isfinite(p.grad).all())]
    assert not no_grad, f"parameters without a finite gradient: {no_grad}"


@pytest.mark.parametrize("name", MIXERS)
@pytest.mark.parametrize("causal", [False, True])
def test_forward_equals_reference(name, causal):
    mixer = build(name, causal=causal)
    x = torch.randn(B, L, DIM, requires_grad=True)
    y = mixer(x)
    (gx,) = torch.autograd.grad(y.square().sum(), x)
    x_ref = x.detach().requires_grad_()
    y_ref = mixer.reference(x_ref)
    (gx_ref,) = torch.autograd.grad(y_ref.square().sum(), x_ref)
    torch.testing.assert_close(y, y_ref, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(gx, gx_ref, atol=1e-3, rtol=1e-3)


@pytest.mark.parametrize("name", MIXERS)
def test_bfloat16_close_to_float32(name):
    mixer = build(name)
    x = torch.randn(B, L, DIM)
    y32 = mixer(x)
    y16 = mixer.to(torch.bfloat16)(x.to(torch.bfloat16))
    assert y16.dtype == torch.bfloat16
    rel = (y16.float() - y32).norm() / y32.norm()
    assert rel < 0.05, f"bf16 relative error {rel:.3g}"


@pytest.mark.parametrize("name", CAUSAL)
def test_causal_mixers_do_not_see_the_future(name):
    mixer = build(name, causal=True, dense=True)
    t = 11
    x = torch.randn(B, L, DIM)
    x_future = x.clone()
    x_future[:, t:] = torch.randn(B, L - t, DIM) * 3
    torch.testing.assert_close(mixer(x)[:, :t], mixer(x_future)[:, :t], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(mixer(x)[:, t:], mixer(x_future)[:, t:])


@pytest.mark.parametrize("name", STEPPABLE)
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-4), (torch.bfloat16, 6e-2)])
def test_step_equals_forward(name, dtype, tol):
    mixer = build(name, causal=True).to(dtype)
    x = torch.randn(B, L, DIM, dtype=dtype)
    state = mixer.init_state(B, dtype=dtype)
    steps = []
    for t in range(L):
        y_t, state = mixer.step(x[:, t], state)
        steps.append(y_t)
    stepped = torch.stack(steps, dim=1)
    assert stepped.dtype == dtype
    torch.testing.assert_close(stepped.float(), mixer(x).float(), atol=tol, rtol=tol)


@pytest.mark.parametrize("name", MIXERS)
@pytest.mark.parametrize("causal", [False, True])
def test_padded_positions_do_not_leak(name, causal):
    mixer = build(name, causal=causal, dense=True)
    mask = torch.ones(B, L, dtype=torch.bool)
    mask[0, 15:] = False  # right padding
    mask[1, [3, 8]] = False  # holes
    x = torch.randn(B, L, DIM)
    x_other = torch.where(mask.unsqueeze(-1), x, torch.randn_like(x) * 5)
    y, y_other = mixer(x, mask=mask), mixer(x_other, mask=mask)
    torch.testing.assert_close(y[mask], y_other[mask], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", MIXERS)
@pytest.mark.parametrize("shape", [(L, DIM), (B, L, DIM + 1), (1, B, L, DIM)])
def test_bad_input_shape_is_a_clear_error(name, shape):
    with pytest.raises(ValueError, match=rf"\(batch, length, {DIM}\)"):
        build(name)(torch.randn(shape))


@pytest.mark.parametrize("name", MIXERS)
def test_bad_mask_is_a_clear_error(name):
    with pytest.raises(ValueError, match="mask"):
        build(name)(torch.randn(B, L, DIM), mask=torch.ones(B, L - 1, dtype=torch.bool))


def test_unknown_mixer_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown mixer 'hyenna'.*hyena"):
        build_mixer("hyenna", DIM)


def test_unknown_option_is_rejected_not_dropped():
    with pytest.raises(ValueError, match="unknown option.*'windw'"):
        build_mixer("local", DIM, windw=4)


@pytest.mark.parametrize("name", [n for n in MIXERS if "window" in mixer_options(n)])
@pytest.mark.parametrize("window", [0, -3])
def test_window_below_one_is_rejected(name, window):
    with pytest.raises(ValueError, match="window"):
        build_mixer(name, DIM, window=window)


@pytest.mark.parametrize("name", [n for n in MIXERS if "heads" in mixer_options(n)])
def test_dim_not_divisible_by_heads_is_rejected(name):
    with pytest.raises(ValueError, match="divisible"):
        build_mixer(name, DIM, heads=5)
