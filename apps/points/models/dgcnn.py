"""DGCNN (Wang et al., "Dynamic Graph CNN for Learning on Point Clouds", ACM TOG 2019), classification.

The baseline of the points app, re-derived from the paper (Fig. 3, §4.1) and the architecture of the
authors' PyTorch release (WangYueFt/dgcnn, ``pytorch/model.py``): four EdgeConv layers (64, 64, 128, 256)
on a kNN graph (k = 20) recomputed in each layer's feature space (the first in xyz), edge features
(x_i, x_j - x_i), Conv-BN-LeakyReLU(0.2), max over neighbours; the four outputs concatenated (512) and
lifted to ``emb_dims`` = 1024; max + mean pooling (2048); MLP 512-256-classes with dropout 0.5.
1,809,576 parameters at 40 classes, as the official definitions count (pinned in the tests; see
``tests/apps/points/test_models.py``).

Departures: channel-last ``Linear`` layers instead of 1x1 ``Conv2d``/``Conv1d`` (the same maps and
parameter counts); the EdgeConv product is split by linearity (``common.edge_conv``: same function, k x
fewer FLOPs); the graph comes from ``ops.knn`` (the official code's ``topk`` of negative pairwise
distances, which also includes each point itself).

Shapes: ``x`` (B, N, 3 or 6) -> logits (B, num_classes). Cost: O(N^2) per layer for the graph.
"""
from __future__ import annotations

import torch
from spanmix.apps.points import ops
from spanmix.apps.points.models.common import PointModel, check_cloud, edge_conv, linear_bn
from torch import nn

__all__ = ["DGCNN"]


class DGCNN(PointModel):
    """DGCNN classifier (module docstring). ``x`` (B, N, in_channels) -> logits (B, num_classes).

    Args:
        num_classes: classes. in_channels: 3 or 6. k: neighbours (20 in the paper).
        widths: EdgeConv widths. emb_dims: width before pooling. dropout: in the head.
    """

    def __init__(self, num_classes: int, in_channels: int = 3, *, k: int = 20, widths=(64, 64, 128, 256),
                 emb_dims: int = 1024, dropout: float = 0.5):
        super().__init__(in_channels)
        self.k = k
        dims = (in_channels, *widths)
        self.edges = nn.ModuleList(linear_bn(2 * dims[i], dims[i + 1], act="leaky") for i in range(len(widths)))
        self.lift = linear_bn(sum(widths), emb_dims, act="leaky")
        self.head = nn.Sequential(linear_bn(2 * emb_dims, 512, act="leaky"), nn.Dropout(dropout),
                                  nn.Linear(512, 256), *linear_bn(256, 256, act="leaky")[1:], nn.Dropout(dropout),
                                  nn.Linear(256, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_cloud(type(self).__name__, x, self.in_channels)
        h, outs = x, []
        k = min(self.k, x.shape[1])
        for i, edge in enumerate(self.edges):
            space = x[..., :3] if i == 0 else h
            _, nbr = ops.knn(space.detach(), space.detach(), k)
            h = edge_conv(edge, h, nbr)
            outs.append(h)
        f = self.lift(torch.cat(outs, -1))
        return self.head(torch.cat([f.amax(1), f.mean(1)], -1))
