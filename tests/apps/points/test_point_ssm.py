"""Hierarchical point SSM: parameter counts against the official configs, the serialization round trips,
the group/vanilla blocks' shapes, the multi-scan block against an explicit per-scan reference, heads,
mixers by name, Chamfer/DCD/F-score against brute force, errors."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from spanmix.apps.points import chamfer as C
from spanmix.apps.points.models import build_point_model, count_parameters
from spanmix.apps.points.models import point_ssm as P
from spanmix.backbone.serializers import PointSerializer
from spanmix.kernels import selective_scan_ref

MICRO = dict(size="tiny", npoints=(48, 24, 12), dims=(16, 16, 32), radii=(0.2, 0.4, 0.8), k=8, dense=(32,))


def cloud(b=2, n=96, seed=0):
    return torch.rand(b, n, 3, generator=torch.Generator().manual_seed(seed)) * 2 - 1


# The official counts: flemme HEAD (86abf06) ``resources/pcd/medpoints/{cls,seg}/train_pointmamba2knn_*.yaml``
# instantiated on CPU with ``flemme.model.create_model`` (CUDA-only imports stubbed; ``mamba_ssm.Mamba`` stood
# in by a module with mamba_simple's parameters, which is what the official group blocks hold):
# classification 19,593,373; segmentation 68,130,287; completion 22,666,325 (ours differs: COMPLETION_NOTE).
@pytest.mark.parametrize("name, options, expected", [
    ("point_ssm", dict(num_classes=46, size="paper"), 19_593_373),
    ("point_ssm_seg", dict(num_classes=46, size="paper"), 68_130_287),
    ("point_ssm_completion", dict(num_classes=46, size="paper"), 20_795_253),
])
def test_parameter_counts_match_the_official_configs(name, options, expected):
    assert count_parameters(build_point_model(name, **options)) == expected


def test_official_scale_rules():
    assert P.scale_widths(64, 2) == [32, 32] and P.scale_widths(100, 3) == [25, 25, 50]
    assert P.scale_values(32, 2) == [16, 32] and P.scale_values(0.1, 2) == [0.05, 0.1]
    assert P.middle_width(128, 32) == 64 and P.middle_width(1088, 512) == 544 and P.middle_width(576, 256) == 288


@pytest.mark.parametrize("kind", ["x", "y", "z", "inside_out"])
def test_scan_orders_are_permutations_that_round_trip(kind):
    xyz = cloud(n=50)
    ser = [PointSerializer(kind)]
    orders = P.scan_orders(xyz, ser, flip=True)
    assert len(orders) == 2 and torch.equal(orders[1], orders[0].flip(-1))
    f = torch.randn(2, 50, 5)
    for o in orders:
        assert torch.equal(o.sort(-1).values, torch.arange(50).expand(2, -1))
        seq = P._permute(f, o, 1)
        axis = "xyz".index(kind) if kind != "inside_out" else None
        key = xyz[..., axis] if axis is not None else (xyz - xyz.mean(1, keepdim=True)).square().sum(-1)
        k_seq = key.gather(1, o)
        assert bool(((k_seq[:, 1:] - k_seq[:, :-1]) * (1 if o is orders[0] else -1) >= 0).all())
        assert torch.equal(P._unpermute(seq, o, 1), f)                    # exact inverse
        assert torch.equal(P._unpermute(P._permute(f.transpose(1, 2), o, 2), o, 2), f.transpose(1, 2))


def test_group_norm_per_cloud_pools_the_statistics_of_all_neighbourhoods():
    torch.manual_seed(0)
    seq = torch.randn(2, 6, 5, 19)
    per_seq, per_cloud = P.GroupSSM(19, 16, 1, d_state=4), P.GroupSSM(19, 16, 1, norm="cloud", d_state=4)
    per_cloud.load_state_dict(per_seq.state_dict())
    blk = per_seq.blocks[0]
    y = blk.dense(seq.reshape(12, 5, 19) + blk.mixer(seq.reshape(12, 5, 19)))            # (B M, k, C)
    by_cloud = F.group_norm(y.reshape(2, 30, 16).transpose(1, 2), 8, blk.norm.weight, blk.norm.bias, 1e-5)
    expected = F.leaky_relu(by_cloud.transpose(1, 2)).reshape(2, 6, 5, 16).amax(2)
    torch.testing.assert_close(per_cloud(seq), expected, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(per_seq(seq), expected, atol=1e-3)


def test_group_norm_batch_puts_batchnorm_everywhere_with_statistics_over_batch_and_points():
    torch.manual_seed(0)
    net = build_point_model("point_ssm_seg", num_classes=3, group_norm="batch", fp_dims=(16, 16, 16), **MICRO)
    kinds = {type(m) for m in net.modules() if isinstance(m, (torch.nn.GroupNorm, torch.nn.BatchNorm1d))}
    assert kinds == {P.BatchNormC}
    bn = P.BatchNormC(4)
    x = torch.randn(2, 5, 3, 4)
    flat = x.reshape(-1, 4)
    torch.testing.assert_close(bn(x), ((flat - flat.mean(0)) / torch.sqrt(flat.var(0, unbiased=False) + 1e-5)).reshape(x.shape),
                               rtol=1e-5, atol=1e-5)
    # unlike per-sample GroupNorm, a cloud twice as large gives different features (organ size is kept)
    net.eval()
    cl = cloud()
    assert not torch.allclose(net(cl), net(2 * cl), atol=1e-3)


def test_group_and_vanilla_block_shapes():
    torch.manual_seed(0)
    g = P.GroupSSM(19, 16, blocks=2, d_state=8, groups=8)
    assert g(torch.randn(2, 12, 8, 19)).shape == (2, 12, 16)
    assert [b.norm.num_channels for b in g.blocks] == [P.middle_width(19, 16), 16]
    xyz = cloud(n=30)
    orders = P.scan_orders(xyz, [PointSerializer(k) for k in ("x", "y", "z", "inside_out")], flip=True)
    for mixer in ("mamba", "full", "hyena"):
        v = P.VanillaSSM(16, 8, mixer=mixer, d_state=8, max_len=30)
        out = v(torch.randn(2, 30, 16), orders)
        assert out.shape == (2, 30, 16) and bool(torch.isfinite(out).all())
    with pytest.raises(ValueError, match="expected 8 scan orders"):
        P.VanillaSSM(16, 8, d_state=8)(torch.randn(2, 30, 16), orders[:4])


def test_multiscan_block_equals_a_per_scan_reference():
    """Each scan k reads the shared conv output in its own order through its own S6 parameters; the outputs
    are put back in point order and summed: checked against an explicit loop with the reference scan."""
    torch.manual_seed(0)
    m = P.MultiScanMamba(8, 3, d_state=4, expand=2).double()
    x = torch.randn(2, 10, 8, dtype=torch.float64)
    orders = [torch.stack([torch.randperm(10) for _ in range(2)]) for _ in range(3)]
    u, z = m.in_proj(x).chunk(2, -1)
    u = m.act(m.conv(u.transpose(1, 2))[..., :10])
    e, n, r = m.inner, m.d_state, m.dt_rank
    y = torch.zeros(2, e, 10, dtype=torch.float64)
    for k, o in enumerate(orders):
        for b in range(2):
            us = u[b][:, o[b]].unsqueeze(0)
            dt, bs, cs = (m.x_proj_weight[k] @ us[0]).split([r, n, n], 0)
            ys = selective_scan_ref(us, (m.dt_projs_weight[k] @ dt).unsqueeze(0),
                                    -torch.exp(m.A_logs.view(3, e, n)[k]), bs.unsqueeze(0), cs.unsqueeze(0),
                                    D=m.Ds.view(3, e)[k], delta_bias=m.dt_projs_bias[k], delta_softplus=True)[0]
            back = torch.empty_like(ys)
            back[:, o[b]] = ys
            y[b] += back
    expected = m.out_proj(y.transpose(1, 2) * m.act(z))
    torch.testing.assert_close(m(x, orders), expected, rtol=1e-5, atol=1e-6)  # the scan runs in float32


@pytest.mark.parametrize("mixer", ["mamba", "full", "hyena"])
def test_classifier_shapes_gradients_and_eval_permutation_invariance(mixer):
    torch.manual_seed(0)
    model = build_point_model("point_ssm", num_classes=5, mixer=mixer, d_state=8, query="xyz", **MICRO)
    x = cloud()
    logits = model(x)
    assert logits.shape == (2, 5)
    logits.sum().backward()
    assert model.head[-1].weight.grad is not None
    # in eval mode the classifier does not depend on the order of the input points: FPS, kNN, the
    # serialized orders and the pooling are all functions of the point set
    model.eval()
    perm = torch.randperm(96, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(model(x[:, perm]), model(x), rtol=1e-4, atol=1e-4)


def test_segmentation_and_completion_heads():
    torch.manual_seed(0)
    seg = build_point_model("point_ssm_seg", num_classes=4, fp_dims=(32, 16, 16), d_state=8, **MICRO)
    x = cloud()
    out = seg(x)
    assert out.shape == (2, 96, 4)
    out.mean().backward()
    cpl = build_point_model("point_ssm_completion", num_classes=3, n_out=64, fold_hidden=(32,), d_state=8, **MICRO)
    y = cpl(x, torch.tensor([0, 2]))
    assert y.shape == (2, 64, 3)
    C.density_aware_chamfer(y, x, alpha=40, n_lambda=0.5).mean().backward()
    assert cpl.fold2[-1].weight.grad is not None and cpl.gate.weight.grad is not None
    # keep_input: the partial cloud itself, then n_out folded points (only those are predicted)
    keep = build_point_model("point_ssm_completion", num_classes=3, n_out=16, fold_hidden=(32,), d_state=8,
                             keep_input=True, **MICRO)
    y = keep(x, torch.tensor([0, 2]))
    assert y.shape == (2, 96 + 16, 3)
    torch.testing.assert_close(y[:, :96], x, rtol=0, atol=0)
    # folding_times=0: the official PointNetDecoder's fully-connected path, any n_out
    fc = build_point_model("point_ssm_completion", num_classes=3, n_out=10, folding_times=0, final_hidden=(32,),
                           d_state=8, **MICRO)
    y = fc(x, torch.tensor([0, 2]))
    assert y.shape == (2, 10, 3) and not hasattr(fc, "fold1")
    C.chamfer_distance(y, x).mean().backward()
    assert fc.final[-1].weight.grad is not None


def test_range_guard_bounds_the_growth_of_a_batchnorm_model_in_eval():
    """With BatchNorm (eval: a fixed affine map) the gated SSM products make the output a high-degree
    polynomial of the input's scale, so an unusual cloud overflows. The guard is the identity in training (same
    outputs) and in eval caps each mixer input at the largest per-point RMS it saw in training, so the output
    grows at most linearly with the cloud's scale."""
    x = cloud()
    ratios, train_out = {}, {}
    for range_guard in (False, True):
        torch.manual_seed(0)
        net = build_point_model("point_ssm", num_classes=3, group_norm="batch", range_guard=range_guard, d_state=8,
                                **MICRO)
        train_out[range_guard] = net(x)              # training mode: records the guard's limits
        net.eval()
        with torch.no_grad():
            ratios[range_guard] = [float(net(s * x).abs().max() / net(x).abs().max()) for s in (1e2, 1e4)]
    torch.testing.assert_close(train_out[True], train_out[False], rtol=0, atol=0)
    guards = [m for m in net.modules() if isinstance(m, P.RangeGuard)]
    assert guards and all(float(g.limit) > 0 for g in guards)
    assert not all(math.isfinite(r) and r < 1e3 for r in ratios[False])          # blows up (or overflows)
    assert all(math.isfinite(r) for r in ratios[True])
    assert ratios[True][1] / ratios[True][0] < 1e3                               # x100 scale: linear x100, quadratic x1e4


def test_range_guard_caps_each_point_at_the_training_limit():
    g = P.RangeGuard()
    g(torch.tensor([[3.0, 4.0], [0.0, 1.0]]))                                   # RMS 3.54, 0.71
    assert float(g.limit) == pytest.approx(12.5 ** 0.5)
    g.eval()
    y = g(torch.tensor([[30.0, 40.0], [1.0, 1.0]]))
    torch.testing.assert_close(y, torch.tensor([[3.0, 4.0], [1.0, 1.0]]))      # first capped, second kept


@pytest.mark.parametrize("call, match", [
    (lambda: build_point_model("point_ssm", num_classes=3, **MICRO)(torch.rand(2, 64, 2)), r"\(batch, points >= 1, 3\)"),
    (lambda: build_point_model("point_ssm", num_classes=3, size="huge"), "unknown size"),
    (lambda: build_point_model("point_ssm_completion", num_classes=3, folding_times=1, **MICRO), "folding_times must be"),
    (lambda: build_point_model("point_ssm", num_classes=3, query="radius", **MICRO), "query must be"),
    (lambda: build_point_model("point_ssm", num_classes=3, orders=("spiral",), **MICRO), "unknown scan orders"),
    (lambda: build_point_model("point_ssm", num_classes=3, widht=3, **MICRO), "unknown option"),
    (lambda: build_point_model("point_ssm", num_classes=3, group_norm="layer", **MICRO), "group_norm must be"),
    (lambda: build_point_model("point_ssm_seg", num_classes=3, fp_dims=(8,), **MICRO), "fp_dims needs 3"),
    (lambda: build_point_model("point_ssm_completion", num_classes=3, n_out=16, **MICRO)(cloud(), torch.tensor([0, 5])),
     r"values must be in \[0, 3\)"),
])
def test_bad_input_is_one_clear_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ------------------------------------------------------------------ Chamfer / DCD / F-score
def _pair(seed, n=37, m=29):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(2, n, 3, generator=g), torch.rand(2, m, 3, generator=g)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_chamfer_dcd_fscore_equal_brute_force(seed):
    a, b = _pair(seed)
    torch.testing.assert_close(C.chamfer_distance(a, b).double(), C.chamfer_distance_reference(a, b), rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(C.chamfer_distance(a, b, squared=False).double(),
                               C.chamfer_distance_reference(a, b, squared=False), rtol=1e-5, atol=1e-7)
    for alpha, lam in ((40, 0.5), (1000, 1.0)):
        torch.testing.assert_close(C.density_aware_chamfer(a, b, alpha=alpha, n_lambda=lam).double(),
                                   C.density_aware_chamfer_reference(a, b, alpha=alpha, n_lambda=lam),
                                   rtol=1e-5, atol=1e-6)
    for t in (0.05, 0.2):
        torch.testing.assert_close(C.f_score(a, b, threshold=t).double(), C.f_score_reference(a, b, threshold=t))


def test_distances_of_identical_clouds_and_known_values():
    a, _ = _pair(3)
    assert float(C.chamfer_distance(a, a).max()) == 0.0
    assert torch.allclose(C.f_score(a, a, threshold=1e-3), torch.ones(2))
    # one-to-one identical clouds: every count is 1, exp(0) = 1 -> DCD = 1 - 1/(1 + 1e-6) ~ 0
    assert float(C.density_aware_chamfer(a, a, alpha=40, n_lambda=0.5).max()) < 1e-5
    # two points vs a single point at distance 1 and 0: d^2 = {1, 0}
    p = torch.tensor([[[0.0, 0, 0], [1.0, 0, 0]]])
    q = torch.tensor([[[0.0, 0, 0]]])
    assert math.isclose(float(C.chamfer_distance(p, q)), (0.5 + 0.0) / 2, rel_tol=1e-6)
    assert math.isclose(float(C.f_score(p, q, threshold=0.5)), 2 * 0.5 * 1 / 1.5, rel_tol=1e-6)
