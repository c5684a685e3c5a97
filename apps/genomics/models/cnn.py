"""A small CNN baseline for DNA classification, after the GenomicBenchmarks baseline (Grešová et al.,
"Genomic benchmarks: a collection of datasets for genomic sequence classification", BMC Genomic Data
2023, Sec. "Baseline model"): token embedding, three blocks of Conv1d -> BatchNorm -> ReLU -> MaxPool(2),
then a pooled linear classifier. The published baseline ends with a flatten over a fixed length; we
pool (mean and max over positions) so any length works.

Shapes: ``ids`` (B, L) long (``[PAD]`` = 4 is embedded as zeros) -> logits (B, n_classes).
"""

from __future__ import annotations

import torch
from spanmix.apps.genomics.tokenizer import CharTokenizer
from torch import nn

__all__ = ["DNACNN"]


class DNACNN(nn.Module):
    """CNN baseline (module docstring).

    Args:
        n_classes: classes. emb_dim: embedding width. channels: widths of the three conv blocks.
        kernel_size: conv taps. dropout: before the classifier.
    """

    def __init__(
        self,
        n_classes: int = 2,
        emb_dim: int = 16,
        channels: tuple[int, ...] = (32, 64, 64),
        kernel_size: int = 9,
        dropout: float = 0.2,
    ):
        super().__init__()
        tok = CharTokenizer()
        self.embedding = nn.Embedding(tok.vocab_size, emb_dim, padding_idx=tok.pad_id)
        layers, width = [], emb_dim
        for c in channels:
            layers += [
                nn.Conv1d(width, c, kernel_size, padding=kernel_size // 2),
                nn.BatchNorm1d(c),
                nn.ReLU(),
                nn.MaxPool1d(2, ceil_mode=True),
            ]
            width = c
        self.convs = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * width, n_classes))

    def forward(self, ids: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        h = self.convs(self.embedding(ids).transpose(1, 2))  # (B, C, L / 8)
        return self.head(torch.cat([h.mean(-1), h.amax(-1)], dim=-1))
