"""Grid and point-cloud serializers: permutations, path properties, exact inverses, errors."""
from __future__ import annotations

import itertools

import pytest
import torch

from spanmix.backbone.serializers import (
    GRID_ORDERS,
    POINT_ORDERS,
    GridSerializer,
    PointSerializer,
    grid_order,
    invert_order,
    point_order,
)

SIZES = [(1, 1), (1, 7), (6, 1), (2, 2), (3, 5), (4, 4), (5, 3), (7, 9), (8, 8), (6, 10)]


def grid_options(kind: str) -> list[dict]:
    if kind == "mair":
        return [dict(stripe=s, shift=t) for s, t in [(1, 0), (2, 0), (3, 0), (4, 0), (3, 1), (4, 2)]]
    return [{}]


def all_variants():
    for kind in GRID_ORDERS:
        for opts in grid_options(kind):
            for transpose in (False, True):
                yield kind, dict(opts, transpose=transpose)


def cells(order: torch.Tensor, width: int) -> list[tuple[int, int]]:
    return [(i // width, i % width) for i in order.tolist()]


def manhattan(a, b) -> int:
    return abs(a[0] - b[0]) + abs(a[1] - b[1])


# ------------------------------------------------------------------------------------------------ grids
@pytest.mark.parametrize("kind,opts", list(all_variants()))
def test_every_grid_order_is_a_permutation(kind, opts):
    for height, width in SIZES:
        order = grid_order(height, width, kind, **opts)
        assert order.dtype == torch.int64 and order.shape == (height * width,)
        assert torch.equal(order.sort().values, torch.arange(height * width)), (kind, opts, height, width)


def test_raster_and_transposed_raster():
    assert grid_order(2, 3, "raster").tolist() == [0, 1, 2, 3, 4, 5]
    assert grid_order(2, 3, "raster", transpose=True).tolist() == [0, 3, 1, 4, 2, 5]  # column-major


def test_snake_hand_example_and_continuity():
    assert grid_order(3, 3, "snake").tolist() == [0, 1, 2, 5, 4, 3, 6, 7, 8]
    assert grid_order(3, 3, "snake", transpose=True).tolist() == [0, 3, 6, 7, 4, 1, 2, 5, 8]
    for (height, width), transpose in itertools.product(SIZES, (False, True)):
        path = cells(grid_order(height, width, "snake", transpose=transpose), width)
        assert all(manhattan(a, b) == 1 for a, b in zip(path, path[1:])), (height, width, transpose)


def test_zorder_hand_examples():
    assert grid_order(2, 2, "zorder").tolist() == [0, 1, 2, 3]
    # 4x4 Morton: 2x2 blocks in Z order, each block itself a Z.
    assert grid_order(4, 4, "zorder").tolist() == [0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15]
    # Non-power-of-two: the 4x4 order with the out-of-range cells (column 3) dropped.
    assert grid_order(4, 3, "zorder").tolist() == [0, 1, 3, 4, 2, 5, 6, 7, 9, 10, 8, 11]


def test_hilbert_is_continuous_on_power_of_two_squares():
    for n in (1, 2, 4, 8, 16, 32):
        for transpose in (False, True):
            path = cells(grid_order(n, n, "hilbert", transpose=transpose), n)
            assert all(manhattan(a, b) == 1 for a, b in zip(path, path[1:])), (n, transpose)
    assert grid_order(2, 2, "hilbert").tolist() == [0, 1, 3, 2]


@pytest.mark.parametrize("kind", ["zorder", "hilbert"])
def test_non_power_of_two_is_the_restricted_enclosing_curve(kind):
    for height, width in [(3, 5), (7, 9), (5, 3), (6, 10), (1, 7)]:
        side = 1 << max(height - 1, width - 1).bit_length()
        big = cells(grid_order(side, side, kind), side)
        expected = [r * width + c for r, c in big if r < height and c < width]
        assert grid_order(height, width, kind).tolist() == expected


def test_mair_hand_example():
    # 3x6, stripes of width 2: stripe 0 top-down, stripe 1 bottom-up, stripe 2 top-down; rows alternate.
    expected = [0, 1, 7, 6, 12, 13, 14, 15, 9, 8, 2, 3, 4, 5, 11, 10, 16, 17]
    assert grid_order(3, 6, "mair", stripe=2).tolist() == expected
    # Shifted stripes (shift=1): [0, 1), [1, 3), [3, 4).
    assert grid_order(2, 4, "mair", stripe=2, shift=1).tolist() == [0, 4, 5, 6, 2, 1, 3, 7]
    # stripe >= width: a single stripe, i.e. the snake.
    assert torch.equal(grid_order(5, 4, "mair", stripe=9), grid_order(5, 4, "snake"))
    # stripe == 1 is the transposed snake (columns alternating down and up).
    assert torch.equal(grid_order(4, 5, "mair", stripe=1), grid_order(4, 5, "snake", transpose=True))


def mair_stripes(width: int, stripe: int, shift: int) -> list[tuple[int, int]]:
    first = [shift] if 0 < shift < width else []
    bounds = [0, *first, *range(shift + stripe, width, stripe), width]
    return list(zip(bounds[:-1], bounds[1:]))


@pytest.mark.parametrize("transpose", [False, True])
def test_mair_path_property(transpose):
    """The exact property of the Nested S-shaped Scan (see ``grid_order``), in the un-transposed frame:

    inside a stripe every step is to a 4-neighbour; from stripe k to k + 1 the step is to a 4-neighbour
    when the height is odd or stripe k is one column wide, and otherwise a jump of exactly width(k)
    columns to the right within the same row. Each stripe is a contiguous run of the sequence.
    """
    for height, width in [(1, 5), (2, 7), (3, 5), (4, 4), (5, 9), (6, 10), (7, 3), (8, 8)]:
        for stripe, shift in [(1, 0), (2, 0), (3, 0), (4, 0), (2, 1), (3, 2), (5, 0)]:
            order = grid_order(height, width, "mair", stripe=stripe, shift=shift, transpose=transpose)
            if transpose:  # go to the frame of the transposed grid: (col, row), with width <-> height
                path = [(c, r) for r, c in cells(order, width)]
                h, w = width, height
            else:
                path, h, w = cells(order, width), height, width
            stripes = mair_stripes(w, stripe, shift)
            start = 0
            for k, (a, b) in enumerate(stripes):
                run = path[start : start + h * (b - a)]
                assert all(a <= c < b for _, c in run), "each stripe is one contiguous run"
                assert all(manhattan(p, q) == 1 for p, q in zip(run, run[1:]))
                start += len(run)
                if k + 1 < len(stripes):
                    end, nxt = run[-1], path[start]
                    if h % 2 == 1 or b - a == 1:
                        assert manhattan(end, nxt) == 1, (height, width, stripe, shift, k)
                    else:
                        assert nxt == (end[0], end[1] + (b - a)), (height, width, stripe, shift, k)
            # With an odd height the whole path is continuous.
            if h % 2 == 1:
                assert all(manhattan(p, q) == 1 for p, q in zip(path, path[1:]))


def test_transpose_is_the_order_of_the_transposed_grid():
    for kind, opts in all_variants():
        if not opts["transpose"]:
            continue
        base = {k: v for k, v in opts.items() if k != "transpose"}
        for height, width in [(3, 5), (4, 6)]:
            t = grid_order(width, height, kind, **base)  # flat indices of the (width, height) grid
            expected = (t % height) * width + t // height
            assert torch.equal(grid_order(height, width, kind, **opts), expected)


@pytest.mark.parametrize("kind,opts", list(all_variants()))
def test_grid_serializer_exact_inverse(kind, opts):
    ser = GridSerializer(kind, **opts)
    gen = torch.Generator().manual_seed(0)
    for height, width in [(1, 1), (3, 5), (7, 9), (8, 8), (5, 1)]:
        x = torch.randn(2, 3, height, width, generator=gen)
        seq = ser.to_sequence(x)
        assert seq.shape == (2, height * width, 3)
        order = grid_order(height, width, kind, **opts)
        assert torch.equal(seq, x.flatten(2)[:, :, order].transpose(1, 2))
        assert torch.equal(ser.to_grid(seq, height, width), x)


def test_grid_serializer_caches_and_passes_gradients():
    ser = GridSerializer("hilbert")
    first = ser.orders(5, 6)
    assert ser.orders(5, 6) is first
    x = torch.randn(1, 2, 5, 6, requires_grad=True)
    ser.to_grid(ser.to_sequence(x) * 2, 5, 6).sum().backward()
    assert torch.equal(x.grad, torch.full_like(x, 2.0))


def test_grid_order_returns_a_fresh_tensor():
    grid_order(3, 3, "snake")[0] = 99
    assert grid_order(3, 3, "snake")[0] == 0


def test_grid_errors():
    with pytest.raises(ValueError, match="raster, snake, mair, zorder, hilbert"):
        grid_order(3, 3, "spiral")
    with pytest.raises(ValueError, match="unknown kind"):
        GridSerializer("diagonal")
    with pytest.raises(ValueError, match="stripe"):
        grid_order(3, 3, "mair")
    with pytest.raises(ValueError, match="stripe must be an integer >= 1"):
        grid_order(3, 3, "mair", stripe=0)
    with pytest.raises(ValueError, match="stripe must be an integer >= 1"):
        GridSerializer("mair", stripe=-2)
    with pytest.raises(ValueError, match="shift"):
        grid_order(3, 3, "mair", stripe=2, shift=2)
    with pytest.raises(ValueError, match="mair"):
        grid_order(3, 3, "snake", stripe=2)
    with pytest.raises(ValueError, match="height"):
        grid_order(0, 3, "raster")
    ser = GridSerializer("snake")
    with pytest.raises(ValueError, match="batch, channels, height, width"):
        ser.to_sequence(torch.zeros(3, 4, 5))
    with pytest.raises(ValueError, match="batch, height \\* width, channels"):
        ser.to_grid(torch.zeros(3, 4), 2, 2)
    with pytest.raises(ValueError, match="sequence length 5"):
        ser.to_grid(torch.zeros(1, 5, 2), 2, 2)


def test_invert_order():
    order = torch.tensor([[2, 0, 1], [0, 2, 1]])
    inv = invert_order(order)
    assert torch.equal(inv, torch.tensor([[1, 2, 0], [0, 2, 1]]))
    assert torch.equal(order.gather(1, inv), torch.arange(3).expand(2, 3))


# ----------------------------------------------------------------------------------------------- points
def cloud(batch=3, n=50, seed=0) -> torch.Tensor:
    return torch.randn(batch, n, 3, generator=torch.Generator().manual_seed(seed))


def point_options(kind: str) -> list[dict]:
    return [{}, dict(bits=4), dict(grid_size=0.5, bits=8)] if kind in ("zorder", "hilbert") else [{}]


@pytest.mark.parametrize("kind", POINT_ORDERS)
def test_point_orders_are_permutations_and_inverses_exact(kind):
    xyz = cloud()
    feats = torch.randn(3, 50, 4)
    for opts in point_options(kind):
        order = point_order(xyz, kind, **opts)
        assert order.shape == (3, 50) and order.dtype == torch.int64
        assert torch.equal(order.sort(dim=1).values, torch.arange(50).expand(3, 50))
        ser = PointSerializer(kind, **opts)
        seq, order2 = ser.to_sequence(feats, xyz)
        assert torch.equal(order2, order)
        assert torch.equal(seq, feats.gather(1, order[..., None].expand(-1, -1, 4)))
        assert torch.equal(ser.to_points(seq, order), feats)


def test_coordinate_orders_sort_stably():
    xyz = torch.tensor([[[1.0, 0, 5], [0.0, 0, 4], [1.0, 0, 3], [0.0, 0, 2]]])
    assert point_order(xyz, "x").tolist() == [[1, 3, 0, 2]]  # ties keep input order
    assert point_order(xyz, "y").tolist() == [[0, 1, 2, 3]]
    assert point_order(xyz, "z").tolist() == [[3, 2, 1, 0]]
    for axis, kind in enumerate("xyz"):
        xyz = cloud()
        values = xyz[..., axis].gather(1, point_order(xyz, kind))
        assert bool((values[:, 1:] >= values[:, :-1]).all())


def test_inside_out_and_outside_in():
    xyz = cloud(n=200)
    dist = (xyz - xyz.mean(1, keepdim=True)).norm(dim=-1)
    inside = dist.gather(1, point_order(xyz, "inside_out"))
    outside = dist.gather(1, point_order(xyz, "outside_in"))
    assert bool((inside[:, 1:] >= inside[:, :-1]).all())
    assert bool((outside[:, 1:] <= outside[:, :-1]).all())
    # Ties (a symmetric cloud) keep their input order in both directions.
    ring = torch.tensor([[[1.0, 0, 0], [0, 1.0, 0], [-1.0, 0, 0], [0, -1.0, 0]]])
    assert point_order(ring, "inside_out").tolist() == [[0, 1, 2, 3]]
    assert point_order(ring, "outside_in").tolist() == [[0, 1, 2, 3]]


@pytest.mark.parametrize("kind", ["zorder", "hilbert"])
def test_space_filling_orders_group_octants(kind):
    gen = torch.Generator().manual_seed(1)
    xyz = torch.rand(2, 300, 3, generator=gen) * 0.98 + 0.01
    xyz[:, 0] = 0.0  # pin the bounding box to the unit cube, so its octants split at 0.5
    xyz[:, 1] = 1.0
    order = point_order(xyz, kind)
    octant = (xyz >= 0.5).long()
    octant = octant[..., 0] * 4 + octant[..., 1] * 2 + octant[..., 2]
    seq = octant.gather(1, order)
    for b in range(2):
        runs = torch.unique_consecutive(seq[b])
        assert len(runs) == len(set(runs.tolist())) == 8, "each octant is one contiguous run"
        if kind == "zorder":  # Morton: octants in code order (x, y, z bits), so non-decreasing
            assert bool((seq[b, 1:] >= seq[b, :-1]).all())


def test_zorder_points_hand_example():
    # Corners of the unit cube with bits=1: the code is the (x, y, z) bit triple, x most significant.
    corners = torch.tensor(list(itertools.product((0.0, 1.0), repeat=3)))  # already in xyz-binary order
    perm = torch.tensor([5, 2, 7, 0, 3, 6, 1, 4])
    assert torch.equal(point_order(corners[perm][None], "zorder", bits=1)[0], invert_order(perm))


def test_hilbert_points_continuous_on_a_full_lattice():
    axis = torch.arange(8.0)
    lattice = torch.cartesian_prod(axis, axis, axis)  # 512 points, the full 8^3 lattice
    lattice = lattice[torch.randperm(512, generator=torch.Generator().manual_seed(0))][None]
    path = lattice[0][point_order(lattice, "hilbert", bits=3)[0]]
    steps = (path[1:] - path[:-1]).abs().sum(-1)
    assert bool((steps == 1).all())


def test_point_order_degenerate_and_single_point():
    same = torch.ones(1, 5, 3)
    for kind in POINT_ORDERS:
        assert point_order(same, kind).tolist() == [[0, 1, 2, 3, 4]]
        assert point_order(same[:, :1], kind).tolist() == [[0]]


def test_point_errors():
    xyz = cloud()
    with pytest.raises(ValueError, match="x, y, z, inside_out, outside_in, zorder, hilbert"):
        point_order(xyz, "random")
    with pytest.raises(ValueError, match="unknown kind"):
        PointSerializer("morton")
    with pytest.raises(ValueError, match="batch, points, 3"):
        point_order(torch.zeros(5, 3), "x")
    with pytest.raises(ValueError, match="batch, points, 3"):
        point_order(torch.zeros(1, 5, 2), "x")
    with pytest.raises(ValueError, match="empty point cloud"):
        point_order(torch.zeros(2, 0, 3), "zorder")
    bad = xyz.clone()
    bad[1, 7, 2] = float("nan")
    for kind in POINT_ORDERS:
        with pytest.raises(ValueError, match="NaN"):
            point_order(bad, kind)
    with pytest.raises(ValueError, match="bits"):
        point_order(xyz, "zorder", bits=0)
    with pytest.raises(ValueError, match="bits"):
        point_order(xyz, "hilbert", bits=22)
    with pytest.raises(ValueError, match="grid_size"):
        point_order(xyz, "zorder", grid_size=-1.0)
    with pytest.raises(ValueError, match="apply to kinds"):
        point_order(xyz, "x", bits=4)
    with pytest.raises(ValueError, match="larger bits"):
        point_order(xyz * 1000, "zorder", grid_size=0.01, bits=4)
    ser = PointSerializer("inside_out")
    with pytest.raises(ValueError, match="features"):
        ser.to_sequence(torch.zeros(3, 49, 2), xyz)
    seq, order = ser.to_sequence(torch.zeros(3, 50, 2), xyz)
    with pytest.raises(ValueError, match="order"):
        ser.to_points(seq, order[:, :10])
