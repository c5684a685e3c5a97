"""Point operators shared by the point apps: sampling, neighbourhoods, grouping, interpolation.

    from spanmix.apps.points.ops import farthest_point_sample, knn, ball_query, gather, interpolate_3nn

    idx = farthest_point_sample(xyz, 512)                 # (B, 512) indices into xyz (B, N, 3)
    centers = gather(xyz, idx)                            # (B, 512, 3)
    dist2, nbr = knn(centers, xyz, k=20)                  # (B, 512, 20) squared distances and indices
    nbr, count = ball_query(centers, xyz, 0.2, 32)        # (B, 512, 32) padded like the CUDA op, (B, 512)
    grouped = gather(features, nbr)                       # (B, 512, 32, C)
    up = interpolate_3nn(xyz, centers, center_features)   # (B, N, C): inverse-distance 3-NN (PointNet++)

All take batched ``(B, N, 3)`` tensors on any device and work in row chunks, so the largest temporary is
``chunk x N`` distances rather than ``M x N`` (``chunk`` rows are picked to keep it near ``CHUNK_ELEMENTS``).
Indices are int64. Each operator has a brute-force twin (``*_reference``: Python/NumPy loops, one query at
a time) that ``tests/apps/points/test_ops.py`` holds it to on hypothesis-drawn shapes.

Determinism and permutations: ``farthest_point_sample`` starts from the point farthest from the cloud's
centroid (not index 0, as the CUDA op of PointNet++ does), so the set of sampled points does not depend
on the order of the input points (up to exact distance ties). ``knn`` and ``ball_query(order="nearest")``
return neighbour sets that are permutation-invariant in the same sense; ``ball_query(order="index")``
keeps the CUDA op's rule (the first ``k`` points in index order) for parity with published models.

Speed: on CPU tensors that need no gradient, ``farthest_point_sample`` uses ``fpsample``, and ``knn`` (3-D
points) and ``ball_query(order="nearest")`` use SciPy's ``cKDTree``, where ``benchmarks/points.py`` measured
them faster (from ``KDTREE_MIN_PAIRS`` query x ref pairs on); set ``SPANMIX_POINTS_TORCH_OPS=1`` to force the
torch paths. Results are the same as the torch paths' (up to the order of exact distance ties).
"""
from __future__ import annotations

import math
import os

import numpy as np
import torch

__all__ = [
    "CHUNK_ELEMENTS", "ball_query", "ball_query_reference", "farthest_point_sample",
    "farthest_point_sample_reference", "gather", "interpolate_3nn", "interpolate_3nn_reference", "knn",
    "knn_reference",
]

#: target size of the (chunk, N) distance block each operator holds at once
CHUNK_ELEMENTS = 1 << 22


def _check_xyz(who: str, name: str, xyz) -> None:
    if not isinstance(xyz, torch.Tensor) or xyz.dim() != 3 or xyz.shape[-1] != 3:
        shape = tuple(xyz.shape) if isinstance(xyz, torch.Tensor) else type(xyz).__name__
        raise ValueError(f"{who}: expected {name} of shape (batch, points, 3), got {shape}")
    if xyz.shape[1] == 0:
        raise ValueError(f"{who}: {name} is an empty point cloud (N == 0)")
    if not xyz.is_floating_point():
        raise ValueError(f"{who}: {name} must be a floating-point tensor, got {xyz.dtype}")


def _check_pair(who: str, query, ref, *, any_dim: bool = False) -> None:
    if any_dim:
        for name, t in (("query", query), ("ref", ref)):
            if not isinstance(t, torch.Tensor) or t.dim() != 3 or not t.is_floating_point() or t.shape[1] == 0:
                shape = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
                raise ValueError(f"{who}: expected {name} as a non-empty float tensor (batch, points, dims), got {shape}")
        if query.shape[-1] != ref.shape[-1]:
            raise ValueError(f"{who}: query and ref must have the same dims, got {query.shape[-1]} and {ref.shape[-1]}")
    else:
        _check_xyz(who, "query", query)
        _check_xyz(who, "ref", ref)
    if query.shape[0] != ref.shape[0]:
        raise ValueError(f"{who}: query and ref must have the same batch size, got {query.shape[0]} and {ref.shape[0]}")


def _check_int(who: str, name: str, value, low: int, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        span = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{who}: {name} must be an integer {span}, got {value!r}")


def _rows(n: int, chunk: int | None) -> int:
    return chunk if chunk is not None else max(1, CHUNK_ELEMENTS // max(n, 1))


def _sqdist(query: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """(B, m, N) squared distances. For 3-D points by differences (exact ties stay ties, unlike
    |q|^2 + |r|^2 - 2 q.r); for feature vectors (D > 3) by the matmul form, which needs no (m, N, D) block."""
    if query.shape[-1] <= 3:
        return (query.unsqueeze(2) - ref.unsqueeze(1)).square().sum(-1)
    inner = torch.matmul(query, ref.transpose(1, 2))
    return (query.square().sum(-1, keepdim=True) + ref.square().sum(-1).unsqueeze(1) - 2 * inner).clamp_min(0)


def _fast_cpu() -> bool:
    return os.environ.get("SPANMIX_POINTS_TORCH_OPS", "0") != "1"


# ------------------------------------------------------------------ gather
def gather(values: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``values[b, idx[b, ...]]``: ``values`` (B, N, C), ``idx`` (B, *S) int64 -> (B, *S, C). Differentiable."""
    if not isinstance(values, torch.Tensor) or values.dim() != 3:
        raise ValueError(f"gather: expected values of shape (batch, points, channels), got "
                         f"{tuple(values.shape) if isinstance(values, torch.Tensor) else type(values).__name__}")
    if not isinstance(idx, torch.Tensor) or idx.dim() < 2 or idx.shape[0] != values.shape[0] or idx.dtype != torch.int64:
        raise ValueError(f"gather: expected int64 idx of shape (batch={values.shape[0]}, ...), got "
                         f"{tuple(idx.shape) if isinstance(idx, torch.Tensor) else type(idx).__name__}")
    b, _, c = values.shape
    flat = idx.reshape(b, -1)
    out = values.gather(1, flat.unsqueeze(-1).expand(b, flat.shape[1], c))
    return out.reshape(*idx.shape, c)


# ------------------------------------------------------------------ farthest point sampling
def farthest_point_sample(xyz: torch.Tensor, m: int) -> torch.Tensor:
    """Indices ``(B, m)`` of ``m`` points of ``xyz`` (B, N, 3) chosen by farthest point sampling.

    The first point is the one farthest from the centroid; each next one maximises the distance to the
    points chosen so far (Eldar et al. 1997; PointNet++). O(m N) time, O(B N) memory. Ties in distance go
    to the lowest index.
    """
    _check_xyz("farthest_point_sample", "xyz", xyz)
    _check_int("farthest_point_sample", "m", m, 1, xyz.shape[1])
    if xyz.device.type == "cpu" and not xyz.requires_grad and _fast_cpu() and _fpsample() is not None:
        return _fps_fpsample(xyz, m)
    pts = xyz.detach().double()  # float64 so that the choice matches the reference's up to exact ties
    b, n, _ = pts.shape
    start = (pts - pts.mean(1, keepdim=True)).square().sum(-1).argmax(1)  # (B,)
    idx = torch.empty(b, m, dtype=torch.int64, device=pts.device)
    mind = torch.full((b, n), float("inf"), dtype=pts.dtype, device=pts.device)
    cur = start
    arange = torch.arange(b, device=pts.device)
    for i in range(m):
        idx[:, i] = cur
        d = (pts - pts[arange, cur].unsqueeze(1)).square().sum(-1)
        mind = torch.minimum(mind, d)
        cur = mind.argmax(1)
    return idx


_FPSAMPLE = None


def _fpsample():
    global _FPSAMPLE
    if _FPSAMPLE is None:
        try:
            import fpsample
            _FPSAMPLE = fpsample
        except ImportError:
            _FPSAMPLE = False
    return _FPSAMPLE or None


def _fps_fpsample(xyz: torch.Tensor, m: int) -> torch.Tensor:
    pts = xyz.detach().double().numpy()
    out = np.empty((len(pts), m), dtype=np.int64)
    for i, p in enumerate(pts):
        start = int(np.square(p - p.mean(0)).sum(-1).argmax())
        out[i] = _fpsample().fps_sampling(p, m, start_idx=start)
    return torch.from_numpy(out)


def farthest_point_sample_reference(xyz: torch.Tensor, m: int) -> torch.Tensor:
    """Twin of :func:`farthest_point_sample`: one cloud and one distance at a time in NumPy float64."""
    out = []
    for p in xyz.detach().double().cpu().numpy():
        c = p.mean(0)
        chosen = [int(np.argmax([np.sum((q - c) ** 2) for q in p]))]
        mind = np.full(len(p), np.inf)
        while len(chosen) < m:
            last = p[chosen[-1]]
            mind = np.minimum(mind, ((p - last) ** 2).sum(-1))
            chosen.append(int(np.argmax(mind)))
        out.append(chosen)
    return torch.tensor(out, dtype=torch.int64)


# ------------------------------------------------------------------ kNN
def knn(query: torch.Tensor, ref: torch.Tensor, k: int, *, chunk: int | None = None):
    """The ``k`` nearest points of ``ref`` (B, N, D) for each point of ``query`` (B, M, D), nearest first.

    D is 3 for points; any D works (DGCNN's and ADGConv's graphs in feature space).
    Returns ``(dist2, idx)``, both (B, M, k): squared Euclidean distances and int64 indices into ``ref``.
    A query point that is also in ``ref`` is its own first neighbour. Works in chunks of query rows:
    O(M N) time, O(chunk N + M k) memory. Distances are differentiable; indices are not.
    """
    _check_pair("knn", query, ref, any_dim=True)
    _check_int("knn", "k", k, 1, ref.shape[1])
    if (query.device.type == "cpu" and not (query.requires_grad or ref.requires_grad) and _fast_cpu()
            and query.shape[-1] == 3 and query.shape[1] * ref.shape[1] >= KDTREE_MIN_PAIRS):
        return _knn_kdtree(query, ref, k)
    rows = _rows(ref.shape[1], chunk)
    dists, idxs = [], []
    for s in range(0, query.shape[1], rows):
        d = _sqdist(query[:, s:s + rows], ref)
        dd, ii = d.topk(k, dim=-1, largest=False, sorted=True)
        dists.append(dd)
        idxs.append(ii)
    return torch.cat(dists, 1), torch.cat(idxs, 1)


#: from this many query x ref pairs on, SciPy's KD-tree beats the torch path on CPU (benchmarks/points.py:
#: 30x for kNN and 60x for ball query already at N = 1,024)
KDTREE_MIN_PAIRS = 1 << 12


def _knn_kdtree(query: torch.Tensor, ref: torch.Tensor, k: int):
    from scipy.spatial import cKDTree

    q, r = query.detach().double().numpy(), ref.detach().double().numpy()
    dist, idx = [], []
    for qb, rb in zip(q, r):
        d, i = cKDTree(rb).query(qb, k=k, workers=-1)
        d, i = d.reshape(len(qb), k), i.reshape(len(qb), k)
        dist.append(d)
        idx.append(i)
    return (torch.from_numpy(np.square(np.stack(dist))).to(query.dtype),
            torch.from_numpy(np.stack(idx).astype(np.int64)))


def knn_reference(query: torch.Tensor, ref: torch.Tensor, k: int):
    """Twin of :func:`knn`: every distance in float64, a stable sort per query point."""
    d2, ii = [], []
    for qb, rb in zip(query.detach().double().cpu(), ref.detach().double().cpu()):
        rows_d, rows_i = [], []
        for q in qb:
            d = ((rb - q) ** 2).sum(-1)
            order = torch.sort(d, stable=True).indices[:k]
            rows_d.append(d[order])
            rows_i.append(order)
        d2.append(torch.stack(rows_d))
        ii.append(torch.stack(rows_i))
    return torch.stack(d2), torch.stack(ii)


# ------------------------------------------------------------------ ball query
def ball_query(query: torch.Tensor, ref: torch.Tensor, radius: float, k: int, *, order: str = "index",
               chunk: int | None = None):
    """Up to ``k`` points of ``ref`` (B, N, 3) within ``radius`` (strictly: d^2 < r^2) of each ``query`` point.

    Returns ``(idx, count)``: ``idx`` (B, M, k) int64, ``count`` (B, M) the number found (capped at k).
    ``order="index"`` takes the first ``k`` in index order, as PointNet++'s CUDA ``ball_query``;
    ``order="nearest"`` the ``k`` nearest (a permutation-invariant set). Padding is the CUDA op's: empty
    slots repeat the first neighbour found; a ball with no point gets index 0 with ``order="index"`` (the
    CUDA op leaves its zero-initialised output) and the nearest point with ``order="nearest"``.
    O(M N) time, O(chunk N) memory.
    """
    _check_pair("ball_query", query, ref)
    _check_int("ball_query", "k", k, 1)
    if not (isinstance(radius, (int, float)) and not isinstance(radius, bool) and radius > 0 and math.isfinite(radius)):
        raise ValueError(f"ball_query: radius must be a positive finite number, got {radius!r}")
    if order not in ("index", "nearest"):
        raise ValueError(f"ball_query: order must be 'index' or 'nearest', got {order!r}")
    n = ref.shape[1]
    kk = min(k, n)
    if (order == "nearest" and query.device.type == "cpu" and _fast_cpu()
            and query.shape[1] * n >= KDTREE_MIN_PAIRS):
        return _ball_query_kdtree(query, ref, radius, k, kk)
    rows = _rows(n, chunk)
    idxs, counts = [], []
    for s in range(0, query.shape[1], rows):
        d = _sqdist(query[:, s:s + rows].detach(), ref.detach())
        inside = d < radius * radius
        if order == "index":
            key = torch.where(inside, torch.arange(n, device=d.device).to(d.dtype), torch.full_like(d, float(n)))
        else:
            key = torch.where(inside, d, d + d.new_tensor(float("inf")))
        _, ii = key.topk(kk, dim=-1, largest=False, sorted=True)
        cnt = inside.sum(-1).clamp(max=k)
        valid = torch.arange(kk, device=d.device) < cnt.unsqueeze(-1)
        if order == "index":
            first = torch.where(cnt > 0, ii[..., 0], torch.zeros_like(ii[..., 0]))
        else:
            first = torch.where(cnt > 0, ii[..., 0], d.argmin(-1))
        ii = torch.where(valid, ii, first.unsqueeze(-1))
        if kk < k:
            ii = torch.cat([ii, first.unsqueeze(-1).expand(*ii.shape[:2], k - kk)], -1)
        idxs.append(ii)
        counts.append(cnt)
    return torch.cat(idxs, 1), torch.cat(counts, 1)


def _ball_query_kdtree(query, ref, radius, k, kk):
    """``order="nearest"`` through ``cKDTree.query(k, distance_upper_bound=radius)`` (strictly inside)."""
    from scipy.spatial import cKDTree

    q, r = query.detach().double().numpy(), ref.detach().double().numpy()
    idxs, counts = [], []
    for qb, rb in zip(q, r):
        tree = cKDTree(rb)
        d, i = tree.query(qb, k=kk, distance_upper_bound=radius, workers=-1)
        d, i = d.reshape(len(qb), kk), i.reshape(len(qb), kk)
        inside = np.isfinite(d)
        cnt = inside.sum(1)
        first = np.where(cnt > 0, i[:, 0], tree.query(qb, k=1)[1].reshape(-1))
        i = np.where(inside, i, first[:, None])
        if kk < k:
            i = np.concatenate([i, np.repeat(first[:, None], k - kk, 1)], 1)
        idxs.append(i)
        counts.append(cnt)
    return torch.from_numpy(np.stack(idxs).astype(np.int64)), torch.from_numpy(np.stack(counts).astype(np.int64))


def ball_query_reference(query: torch.Tensor, ref: torch.Tensor, radius: float, k: int, *, order: str = "index"):
    """Twin of :func:`ball_query`: a loop over every query point and every reference point."""
    out_i, out_c = [], []
    for qb, rb in zip(query.detach().double().cpu().tolist(), ref.detach().double().cpu().tolist()):
        rows_i, rows_c = [], []
        for q in qb:
            d = [sum((a - b) ** 2 for a, b in zip(q, r)) for r in rb]
            found = [j for j in range(len(rb)) if d[j] < radius * radius]
            if order == "nearest":
                found = sorted(found, key=lambda j: (d[j], j))
            found = found[:k]
            if found:
                pad = found[0]
            else:
                pad = 0 if order == "index" else min(range(len(rb)), key=lambda j: (d[j], j))
            rows_i.append(found + [pad] * (k - len(found)))
            rows_c.append(len(found))
        out_i.append(rows_i)
        out_c.append(rows_c)
    return torch.tensor(out_i, dtype=torch.int64), torch.tensor(out_c, dtype=torch.int64)


# ------------------------------------------------------------------ interpolation
def interpolate_3nn(xyz: torch.Tensor, known_xyz: torch.Tensor, known_features: torch.Tensor, *,
                    eps: float = 1e-8, chunk: int | None = None) -> torch.Tensor:
    """Features at ``xyz`` (B, N, 3) from ``known_features`` (B, M, C) at ``known_xyz`` (B, M, 3): the
    inverse-distance weighted mean of the 3 nearest known points (PointNet++ feature propagation, weights
    1 / (d + eps) normalised, d the Euclidean distance as in ``pointnet2_ops``). With M < 3 all M are used.
    Differentiable in ``known_features`` (and the distances). O(N M) time, O(chunk M) memory.
    """
    _check_pair("interpolate_3nn", xyz, known_xyz)
    if (not isinstance(known_features, torch.Tensor) or known_features.dim() != 3
            or known_features.shape[:2] != known_xyz.shape[:2]):
        raise ValueError(f"interpolate_3nn: expected known_features of shape (batch, {known_xyz.shape[1]}, "
                         f"channels) matching known_xyz, got {tuple(getattr(known_features, 'shape', ()))}")
    k = min(3, known_xyz.shape[1])
    rows = _rows(known_xyz.shape[1], chunk)
    outs = []
    for s in range(0, xyz.shape[1], rows):
        d2, idx = (_sqdist(xyz[:, s:s + rows], known_xyz)).topk(k, dim=-1, largest=False, sorted=True)
        w = 1.0 / (d2.clamp_min(0).sqrt() + eps)
        w = w / w.sum(-1, keepdim=True)
        outs.append((gather(known_features, idx) * w.unsqueeze(-1)).sum(2))
    return torch.cat(outs, 1)


def interpolate_3nn_reference(xyz, known_xyz, known_features, *, eps: float = 1e-8) -> torch.Tensor:
    """Twin of :func:`interpolate_3nn`: per point, sort all distances, weight the first three."""
    out = []
    for p, kp, kf in zip(xyz.double(), known_xyz.double(), known_features.double()):
        rows = []
        for q in p:
            d = ((kp - q) ** 2).sum(-1).sqrt()
            order = torch.sort(d, stable=True).indices[:3]
            w = 1.0 / (d[order] + eps)
            rows.append((kf[order] * (w / w.sum()).unsqueeze(-1)).sum(0))
        out.append(torch.stack(rows))
    return torch.stack(out)
