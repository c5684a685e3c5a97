"""LV-MAE model: the paper size's parameter count, the official positions, loss on masked tokens only,
padding, and each encoder-body mixer."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from spanmix.apps.video.models.lvmae import LVMAE, masked_loss, sincos_table

#: Trainable parameters of the official ``models_mae.mae_vit_base_custom`` with the README's arguments
#: (input_size 1024, depth 32, num_heads 16, decoder 512-d x 8 x 16 heads, num_patches 256), counted by
#: building the official module (amazon-science/lv-mae 222d440) with timm 1.0.31; its two frozen sin-cos
#: tables add 394,752 non-trainable values (429,747,712 in all), which we keep as buffers.
OFFICIAL_PAPER_PARAMS = 429_352_960


def _tiny(**kw):
    opts = dict(input_dim=12, dim=16, depth=2, heads=2, decoder_dim=8, decoder_depth=1, decoder_heads=2,
                max_segments=32)
    return LVMAE(**{**opts, **kw})


def test_paper_size_parameter_count_equals_official():
    with torch.device("meta"):
        model = LVMAE.paper()
    assert sum(p.numel() for p in model.parameters()) == OFFICIAL_PAPER_PARAMS
    assert isinstance(model.embed, torch.nn.Identity)  # no input projection at dim == input_dim


def test_sincos_table_equals_mae_formula():
    dim, n = 10, 7
    omega = 1.0 / 10000 ** (np.arange(dim // 2) / (dim / 2))
    out = np.arange(n)[:, None] * omega[None]
    expected = np.concatenate([np.zeros((1, dim)), np.concatenate([np.sin(out), np.cos(out)], 1)])
    np.testing.assert_allclose(sincos_table(n, dim).numpy(), expected, atol=1e-6)


def test_loss_only_on_masked_tokens():
    torch.manual_seed(0)
    model = _tiny()
    x = torch.nn.functional.normalize(torch.randn(2, 10, 12), dim=-1)
    out = model(x)
    pred = out["pred"]
    pred.retain_grad()
    out["loss"].backward()
    grad_rows = pred.grad.abs().sum(-1) > 0
    assert torch.equal(grad_rows, out["mask"])  # the loss reads the masked positions and nothing else
    manual = ((pred - x) ** 2).mean(-1)[out["mask"]].mean()
    torch.testing.assert_close(out["loss"], manual)
    cos = masked_loss(pred, x, out["mask"], "cosine")
    torch.testing.assert_close(cos, (1 - torch.nn.functional.cosine_similarity(pred, x, dim=-1))[out["mask"]].mean())


def test_masked_inputs_do_not_reach_the_encoder():
    torch.manual_seed(0)
    model = _tiny().eval()
    x = torch.randn(1, 10, 12)
    mask = torch.zeros(1, 10, dtype=torch.bool)
    mask[0, [1, 4, 7]] = True
    a = model(x, mask=mask)
    y = x.clone()
    y[0, [1, 4, 7]] = torch.randn(3, 12)
    b = model(y, mask=mask)
    torch.testing.assert_close(a["latent"], b["latent"])
    torch.testing.assert_close(a["pred"], b["pred"])


@pytest.mark.parametrize("schedule", ["full", "local*3,full", "mamba", "hyena"])
def test_padding_does_not_change_a_video(schedule):
    torch.manual_seed(0)
    depth = 4 if schedule == "local*3,full" else 2
    model = _tiny(schedule=schedule, depth=depth, mixer_options={"local": {"window": 4}}).eval()
    x = torch.randn(1, 9, 12)
    mask = importance_mask_like(x)
    alone = model(x, mask=mask)
    padded_x = torch.cat([torch.cat([x, torch.zeros(1, 5, 12)], 1), torch.randn(1, 14, 12)])
    valid = torch.ones(2, 14, dtype=torch.bool)
    valid[0, 9:] = False
    padded_mask = torch.cat([torch.cat([mask, torch.zeros(1, 5, dtype=torch.bool)], 1), model.make_mask(padded_x[1:])])
    both = model(padded_x, valid, padded_mask)
    torch.testing.assert_close(both["pred"][0, :9], alone["pred"][0], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(model.encode(padded_x, valid)[0, :10], model.encode(x)[0], rtol=1e-4, atol=1e-5)
    both["loss"].backward()  # trains end to end
    assert all(p.grad is not None for n, p in model.named_parameters() if n.startswith("encoder."))


def importance_mask_like(x):
    from spanmix.apps.video.lvmae.masking import importance_mask

    return importance_mask(x, 0.5)


def test_bad_input_and_options():
    model = _tiny()
    with pytest.raises(ValueError, match=r"\(B, T, 12\)"):
        model(torch.zeros(1, 5, 7))
    with pytest.raises(ValueError, match="exceed max_segments=32"):
        model(torch.zeros(1, 33, 12))
    with pytest.raises(ValueError, match="masking must be"):
        _tiny(masking="block")
    with pytest.raises(ValueError, match="official weights fit only"):
        _tiny().load_official_state({})


@pytest.mark.slow
def test_learns_to_fill_in_masked_scenes():
    """Videos of 4 'scenes' x 4 near-identical segments (synthetic): importance masking keeps each scene's
    first segment, so a masked segment can be copied from its kept neighbour. After training (~10 s), the
    loss on masked segments is far below the 'mean of the kept segments' baseline (which it starts above)."""
    torch.manual_seed(0)
    model = _tiny(dim=32, depth=1, decoder_dim=32)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    g = torch.Generator().manual_seed(0)

    def batch():
        scenes = torch.randn(16, 4, 12, generator=g)
        x = scenes.repeat_interleave(4, dim=1) + 0.05 * torch.randn(16, 16, 12, generator=g)
        return torch.nn.functional.normalize(x, dim=-1)

    for _ in range(700):
        out = model(batch())
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
    x = batch()
    with torch.no_grad():
        out = model.eval()(x)
    kept = ~out["mask"]
    mean_kept = (x * kept[..., None]).sum(1, keepdim=True) / kept.sum(1)[:, None, None]
    baseline = masked_loss(mean_kept.expand_as(x), x, out["mask"])
    assert out["loss"] < 0.4 * baseline
