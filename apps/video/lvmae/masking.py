"""LV-MAE's two maskings of a segment sequence (Naiman et al., ICCV 2025, Sec. 3; official
``data/CombinedData.py``: ``random_masking``, ``importance_masking``).

    masked = importance_mask(embeddings, 0.5)          # (B, T, D) -> (B, T) bool, True = masked
    masked = random_mask(embeddings, 0.5, valid=valid)  # valid (B, T) bool: False on padding

Each sample keeps ``int(n * (1 - ratio))`` of its ``n`` real segments (at least one) and masks the rest;
padding (``valid`` False) is never masked.

- ``random_mask``: the kept segments are a uniformly random subset (MAE's per-sample noise + argsort).
- ``importance_mask``: the cosine similarity of each segment with the one before it (0 for the first
  segment, as in the official code); the segments with the *lowest* similarity — where the video changes
  most — are kept, the most redundant ones (most similar to their predecessor) are masked. Ties break by
  position (earlier first).

Departure: the official code never masks a video to zero kept segments because its loader resamples such
videos; here at least one segment is always kept.
"""
from __future__ import annotations

import torch

__all__ = ["importance_mask", "keep_counts", "random_mask"]


def _check(embeddings: torch.Tensor, ratio: float, valid: torch.Tensor | None) -> torch.Tensor:
    if embeddings.ndim != 3:
        raise ValueError(f"embeddings must be (B, T, D), got shape {tuple(embeddings.shape)}")
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"mask ratio must be in [0, 1), got {ratio}")
    b, t, _ = embeddings.shape
    if valid is None:
        return torch.ones(b, t, dtype=torch.bool, device=embeddings.device)
    if valid.shape != (b, t) or valid.dtype != torch.bool:
        raise ValueError(f"valid must be a (B, T) = {(b, t)} bool tensor, got {tuple(valid.shape)} {valid.dtype}")
    return valid


def keep_counts(valid: torch.Tensor, ratio: float) -> torch.Tensor:
    """Kept segments per sample: ``int(n * (1 - ratio))``, at least 1 (``n`` = real segments)."""
    n = valid.sum(1)
    return torch.clamp((n.double() * (1.0 - ratio) + 1e-9).floor().long(), min=1)


def _mask_from_scores(scores: torch.Tensor, valid: torch.Tensor, ratio: float) -> torch.Tensor:
    scores = scores.masked_fill(~valid, float("inf"))
    order = torch.argsort(scores, dim=1, stable=True)  # ascending: first ones are kept
    rank = torch.argsort(order, dim=1)
    return (rank >= keep_counts(valid, ratio)[:, None]) & valid


def random_mask(embeddings: torch.Tensor, ratio: float = 0.5, valid: torch.Tensor | None = None, *,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """Uniformly random masking (module docstring): (B, T, D) -> (B, T) bool, True = masked."""
    valid = _check(embeddings, ratio, valid)
    noise = torch.rand(valid.shape, generator=generator, device=valid.device if generator is None else "cpu")
    return _mask_from_scores(noise.to(valid.device), valid, ratio)


def importance_mask(embeddings: torch.Tensor, ratio: float = 0.5, valid: torch.Tensor | None = None) -> torch.Tensor:
    """Importance masking (module docstring): keep the segments that change most, mask the most redundant."""
    valid = _check(embeddings, ratio, valid)
    x = embeddings.float()
    sim = torch.nn.functional.cosine_similarity(x[:, 1:], x[:, :-1], dim=-1)  # (B, T-1)
    sim = torch.cat([sim.new_zeros(sim.shape[0], 1), sim], dim=1)
    return _mask_from_scores(sim, valid, ratio)
