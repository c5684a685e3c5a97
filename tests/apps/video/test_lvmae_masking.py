"""LV-MAE's random and importance masking: counts, padding, and the official ordering."""
from __future__ import annotations

import pytest
import torch

from spanmix.apps.video.lvmae.masking import importance_mask, keep_counts, random_mask


def _official_importance(x: torch.Tensor, ratio: float) -> torch.Tensor:
    """The official ``CombinedData.importance_masking`` for one unpadded (L, D) video, re-derived as a loop."""
    L = len(x)
    keep = int(L * (1 - ratio))
    sims = [0.0] + [float(torch.nn.functional.cosine_similarity(x[i - 1], x[i], dim=0)) for i in range(1, L)]
    order = sorted(range(L), key=lambda i: (sims[i], i))
    masked = torch.ones(L, dtype=torch.bool)
    masked[order[:keep]] = False
    return masked


def test_importance_keeps_the_changes_and_masks_the_redundant():
    base = torch.eye(8)
    # scenes: A A A B B C C C C D -> the first segment and each scene change (3, 5, 9) are the least similar
    seq = torch.stack([base[i] for i in (0, 0, 0, 1, 1, 2, 2, 2, 2, 3)]) + 0.01 * torch.arange(10)[:, None]
    masked = importance_mask(seq[None], 0.6)[0]
    assert masked.sum() == 6
    assert not masked[[0, 3, 5, 9]].any()


@pytest.mark.parametrize("length", [2, 5, 16, 33])
def test_importance_equals_official_ordering(length):
    torch.manual_seed(length)
    x = torch.nn.functional.normalize(torch.randn(length, 12), dim=-1)
    ours = importance_mask(x[None], 0.5)[0]
    assert torch.equal(ours, _official_importance(x, 0.5))


def test_counts_and_padding_never_masked():
    torch.manual_seed(0)
    x = torch.randn(3, 10, 4)
    valid = torch.zeros(3, 10, dtype=torch.bool)
    valid[0, :10], valid[1, :7], valid[2, :1] = True, True, True
    for fn in (random_mask, importance_mask):
        m = fn(x, 0.5, valid)
        assert m.dtype == torch.bool and m.shape == (3, 10)
        assert not (m & ~valid).any()
        assert m.sum(1).tolist() == [5, 4, 0]  # keeps int(n * 0.5), at least 1
    assert keep_counts(valid, 0.5).tolist() == [5, 3, 1]


def test_random_mask_is_random_and_reproducible():
    x = torch.zeros(1, 64, 4)
    a = random_mask(x, 0.5, generator=torch.Generator().manual_seed(1))
    b = random_mask(x, 0.5, generator=torch.Generator().manual_seed(1))
    c = random_mask(x, 0.5, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c) and a.sum() == 32
    freq = torch.stack([random_mask(x, 0.5, generator=torch.Generator().manual_seed(s))[0]
                        for s in range(400)]).float().mean(0)
    assert (freq - 0.5).abs().max() < 0.12  # every position masked about half the time


def test_bad_input():
    with pytest.raises(ValueError, match=r"\(B, T, D\)"):
        importance_mask(torch.zeros(5, 4), 0.5)
    with pytest.raises(ValueError, match=r"ratio must be in \[0, 1\)"):
        random_mask(torch.zeros(1, 5, 4), 1.0)
    with pytest.raises(ValueError, match="valid must be"):
        random_mask(torch.zeros(1, 5, 4), 0.5, valid=torch.ones(1, 4, dtype=torch.bool))
