import pytest
import torch


@pytest.fixture
def batch():
    """Two random windows in the collate layout (synthetic: unit tests only)."""
    g = torch.Generator().manual_seed(0)
    B, T, S = 2, 40, 6
    events = torch.stack([torch.randint(0, n, (B, T), generator=g) for n in (2, 49, 16, 130)], -1)
    return {"events": events, "bar_pos": torch.randint(0, 16, (B, T), generator=g),
            "segment": torch.sort(torch.randint(0, S, (B, T), generator=g), 1).values,
            "chords": torch.randint(0, 49, (B, S), generator=g), "chord_pos": torch.randint(0, 16, (B, S), generator=g),
            "chord_len": torch.randint(1, 16, (B, S), generator=g), "mask": torch.ones(B, T, dtype=torch.bool),
            "chord_mask": torch.ones(B, S, dtype=torch.bool)}

