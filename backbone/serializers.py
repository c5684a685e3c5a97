"""Grids and point sets <-> sequences, so that any sequence mixer can run on images and point clouds.

Every serializer is a permutation, so ``to_grid(to_sequence(x))`` and ``to_points(*to_sequence(f, xyz))``
give back their input exactly (bit for bit).

Grids: ``grid_order(height, width, kind)`` gives, for each sequence position, the row-major flat index
``row * width + col`` of the cell read there; ``GridSerializer`` applies it to ``(B, C, H, W)`` tensors.

    kind       path (``transpose=True`` swaps the roles of rows and columns: the column-major twin)
    raster     rows top to bottom, each left to right
    snake      boustrophedon: row r left to right when r is even, right to left when r is odd
    mair       MaIR's Nested S-shaped Scan (needs ``stripe``); see ``grid_order``
    zorder     Morton order of (row, col), the row bit the more significant of each pair
    hilbert    Hilbert curve of the enclosing 2^n x 2^n square, restricted to the grid

Point clouds: ``point_order(xyz, kind)`` gives, per cloud, the indices of the points in sequence order;
``PointSerializer`` applies it to ``(B, N, C)`` features.

    kind        order
    x, y, z     ascending coordinate (stable: ties keep their input order)
    inside_out  ascending distance to the cloud's centroid (stable)
    outside_in  descending distance to the centroid (stable)
    zorder      Morton code of the quantised (x, y, z), x the most significant of each bit triple
    hilbert     3-D Hilbert index of the quantised (x, y, z) (Skilling's algorithm)
"""
from __future__ import annotations

import numbers
from functools import lru_cache

import torch

__all__ = [
    "GRID_ORDERS",
    "POINT_ORDERS",
    "GridSerializer",
    "PointSerializer",
    "grid_order",
    "invert_order",
    "point_order",
]

GRID_ORDERS = ("raster", "snake", "mair", "zorder", "hilbert")
POINT_ORDERS = ("x", "y", "z", "inside_out", "outside_in", "zorder", "hilbert")
_DEFAULT_BITS = 10
_MAX_POINT_BITS = 21  # 3 * 21 = 63 bits: the code fits an int64


# --------------------------------------------------------------------------------------- curve indices
# Magic-number bit spreading: bit j of a value moves to bit n * j (n = 2: 32-bit input; n = 3: 21-bit input).
_SPREAD = {
    2: (0xFFFFFFFF, [(16, 0x0000FFFF0000FFFF), (8, 0x00FF00FF00FF00FF), (4, 0x0F0F0F0F0F0F0F0F),
                     (2, 0x3333333333333333), (1, 0x5555555555555555)]),
    3: (0x1FFFFF, [(32, 0x001F00000000FFFF), (16, 0x001F0000FF0000FF), (8, 0x100F00F00F00F00F),
                   (4, 0x10C30C30C30C30C3), (2, 0x1249249249249249)]),
}


def _interleave(values: list[torch.Tensor], bits: int) -> torch.Tensor:
    """Bit ``j`` of ``values[i]`` goes to bit ``j * n + (n - 1 - i)`` (``n = len(values)``): axis 0 is the
    most significant of each group of ``n`` bits. int64 result; ``n * bits <= 63``."""
    n = len(values)
    code = torch.zeros_like(values[0], dtype=torch.int64)
    for i, v in enumerate(values):
        v = v.to(torch.int64)
        if n in _SPREAD:
            mask, steps = _SPREAD[n]
            v = v & mask
            for shift, m in steps:
                v = (v | (v << shift)) & m
        else:
            v = sum((((v >> j) & 1) << (j * n)) for j in range(bits))
        code |= v << (n - 1 - i)
    return code


def _morton_index(coords: torch.Tensor, bits: int) -> torch.Tensor:
    """Morton (Z-order) code of non-negative integer ``coords`` ``(..., n)`` with ``bits`` bits per axis.

    Bit ``j`` of axis ``i`` goes to bit ``j * n + (n - 1 - i)`` of the code: axis 0 is the most significant.
    """
    return _interleave([coords[..., i] for i in range(coords.shape[-1])], bits)


def _hilbert_index(coords: torch.Tensor, bits: int) -> torch.Tensor:
    """Hilbert index of non-negative integer ``coords`` ``(..., n)``, each ``< 2 ** bits``.

    J. Skilling, "Programming the Hilbert curve", AIP Conf. Proc. 707 (2004): the axes are turned into
    the "transposed" Hilbert index, whose bits are then interleaved (axis 0 the most significant).
    Consecutive indices are 4-neighbours (2-D) / 6-neighbours (3-D) on the full ``2^bits``-cube.
    """
    n = coords.shape[-1]
    if bits == 0:
        return torch.zeros(coords.shape[:-1], dtype=torch.int64, device=coords.device)
    x = [coords[..., i].to(torch.int32, copy=True) for i in range(n)]  # updated in place; bits <= 31
    for level in range(bits - 1, 0, -1):  # inverse undo, for q = 2^level down to 2
        p = (1 << level) - 1
        for i in range(n):
            high = -((x[i] >> level) & 1)  # all ones where bit `level` of x[i] is set, else 0
            if i == 0:
                x[0] ^= high & p  # invert the low bits of x[0]
            else:
                t = (x[0] ^ x[i]) & (~high & p)  # exchange the low bits of x[0] and x[i] ...
                x[0] ^= t | (high & p)  # ... where the bit is clear; invert x[0]'s where it is set
                x[i] ^= t
    for i in range(1, n):  # Gray encode
        x[i] ^= x[i - 1]
    t = torch.zeros_like(x[0])
    for level in range(bits - 1, 0, -1):
        t ^= -((x[n - 1] >> level) & 1) & ((1 << level) - 1)
    return _interleave([xi ^ t for xi in x], bits)


# ------------------------------------------------------------------------------------------------ grids
def _check_kind(kind, valid: tuple[str, ...], who: str) -> None:
    if kind not in valid:
        raise ValueError(f"{who}: unknown kind {kind!r}; expected one of: {', '.join(valid)}")


def _check_int(who: str, name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{who}: {name} must be an integer >= {minimum}, got {value!r}")


def _check_grid_options(kind: str, stripe, shift) -> None:
    _check_kind(kind, GRID_ORDERS, "grid_order")
    if kind == "mair":
        if stripe is None:
            raise ValueError("grid_order: kind 'mair' needs stripe=s, the stripe width (an integer >= 1)")
        _check_int("grid_order", "stripe", stripe, 1)
        _check_int("grid_order", "shift", shift, 0)
        if shift >= stripe:
            raise ValueError(f"grid_order: shift must be in [0, stripe={stripe}), got {shift}")
    else:
        if stripe is not None or shift:
            raise ValueError(f"grid_order: stripe and shift apply to kind 'mair' only, not {kind!r}")


def _mair_row_major(height: int, width: int, stripe: int, shift: int) -> torch.Tensor:
    """MaIR's Nested S-shaped Scan on a (height, width) grid with vertical stripes; see ``grid_order``."""
    cells = torch.arange(height * width).reshape(height, width)
    first = [shift] if 0 < shift < width else []
    bounds = [0, *first, *range(shift + stripe, width, stripe), width]
    parts = []
    for k, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        block = cells[:, a:b]
        if k % 2:  # odd stripes are read bottom to top
            block = block.flip(0)
        block = block.clone()
        block[1::2] = block[1::2].flip(1)  # the j-th row read goes left to right iff j is even
        parts.append(block.reshape(-1))
    return torch.cat(parts)


@lru_cache(maxsize=256)
def _grid_order_cached(
    height: int, width: int, kind: str, stripe: int | None, shift: int, transpose: bool
) -> torch.Tensor:
    if transpose:  # the order of the transposed (width, height) grid, mapped back to our flat indices
        t = _grid_order_cached(width, height, kind, stripe, shift, False)
        return (t % height) * width + t // height
    if kind == "raster":
        return torch.arange(height * width)
    if kind == "snake":
        cells = torch.arange(height * width).reshape(height, width).clone()
        cells[1::2] = cells[1::2].flip(1)
        return cells.reshape(-1)
    if kind == "mair":
        return _mair_row_major(height, width, stripe, shift)
    rows = torch.arange(height).repeat_interleave(width)
    cols = torch.arange(width).repeat(height)
    coords = torch.stack((rows, cols), dim=-1)
    bits = max(height - 1, width - 1, 0).bit_length()
    code = _morton_index(coords, bits) if kind == "zorder" else _hilbert_index(coords, bits)
    return torch.argsort(code, stable=True)


def grid_order(
    height: int,
    width: int,
    kind: str,
    *,
    stripe: int | None = None,
    shift: int = 0,
    transpose: bool = False,
) -> torch.Tensor:
    """The serialization order of a ``height x width`` grid: a LongTensor ``(height * width,)``.

    ``order[p]`` is the row-major flat index ``row * width + col`` of the cell at sequence position
    ``p``, so ``seq = flat[..., order]`` and ``flat[..., order] = seq`` inverts it. Kinds are listed in
    the module docstring; ``transpose=True`` gives the order of the transposed grid mapped back (e.g.
    raster -> column-major, snake -> columns alternating up and down, mair -> horizontal stripes read
    column by column). A reversed scan is ``order.flip(0)``.

    ``mair`` (Li et al., "MaIR: A Locality- and Continuity-Preserving Mamba for Image Restoration",
    CVPR 2025), Nested S-shaped Scan, the rule of the authors' code (``sscan`` in
    ``basicsr/archs/shift_scanf_util.py``): the columns are cut into vertical stripes ``[0, s)``,
    ``[s, 2s)``, ... (``s = stripe``; the last one narrower when ``s`` does not divide ``width``; with
    ``shift = t > 0`` the first stripe is ``[0, t)`` and the others start at ``t + m s``, MaIR's shifted
    stripes). Stripes are read left to right; stripe ``k`` is read row by row, top to bottom when ``k``
    is even and bottom to top when ``k`` is odd, and the ``j``-th row it reads goes left to right when
    ``j`` is even and right to left when ``j`` is odd. Hence:

    - inside a stripe every step moves to a 4-neighbour;
    - from stripe ``k`` to stripe ``k + 1`` the step is to a 4-neighbour when ``height`` is odd or stripe
      ``k`` is one column wide; otherwise (even ``height``, stripe ``k`` of width ``w_k >= 2``) it stays
      in the same row and jumps ``w_k`` columns to the right. No row-by-row S-scan can do better there:
      an even number of rows leaves a stripe on the side it was entered from.

    With ``transpose=True`` the same holds with rows and columns swapped (horizontal stripes ``s`` rows
    high, read column by column; continuous at the stripe boundaries when ``width`` is odd).

    Z-order and Hilbert orders of a non-power-of-two grid are those of the enclosing ``2^n x 2^n``
    square restricted to the grid (order kept); the Hilbert path steps to a 4-neighbour everywhere when
    ``height == width == 2^n``, and may jump otherwise.
    """
    _check_int("grid_order", "height", height, 1)
    _check_int("grid_order", "width", width, 1)
    _check_grid_options(kind, stripe, shift)
    stripe = None if stripe is None else int(stripe)
    return _grid_order_cached(int(height), int(width), kind, stripe, int(shift), bool(transpose)).clone()


def invert_order(order: torch.Tensor) -> torch.Tensor:
    """The inverse permutation of ``order`` along its last dimension: ``inv[..., order[..., p]] = p``."""
    n = order.shape[-1]
    ramp = torch.arange(n, device=order.device).expand_as(order)
    return torch.empty_like(order).scatter_(-1, order, ramp)


class GridSerializer:
    """Image-like grids <-> sequences in one of the ``grid_order`` orders (no parameters).

    ``to_sequence(x)``: ``(B, C, H, W)`` -> ``(B, H * W, C)``, token ``p`` being the cell ``order[p]``;
    ``to_grid(seq, height, width)``: ``(B, H * W, C)`` -> ``(B, C, H, W)``, its exact inverse. Both are
    index gathers, so gradients flow. Options (``stripe``, ``shift``, ``transpose``) are those of
    ``grid_order`` and are checked here; the permutations are cached per ``(H, W, device)``.
    """

    def __init__(
        self, kind: str = "raster", *, stripe: int | None = None, shift: int = 0, transpose: bool = False
    ):
        _check_grid_options(kind, stripe, shift)
        self.kind, self.stripe, self.shift, self.transpose = kind, stripe, shift, bool(transpose)
        self._cache: dict[tuple[int, int, torch.device], tuple[torch.Tensor, torch.Tensor]] = {}

    def __repr__(self) -> str:
        opts = f", stripe={self.stripe}, shift={self.shift}" if self.kind == "mair" else ""
        return f"GridSerializer(kind={self.kind!r}{opts}, transpose={self.transpose})"

    def orders(self, height: int, width: int, device=None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(order, inverse)`` for an ``height x width`` grid on ``device`` (cached; do not modify)."""
        key = (height, width, torch.device(device) if device is not None else torch.device("cpu"))
        if key not in self._cache:
            order = grid_order(
                height, width, self.kind, stripe=self.stripe, shift=self.shift, transpose=self.transpose
            )
            if len(self._cache) >= 64:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = (order.to(key[2]), invert_order(order).to(key[2]))
        return self._cache[key]

    def to_sequence(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() != 4:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(
                f"GridSerializer.to_sequence: expected (batch, channels, height, width), got {shape}"
            )
        batch, channels, height, width = x.shape
        if height < 1 or width < 1:
            raise ValueError(f"GridSerializer.to_sequence: empty grid {tuple(x.shape)}")
        order, _ = self.orders(height, width, x.device)
        return x.reshape(batch, channels, height * width).transpose(1, 2).index_select(1, order)

    def to_grid(self, seq: torch.Tensor, height: int, width: int) -> torch.Tensor:
        if not isinstance(seq, torch.Tensor) or seq.dim() != 3:
            shape = tuple(seq.shape) if isinstance(seq, torch.Tensor) else type(seq).__name__
            raise ValueError(
                f"GridSerializer.to_grid: expected (batch, height * width, channels), got {shape}"
            )
        _check_int("GridSerializer.to_grid", "height", height, 1)
        _check_int("GridSerializer.to_grid", "width", width, 1)
        batch, length, channels = seq.shape
        if length != height * width:
            raise ValueError(
                f"GridSerializer.to_grid: sequence length {length} != height * width = {height} * {width}"
            )
        _, inverse = self.orders(height, width, seq.device)
        return seq.index_select(1, inverse).transpose(1, 2).reshape(batch, channels, height, width)


# ----------------------------------------------------------------------------------------------- points
def _check_xyz(who: str, xyz) -> None:
    if not isinstance(xyz, torch.Tensor) or xyz.dim() != 3 or xyz.shape[-1] != 3:
        shape = tuple(xyz.shape) if isinstance(xyz, torch.Tensor) else type(xyz).__name__
        raise ValueError(f"{who}: expected xyz of shape (batch, points, 3), got {shape}")
    if xyz.shape[1] == 0:
        raise ValueError(f"{who}: empty point cloud (N == 0)")
    if xyz.is_complex():
        raise ValueError(f"{who}: xyz must be real, got {xyz.dtype}")
    if xyz.is_floating_point() and not bool(torch.isfinite(xyz).all()):
        raise ValueError(f"{who}: xyz contains NaN or infinite coordinates")


def _check_point_options(kind: str, bits, grid_size) -> None:
    _check_kind(kind, POINT_ORDERS, "point_order")
    if kind in ("zorder", "hilbert"):
        if bits is not None:
            _check_int("point_order", "bits", bits, 1)
            if bits > _MAX_POINT_BITS:
                raise ValueError(
                    f"point_order: bits must be <= {_MAX_POINT_BITS} (the code is an int64), got {bits}"
                )
        if grid_size is not None and not (isinstance(grid_size, (int, float)) and grid_size > 0):
            raise ValueError(f"point_order: grid_size must be a number > 0, got {grid_size!r}")
    elif bits is not None or grid_size is not None:
        raise ValueError(
            f"point_order: bits and grid_size apply to kinds 'zorder' and 'hilbert' only, not {kind!r}"
        )


def _quantize(xyz: torch.Tensor, bits: int, grid_size: float | None) -> torch.Tensor:
    """Integer cell coordinates ``(B, N, 3)`` in ``[0, 2^bits)``, relative to each cloud's minimum corner."""
    dtype = torch.float64 if xyz.dtype == torch.float64 else torch.float32
    xyz = xyz.to(dtype)
    low = xyz.amin(dim=1, keepdim=True)
    cells = 1 << bits
    if grid_size is None:
        # One scale for all axes (cubic cells): the largest side of the bounding box spans 2^bits cells.
        extent = (xyz.amax(dim=1, keepdim=True) - low).amax(dim=-1, keepdim=True)
        scaled = (xyz - low) / extent.clamp_min(torch.finfo(dtype).tiny) * cells
        return scaled.floor().long().clamp_(0, cells - 1)
    q = ((xyz - low) / grid_size).floor().long()
    if int(q.max()) >= cells:
        raise ValueError(
            f"point_order: with grid_size={grid_size} a cloud spans {int(q.max()) + 1} cells along an axis, "
            f"more than 2^bits = {cells}; pass a larger bits (<= {_MAX_POINT_BITS}) or grid_size"
        )
    return q


def point_order(
    xyz: torch.Tensor, kind: str, *, bits: int | None = None, grid_size: float | None = None
) -> torch.Tensor:
    """The serialization order of each point cloud: a LongTensor ``(B, N)`` of point indices.

    ``order[b, p]`` is the index of the point of cloud ``b`` read at sequence position ``p``. Kinds are
    listed in the module docstring; every sort is stable (ties keep their input order).

    ``zorder`` and ``hilbert`` quantise first, per cloud, relative to its minimum corner: by default the
    largest side of the cloud's bounding box is cut into ``2^bits`` cells (``bits`` defaults to 10; the
    same cell size on all three axes, so the top bit of each quantised axis splits the bounding cube into
    its octants); with ``grid_size`` the cells have that absolute side instead (a ValueError if a cloud
    then spans ``2^bits`` cells or more along an axis). ``bits <= 21``. Points in one cell tie.

    Raises a ValueError for an unknown kind, a wrong shape, an empty cloud (N == 0), NaN or infinite
    coordinates, and options that do not apply to ``kind``.
    """
    _check_point_options(kind, bits, grid_size)
    _check_xyz("point_order", xyz)
    if kind in ("x", "y", "z"):
        return torch.argsort(xyz[..., "xyz".index(kind)], dim=1, stable=True)
    if kind in ("inside_out", "outside_in"):
        pts = xyz.to(torch.float64 if xyz.dtype == torch.float64 else torch.float32)
        dist = (pts - pts.mean(dim=1, keepdim=True)).square().sum(-1)
        return torch.sort(dist, dim=1, descending=kind == "outside_in", stable=True).indices
    bits = _DEFAULT_BITS if bits is None else bits
    q = _quantize(xyz, bits, grid_size)
    code = _morton_index(q, bits) if kind == "zorder" else _hilbert_index(q, bits)
    return torch.argsort(code, dim=1, stable=True)


class PointSerializer:
    """Point clouds <-> sequences in one of the ``point_order`` orders (no parameters).

    ``to_sequence(features, xyz) -> (seq, order)``: ``features`` ``(B, N, C)`` and ``xyz`` ``(B, N, 3)``
    give ``seq`` ``(B, N, C)`` with ``seq[b, p] = features[b, order[b, p]]`` and ``order`` ``(B, N)``;
    ``to_points(seq, order) -> features`` is its exact inverse. Both are gathers, so gradients flow.
    Options (``bits``, ``grid_size``) are those of ``point_order``.
    """

    def __init__(self, kind: str = "zorder", *, bits: int | None = None, grid_size: float | None = None):
        _check_point_options(kind, bits, grid_size)
        self.kind, self.bits, self.grid_size = kind, bits, grid_size

    def __repr__(self) -> str:
        return f"PointSerializer(kind={self.kind!r}, bits={self.bits}, grid_size={self.grid_size})"

    def order(self, xyz: torch.Tensor) -> torch.Tensor:
        return point_order(xyz, self.kind, bits=self.bits, grid_size=self.grid_size)

    def to_sequence(self, features: torch.Tensor, xyz: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _check_xyz("PointSerializer.to_sequence", xyz)
        ok = isinstance(features, torch.Tensor) and features.dim() == 3
        if not ok or features.shape[:2] != xyz.shape[:2]:
            shape = tuple(features.shape) if isinstance(features, torch.Tensor) else type(features).__name__
            raise ValueError(
                f"PointSerializer.to_sequence: expected features of shape (batch, points, channels) with "
                f"(batch, points) = {tuple(xyz.shape[:2])} as in xyz, got {shape}"
            )
        order = self.order(xyz).to(features.device)
        seq = features.gather(1, order.unsqueeze(-1).expand_as(features))
        return seq, order

    def to_points(self, seq: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
        if not isinstance(seq, torch.Tensor) or seq.dim() != 3:
            shape = tuple(seq.shape) if isinstance(seq, torch.Tensor) else type(seq).__name__
            raise ValueError(
                f"PointSerializer.to_points: expected seq of shape (batch, points, channels), got {shape}"
            )
        if not isinstance(order, torch.Tensor) or order.shape != seq.shape[:2] or order.dtype != torch.int64:
            shape = tuple(order.shape) if isinstance(order, torch.Tensor) else type(order).__name__
            raise ValueError(
                f"PointSerializer.to_points: expected an int64 order of shape (batch, points) = "
                f"{tuple(seq.shape[:2])}, got {shape}"
            )
        inverse = invert_order(order.to(seq.device))
        return seq.gather(1, inverse.unsqueeze(-1).expand_as(seq))
