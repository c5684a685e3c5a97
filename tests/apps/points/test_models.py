"""Point models: shapes, parameter counts, permutation invariance in eval mode, mixers by name, errors."""
from __future__ import annotations

import pytest
import torch
from spanmix.apps.points.models import build_point_model, count_parameters

SMALL = dict(size="tiny", npoints=(64, 32, 16, 8), radii=(0.2, 0.4, 0.8, 1.6))


def cloud(b=2, n=128, c=3, seed=0):
    x = torch.rand(b, n, c, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    return x


@pytest.mark.parametrize("name, options, expected", [
    # paper: ~2.36M (Wang et al. 2024); ours 3.2 % above. elite: 0.68M; ours 3.0 % above.
    ("gpsformer", dict(num_classes=40, size="paper"), 2_435_096),
    ("gpsformer", dict(num_classes=40, size="elite"), 700_304),
    # the count of the official DGCNN definitions (WangYueFt/dgcnn pytorch/model.py) at 40 classes
    ("dgcnn", dict(num_classes=40), 1_809_576),
])
def test_parameter_counts(name, options, expected):
    n = count_parameters(build_point_model(name, **options))
    assert n == expected
    if name == "gpsformer":
        paper = 2.36e6 if options["size"] == "paper" else 0.68e6
        assert abs(n - paper) / paper < 0.05


@pytest.mark.parametrize("size, macs", [("paper", 503_703_552), ("elite", 171_165_696)])
def test_multiply_accumulates_at_1024_points(size, macs):
    """The paper gives ~0.7 GFLOPs for the classifier; point-cloud papers count multiply-accumulates of the
    convolutions and matmuls (thop/fvcore) and call them FLOPs. Ours: 0.50 G at paper size, 28 % below the
    paper's figure (README); pinned so that a change of the architecture's cost is seen."""
    from torch.utils.flop_counter import FlopCounterMode

    model = build_point_model("gpsformer", num_classes=40, size=size).eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(cloud(b=1, n=1024))
    assert counter.get_total_flops() == 2 * macs


@pytest.mark.parametrize("mixer", ["full", "local", "mamba", "hyena"])
def test_classifier_shapes_gradients_and_permutation_invariance(mixer):
    torch.manual_seed(0)
    opts = dict(SMALL, mixer=mixer)
    if mixer == "local":
        opts["mixer_options"] = {"window": 8}
    model = build_point_model("gpsformer", num_classes=5, **opts)
    x = cloud()
    logits = model(x)
    assert logits.shape == (2, 5)
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad and p.grad is not None)
    model.eval()
    perm = torch.randperm(128, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(model(x[:, perm]), model(x), rtol=1e-4, atol=1e-4)


def test_dgcnn_with_normals_is_permutation_invariant():
    torch.manual_seed(0)
    model = build_point_model("dgcnn", num_classes=4, in_channels=6, k=10).eval()
    x = cloud(c=6)
    perm = torch.randperm(128, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        out = model(x)
        assert out.shape == (2, 4)
        torch.testing.assert_close(model(x[:, perm]), out, rtol=1e-4, atol=1e-4)


def test_part_segmentation_shapes_and_equivariance():
    torch.manual_seed(0)
    model = build_point_model("gpsformer_partseg", num_parts=6, num_categories=3, **SMALL)
    x, cat = cloud(), torch.tensor([0, 2])
    out = model(x, cat)
    assert out.shape == (2, 128, 6)
    out.mean().backward()
    model.eval()
    perm = torch.randperm(128, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        torch.testing.assert_close(model(x[:, perm], cat), model(x, cat)[:, perm], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("call, match", [
    (lambda: build_point_model("gpsformer", num_classes=3, **SMALL)(torch.rand(2, 64, 2)), r"\(batch, points >= 1, 3\)"),
    (lambda: build_point_model("gpsformer", num_classes=3, **SMALL)(torch.full((1, 64, 3), float("nan"))), "finite"),
    (lambda: build_point_model("dgcnn", num_classes=3, in_channels=4), "in_channels must be 3"),
    (lambda: build_point_model("gpsformer", num_classes=3, size="huge"), "unknown size"),
    (lambda: build_point_model("gpsformer", num_classes=3, size="tiny", dims=(8, 8)), "one entry per stage"),
    (lambda: build_point_model("gpsformer", num_classes=3, widht=3), "unknown option"),
    (lambda: build_point_model("pointnet", num_classes=3), "unknown point model"),
    (lambda: build_point_model("gpsformer_partseg", num_parts=3, num_categories=2, **SMALL)(torch.rand(1, 64, 3)),
     "needs category"),
    (lambda: build_point_model("gpsformer_partseg", num_parts=3, num_categories=2, **SMALL)(
        torch.rand(1, 64, 3), torch.tensor([5])), r"in \[0, 2\)"),
])
def test_bad_input_is_one_clear_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()
