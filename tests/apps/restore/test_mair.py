"""MaIR: official parameter counts, NSS orders, SSA, shapes of every head, scan/mixer options, bad input.

The parameter counts below were compared module for module with the official code
(XLearning-SCU/2025-CVPR-MaIR 2fb433e, ``mair_arch.MaIR`` / ``mairunet_arch.MaIRUNet`` built on CPU with a
reference selective scan patched in): all 13 option files give identical totals, and with the official
weights copied in, outputs agreed to 3.6e-7 (MaIR light x2, 13x11 and x3 16x16) and 4.8e-7 (MaIRUNet 16x24).
"""
import pytest
import torch
from spanmix.apps.restore.models import (
    OFFICIAL_CONFIGS,
    PUBLISHED_PARAMS,
    SCANS,
    VMM,
    MaIR,
    MaIRUNet,
    RestoreCNN,
    ShuffleAttention,
    build_official,
    count_parameters,
    sequence_orders,
)

# Totals of the official code for each option file (see the module docstring).
OFFICIAL_COUNTS = {
    "sr_x2": 19_444_247, "sr_x3": 19_628_887, "sr_x4": 19_591_959,
    "light_sr_s_x2": 1_354_680, "light_sr_s_x3": 1_362_795, "light_sr_s_x4": 1_374_156,
    "light_sr_t_x2": 877_752, "light_sr_t_x3": 885_867, "light_sr_t_x4": 897_228,
    "color_dn": 14_089_035, "deblur": 26_293_296, "real_dn": 26_293_296, "dehaze": 3_404_376,
}


@pytest.mark.parametrize("name", list(OFFICIAL_CONFIGS))
def test_parameter_counts_equal_the_official_code(name):
    with torch.device("meta"):  # shapes only: no memory, no init
        n = count_parameters(build_official(name))
    assert n == OFFICIAL_COUNTS[name]
    if name in PUBLISHED_PARAMS:
        published, stated = PUBLISHED_PARAMS[name]
        if stated.startswith("<"):
            assert n < published
        else:  # "19.44M" is the count rounded to 10k; "~1.3M" within 6 %
            assert abs(n - published) / published < (0.06 if stated.startswith("~") else 5e-4)


def tiny(**kw):
    torch.manual_seed(0)
    base = dict(embed_dim=12, depths=(2, 2), d_state=4, ssm_ratio=1.5, mlp_ratio=2.0, scan_len=4, upscale=2)
    return MaIR(**{**base, **kw}).eval()


@pytest.mark.parametrize("h, w", [(8, 8), (13, 11), (5, 17)])
@pytest.mark.parametrize("shift", [0, 2])
def test_nss_orders_are_permutations_with_exact_inverses(h, w, shift):
    order, inverse = sequence_orders(h, w, "nss", 4, shift)
    assert order.shape == (4, h * w)
    for k in range(4):
        assert torch.equal(order[k].sort().values, torch.arange(h * w))
        assert torch.equal(order[k][inverse[k]], torch.arange(h * w))
    x = torch.randn(2, 3, h * w)
    back = x.index_select(2, order[1]).index_select(2, inverse[1])
    assert torch.equal(back, x)
    # sequence 1 is sequence 0 of the image rotated by 180 degrees; 2 and 3 read the transposed grid
    assert torch.equal(order[1], h * w - 1 - order[0])
    assert torch.equal(order[3], h * w - 1 - order[2])


def test_nss_first_stripe_and_shift():
    order, _ = sequence_orders(4, 6, "nss", 2, 0)
    # stripe [0, 2): rows read in an S (0 1, 7 6, 12 13, 19 18), then stripe [2, 4) upwards from the bottom
    assert order[0, :10].tolist() == [0, 1, 7, 6, 12, 13, 19, 18, 20, 21]
    shifted, _ = sequence_orders(4, 6, "nss", 2, 1)
    assert shifted[0, :5].tolist() == [0, 6, 12, 18, 19]  # the first stripe is one column wide
    assert not torch.equal(order, shifted)


def test_shuffle_attention_is_a_per_channel_map_over_sequences():
    torch.manual_seed(0)
    ssa = ShuffleAttention(5, 4)
    y = torch.randn(2, 4, 5, 6, 7)
    g = ssa(y)
    assert g.shape == (2, 4, 5, 1, 1) and bool(((g > 0) & (g < 1)).all())
    pooled = y.mean((-2, -1))  # (B, K, C)
    want = torch.sigmoid(torch.einsum("cok,bkc->boc", ssa.weight, pooled) + ssa.bias.T[None])
    torch.testing.assert_close(g[..., 0, 0], want)
    y2 = y.clone()
    y2[:, :, 1] += 1.0  # channel 1 only: the other channels' weights do not move
    g2 = ssa(y2)
    torch.testing.assert_close(g2[:, :, [0, 2, 3, 4]], g[:, :, [0, 2, 3, 4]])


@pytest.mark.parametrize("upsampler, upscale", [("pixelshuffledirect", 2), ("pixelshuffle", 3), ("none", 1)])
def test_heads_shapes_and_gradients(upsampler, upscale):
    model = tiny(upsampler=upsampler, upscale=upscale).train()
    x = torch.rand(2, 3, 9, 10, requires_grad=True)
    y = model(x)
    assert y.shape == (2, 3, 9 * upscale, 10 * upscale)
    y.mean().backward()
    assert x.grad is not None and bool(torch.isfinite(x.grad).all())
    assert all(p.grad is not None for p in model.parameters())


def test_unet_any_size_and_residual():
    torch.manual_seed(0)
    net = MaIRUNet(dim=8, num_blocks=(1, 1, 1, 1), num_refinement_blocks=1, ssm_ratio=1.2, scan_len=4).eval()
    x = torch.rand(1, 3, 13, 21)
    with torch.no_grad():
        y = net(x)
    assert y.shape == x.shape
    torch.nn.init.zeros_(net.output.weight)
    with torch.no_grad():
        torch.testing.assert_close(net(x), x)  # the global residual


@pytest.mark.parametrize("scan", SCANS)
def test_every_scan_runs_and_nss_differs_from_raster(scan):
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        y = tiny(scan=scan)(x)
        assert y.shape == (1, 3, 16, 16)
        if scan != "nss":
            assert not torch.allclose(y, tiny()(x))  # same weights (seeded), another read order


@pytest.mark.parametrize("mixer, options", [("local", {"heads": 2, "window": 16}), ("hyena", {"max_len": 256})])
def test_other_sequence_mixers(mixer, options):
    model = tiny(mixer=mixer, mixer_options=options)
    assert model(torch.rand(1, 3, 8, 8)).shape == (1, 3, 16, 16)


def test_vmm_is_equivariant_to_the_four_way_read():
    """Swapping rows and columns of the input permutes the four sequences among themselves: with the
    weights of sequences (0, 1) and (2, 3) swapped, the VMM of the transposed image is the transposed VMM."""
    torch.manual_seed(0)
    vmm = VMM(8, d_state=4, ssm_ratio=1.0, scan="raster").eval()
    swapped = VMM(8, d_state=4, ssm_ratio=1.0, scan="raster").eval()
    sd = vmm.state_dict()
    perm = [2, 3, 0, 1]
    sd2 = dict(sd)
    di = vmm.d_inner
    for key in ("x_proj_weight", "dt_projs_weight", "dt_projs_bias"):
        sd2[key] = sd[key][perm]
    for key in ("A_logs", "Ds"):
        sd2[key] = sd[key].view(4, di, *sd[key].shape[1:])[perm].reshape(sd[key].shape)
    sd2["attention.weight"] = sd["attention.weight"][:, perm][:, :, perm]
    sd2["attention.bias"] = sd["attention.bias"][:, perm]
    w = sd["conv2d.weight"]
    sd2["conv2d.weight"] = w.transpose(-1, -2)
    swapped.load_state_dict(sd2)
    x = torch.randn(1, 6, 5, 8)
    with torch.no_grad():
        torch.testing.assert_close(swapped(x.transpose(1, 2)), vmm(x).transpose(1, 2), atol=1e-5, rtol=1e-4)


def test_pixelshuffle_x4_shape():
    with torch.no_grad():
        assert tiny(upsampler="pixelshuffle", upscale=4)(torch.rand(1, 3, 5, 6)).shape == (1, 3, 20, 24)


def test_cnn_baseline_shapes():
    assert RestoreCNN(upscale=3, width=8, depth=3)(torch.rand(1, 3, 5, 6)).shape == (1, 3, 15, 18)


@pytest.mark.parametrize("make, msg", [
    (lambda: MaIR(upsampler="bogus"), "upsampler"),
    (lambda: MaIR(upscale=2, upsampler="none"), "upscale 1"),
    (lambda: MaIR(scan="spiral"), "scan"),
    (lambda: MaIR(upscale=5, upsampler="pixelshuffle"), "upscale 5"),
    (lambda: build_official("sr_x8"), "unknown MaIR config"),
    (lambda: sequence_orders(4, 4, "spiral"), "scan"),
])
def test_bad_options(make, msg):
    with pytest.raises(ValueError, match=msg):
        make()


def test_bad_input_shape():
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        tiny()(torch.rand(3, 8, 8))
