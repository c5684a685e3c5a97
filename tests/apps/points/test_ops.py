"""Point operators against their brute-force twins (hypothesis shapes), permutations, padding, errors."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from spanmix.apps.points import ops

SETTINGS = settings(max_examples=25, deadline=None)


def clouds(seed: int, b: int, n: int, m: int):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, m, 3, generator=g), torch.rand(b, n, 3, generator=g)


@pytest.fixture(params=["fast", "torch"])
def path(request, monkeypatch):
    """Each operator through its default CPU path (fpsample / cKDTree where they are used) and the torch path."""
    if request.param == "torch":
        monkeypatch.setenv("SPANMIX_POINTS_TORCH_OPS", "1")
    else:
        monkeypatch.setattr(ops, "KDTREE_MIN_PAIRS", 1)
    return request.param


@SETTINGS
@given(seed=st.integers(0, 10_000), b=st.integers(1, 3), n=st.integers(1, 60), frac=st.floats(0.05, 1.0))
def test_fps_equals_reference(seed, b, n, frac):
    _, xyz = clouds(seed, b, n, 1)
    m = max(1, int(n * frac))
    for env in ("0", "1"):
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("SPANMIX_POINTS_TORCH_OPS", env)
            assert torch.equal(ops.farthest_point_sample(xyz, m), ops.farthest_point_sample_reference(xyz, m))


def test_fps_ignores_input_order(path):
    _, xyz = clouds(1, 2, 300, 1)
    perm = torch.randperm(300, generator=torch.Generator().manual_seed(3))
    a = ops.farthest_point_sample(xyz, 40)
    b = perm[ops.farthest_point_sample(xyz[:, perm], 40)]
    assert torch.equal(a, b)  # same points, in the same order


@SETTINGS
@given(seed=st.integers(0, 10_000), b=st.integers(1, 2), n=st.integers(1, 50), m=st.integers(1, 30),
       k=st.integers(1, 8), chunk=st.sampled_from([None, 1, 7]))
def test_knn_equals_reference(seed, b, n, m, k, chunk):
    q, r = clouds(seed, b, n, m)
    k = min(k, n)
    d, i = ops.knn(q, r, k, chunk=chunk)
    dr, ir = ops.knn_reference(q, r, k)
    assert torch.equal(i, ir)
    torch.testing.assert_close(d.double(), dr, rtol=1e-5, atol=1e-6)


def test_knn_in_feature_space_equals_reference():
    g = torch.Generator().manual_seed(0)
    q, r = torch.randn(2, 30, 16, generator=g), torch.randn(2, 50, 16, generator=g)
    d, i = ops.knn(q, r, 5)
    dr, ir = ops.knn_reference(q, r, 5)
    assert torch.equal(i, ir)
    torch.testing.assert_close(d.double(), dr, rtol=1e-4, atol=1e-4)


def test_knn_kdtree_path_equals_torch(path):
    q, r = clouds(5, 2, 400, 100)
    d, i = ops.knn(q, r, 16)
    dr, ir = ops.knn_reference(q, r, 16)
    assert torch.equal(i, ir)
    torch.testing.assert_close(d.double(), dr, rtol=1e-5, atol=1e-6)


def test_knn_gradient_flows_through_distances():
    q, r = clouds(0, 1, 20, 5)
    q.requires_grad_(True)
    d, _ = ops.knn(q, r, 3)
    d.sum().backward()
    assert q.grad is not None and q.grad.abs().sum() > 0


@SETTINGS
@given(seed=st.integers(0, 10_000), b=st.integers(1, 2), n=st.integers(1, 40), m=st.integers(1, 20),
       k=st.integers(1, 12), radius=st.floats(0.05, 0.8), order=st.sampled_from(["index", "nearest"]),
       chunk=st.sampled_from([None, 3]))
def test_ball_query_equals_reference(seed, b, n, m, k, radius, order, chunk):
    q, r = clouds(seed, b, n, m)
    i, c = ops.ball_query(q, r, radius, k, order=order, chunk=chunk)
    ir, cr = ops.ball_query_reference(q, r, radius, k, order=order)
    assert torch.equal(i, ir) and torch.equal(c, cr)


def test_ball_query_kdtree_path_equals_reference(path):
    q, r = clouds(7, 2, 300, 100)
    for radius, k in ((0.15, 16), (0.05, 4), (2.0, 8)):
        i, c = ops.ball_query(q, r, radius, k, order="nearest")
        ir, cr = ops.ball_query_reference(q, r, radius, k, order="nearest")
        assert torch.equal(i, ir) and torch.equal(c, cr)


def test_ball_query_pads_like_the_cuda_op(path):
    ref = torch.tensor([[[0.0, 0, 0], [0.1, 0, 0], [5.0, 0, 0], [0.05, 0, 0]]])
    q = torch.tensor([[[0.0, 0, 0], [9.0, 9, 9]]])
    idx, cnt = ops.ball_query(q, ref, 0.2, 5)
    assert idx.tolist() == [[[0, 1, 3, 0, 0], [0, 0, 0, 0, 0]]] and cnt.tolist() == [[3, 0]]
    idx, _ = ops.ball_query(q, ref, 0.2, 5, order="nearest")
    assert idx.tolist() == [[[0, 3, 1, 0, 0], [2, 2, 2, 2, 2]]]


@SETTINGS
@given(seed=st.integers(0, 10_000), b=st.integers(1, 2), n=st.integers(1, 40), m=st.integers(1, 20),
       c=st.integers(1, 5), chunk=st.sampled_from([None, 4]))
def test_interpolate_equals_reference(seed, b, n, m, c, chunk):
    xyz, known = clouds(seed, b, m, n)  # n query points, m known points
    feats = torch.randn(b, m, c, generator=torch.Generator().manual_seed(seed))
    out = ops.interpolate_3nn(xyz, known, feats, chunk=chunk)
    torch.testing.assert_close(out.double(), ops.interpolate_3nn_reference(xyz, known, feats), rtol=1e-4, atol=1e-5)


def test_interpolate_reproduces_known_points_and_has_gradients():
    _, known = clouds(2, 1, 30, 1)
    feats = torch.randn(1, 30, 4, requires_grad=True)
    out = ops.interpolate_3nn(known, known, feats)
    torch.testing.assert_close(out, feats, rtol=1e-4, atol=1e-4)
    out.sum().backward()
    assert feats.grad.abs().sum() > 0


def test_gather_shapes_and_values():
    v = torch.arange(2 * 5 * 3, dtype=torch.float32).reshape(2, 5, 3)
    idx = torch.tensor([[[4, 0]], [[1, 1]]])
    out = ops.gather(v, idx)
    assert out.shape == (2, 1, 2, 3)
    assert torch.equal(out[0, 0, 0], v[0, 4]) and torch.equal(out[1, 0, 1], v[1, 1])


@pytest.mark.parametrize("call, match", [
    (lambda: ops.knn(torch.rand(1, 4, 2), torch.rand(1, 4, 3), 2), "same dims"),
    (lambda: ops.ball_query(torch.rand(1, 4, 2), torch.rand(1, 4, 3), 0.1, 2), r"query of shape \(batch, points, 3\)"),
    (lambda: ops.knn(torch.rand(1, 4, 3), torch.rand(2, 4, 3), 2), "same batch size"),
    (lambda: ops.knn(torch.rand(1, 4, 3), torch.rand(1, 4, 3), 5), r"k must be an integer in \[1, 4\]"),
    (lambda: ops.knn(torch.rand(1, 4, 3), torch.rand(1, 0, 3), 1), "non-empty"),
    (lambda: ops.ball_query(torch.rand(1, 4, 3), torch.rand(1, 0, 3), 0.1, 1), "empty point cloud"),
    (lambda: ops.farthest_point_sample(torch.rand(1, 4, 3), 0), "m must be"),
    (lambda: ops.ball_query(torch.rand(1, 4, 3), torch.rand(1, 4, 3), -1.0, 2), "radius must be"),
    (lambda: ops.ball_query(torch.rand(1, 4, 3), torch.rand(1, 4, 3), 0.1, 2, order="x"), "order must be"),
    (lambda: ops.gather(torch.rand(1, 4, 3), torch.zeros(1, 2, dtype=torch.int32)), "int64 idx"),
    (lambda: ops.interpolate_3nn(torch.rand(1, 4, 3), torch.rand(1, 3, 3), torch.rand(1, 2, 5)), "known_features"),
])
def test_bad_input_is_one_clear_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()
