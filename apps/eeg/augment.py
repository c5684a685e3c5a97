"""Segmentation and recombination (S&R) augmentation of EEG Conformer (Song et al., IEEE TNSRE 2023, Sec. II-D).

Each new trial of class ``c`` is cut into ``n_segments`` equal time segments, segment ``j`` copied from a
random trial of class ``c``, so the new trial keeps the class's time-local statistics in a new order of
sources. The official code draws the source trials from the whole training set of that class and adds
``batch_size / n_classes`` new trials of each class to every batch; here they are drawn from the classes'
trials in the batch itself (no access to the training set from the step), so a class needs at least one
trial in the batch to be augmented.
"""
from __future__ import annotations

import torch

__all__ = ["segment_recombine"]


def segment_recombine(x: torch.Tensor, y: torch.Tensor, n_segments: int = 8,
                      generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, y)`` with S&R trials appended: ``len(x) // n_classes_in_batch`` new ones per class present.

    ``x`` (B, C, T), ``y`` (B,); ``T`` is cut by ``torch.tensor_split`` (equal segments when ``n_segments``
    divides ``T``, as the official 8 x 125 samples of a 1000-sample trial)."""
    if not isinstance(n_segments, int) or not 1 <= n_segments <= x.shape[-1]:
        raise ValueError(f"S&R augmentation: n_segments must be an integer in [1, n_times={x.shape[-1]}], "
                         f"got {n_segments!r}")
    classes = torch.unique(y)
    per_class = len(x) // len(classes)
    bounds = [s[0].item() for s in torch.tensor_split(torch.arange(x.shape[-1]), n_segments)] + [x.shape[-1]]
    new_x, new_y = [], []
    for c in classes:
        pool = torch.nonzero(y == c).flatten()
        pick = pool[torch.randint(len(pool), (per_class, n_segments), generator=generator, device=pool.device)]
        trial = torch.empty((per_class, *x.shape[1:]), dtype=x.dtype, device=x.device)
        for j in range(n_segments):
            trial[..., bounds[j]:bounds[j + 1]] = x[pick[:, j], :, bounds[j]:bounds[j + 1]]
        new_x.append(trial), new_y.append(torch.full((per_class,), int(c), dtype=y.dtype, device=y.device))
    return torch.cat([x, *new_x]), torch.cat([y, *new_y])
