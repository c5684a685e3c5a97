"""Set distances for point completion: Chamfer (L2 and L1), density-aware Chamfer (DCD), F-score.

    from spanmix.apps.points.chamfer import chamfer_distance, density_aware_chamfer, f_score

    l2 = chamfer_distance(pred, gt)                       # (B,): (mean_i d_i^2 + mean_j d_j^2) / 2
    l1 = chamfer_distance(pred, gt, squared=False)        # (B,): the same with unsquared distances
    dcd = density_aware_chamfer(pred, gt, alpha=40, n_lambda=0.5)   # (B,) in [0, 1]
    f = f_score(pred, gt, threshold=0.01)                 # (B,)

``pred`` (B, N, 3), ``gt`` (B, M, 3). Nearest neighbours come from ``ops.knn`` (k = 1; chunked, so no
(N, M) matrix for large clouds): the CUDA-only Chamfer extensions of the field (flemme's
``cpp_extension``, PyTorch3D's ``chamfer_distance``, which needs a PyTorch3D build for this torch) are not
used. Gradients flow through the distances (the nearest index is piecewise constant, as in those kernels).

- Chamfer as flemme's ``ChamferLoss`` (``squared_distance=True``: the mean of each direction's squared
  nearest distances, averaged over the two directions); ``squared=False`` the "CD-L1" of PoinTr/PCN.
- DCD (Wu et al., "Density-aware Chamfer Distance as a Comprehensive Metric for Point Cloud Completion",
  NeurIPS 2021, Eq. 4; the formula of flemme's ``DensityAwareChamferLoss``): per direction,
  ``1 - exp(-alpha d^2) / n^lambda * frac``, ``n`` the number of points that share the same nearest point
  (no gradient), ``frac`` the size ratio of the two clouds; averaged over points and directions.
- F-score@threshold (Tatarchenko et al., CVPR 2019): the harmonic mean of precision (predicted points with
  a ground-truth point within ``threshold``) and recall (the converse).

Each has a brute-force twin (``*_reference``: every pairwise distance in float64) for the tests.
"""
from __future__ import annotations

import torch
from spanmix.apps.points import ops

__all__ = ["chamfer_distance", "chamfer_distance_reference", "density_aware_chamfer", "density_aware_chamfer_reference",
           "f_score", "f_score_reference", "nearest"]


def nearest(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For each point of ``a`` (B, N, 3): squared distance to its nearest point of ``b`` (B, M, 3), and its
    index. (B, N) each; the distance is differentiable in both clouds."""
    _, idx = ops.knn(a.detach(), b.detach(), 1)
    idx = idx[..., 0]
    d2 = (a - ops.gather(b, idx)).square().sum(-1)
    return d2, idx


def chamfer_distance(pred: torch.Tensor, gt: torch.Tensor, *, squared: bool = True) -> torch.Tensor:
    d1, _ = nearest(pred, gt)
    d2, _ = nearest(gt, pred)
    if not squared:
        d1, d2 = d1.clamp_min(1e-12).sqrt(), d2.clamp_min(1e-12).sqrt()
    return (d1.mean(-1) + d2.mean(-1)) / 2


def density_aware_chamfer(pred: torch.Tensor, gt: torch.Tensor, *, alpha: float = 1000.0,
                          n_lambda: float = 1.0) -> torch.Tensor:
    n_pred, n_gt = pred.shape[1], gt.shape[1]
    terms = []
    for a, b, frac in ((gt, pred, n_gt / n_pred), (pred, gt, n_pred / n_gt)):
        d2, idx = nearest(a, b)                                              # each point of a -> b
        count = torch.zeros(idx.shape[0], b.shape[1], dtype=d2.dtype, device=d2.device)
        count.scatter_add_(1, idx, torch.ones_like(d2))
        weight = (count.gather(1, idx).detach() ** n_lambda + 1e-6).reciprocal() * frac
        terms.append((1 - torch.exp(-alpha * d2) * weight).mean(-1))
    return (terms[0] + terms[1]) / 2


def f_score(pred: torch.Tensor, gt: torch.Tensor, *, threshold: float = 0.01) -> torch.Tensor:
    d1, _ = nearest(pred, gt)
    d2, _ = nearest(gt, pred)
    t2 = threshold * threshold
    precision = (d1 < t2).double().mean(-1)
    recall = (d2 < t2).double().mean(-1)
    return torch.where(precision + recall > 0, 2 * precision * recall / (precision + recall).clamp_min(1e-12),
                       torch.zeros_like(precision)).to(pred.dtype)


# ------------------------------------------------------------------ brute-force twins
def _pairwise(a, b):
    return ((a.double().unsqueeze(2) - b.double().unsqueeze(1)) ** 2).sum(-1)   # (B, N, M)


def chamfer_distance_reference(pred, gt, *, squared: bool = True) -> torch.Tensor:
    d = _pairwise(pred, gt)
    d1, d2 = d.min(2).values, d.min(1).values
    if not squared:
        d1, d2 = d1.sqrt(), d2.sqrt()
    return (d1.mean(-1) + d2.mean(-1)) / 2


def density_aware_chamfer_reference(pred, gt, *, alpha: float = 1000.0, n_lambda: float = 1.0) -> torch.Tensor:
    out = []
    for p, g in zip(pred.double(), gt.double()):
        total = 0.0
        for a, b in ((g, p), (p, g)):
            d = ((a[:, None] - b[None]) ** 2).sum(-1)
            j = d.argmin(1).tolist()
            counts = {t: j.count(t) for t in set(j)}
            frac = len(a) / len(b)
            total += sum(1 - float(torch.exp(-alpha * d[i, t])) / (counts[t] ** n_lambda + 1e-6) * frac
                         for i, t in enumerate(j)) / len(a)
        out.append(total / 2)
    return torch.tensor(out, dtype=torch.float64)


def f_score_reference(pred, gt, *, threshold: float = 0.01) -> torch.Tensor:
    d = _pairwise(pred, gt).sqrt()
    p = (d.min(2).values < threshold).double().mean(-1)
    r = (d.min(1).values < threshold).double().mean(-1)
    return torch.where(p + r > 0, 2 * p * r / (p + r).clamp_min(1e-12), torch.zeros_like(p))
