"""Layers and checks shared by the point models: channel-last Linear-BN-activation, input checks."""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["ChannelBN", "PointModel", "bn_act", "check_cloud", "check_seq", "edge_conv", "linear_bn"]


class ChannelBN(nn.BatchNorm1d):
    """BatchNorm over the last (channel) dimension of a tensor of any rank: (..., C) -> (..., C)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.reshape(-1, x.shape[-1])).reshape(x.shape)


def bn_act(dim: int, act: str | bool = "relu") -> nn.Module:
    layers: list[nn.Module] = [ChannelBN(dim)]
    if act == "relu" or act is True:
        layers.append(nn.ReLU())
    elif act == "leaky":
        layers.append(nn.LeakyReLU(0.2))
    return nn.Sequential(*layers)


def linear_bn(in_dim: int, out_dim: int, act: str | bool = "relu") -> nn.Sequential:
    """Linear (no bias) -> BatchNorm -> activation on channel-last tensors (the family's shared 1x1 conv)."""
    return nn.Sequential(nn.Linear(in_dim, out_dim, bias=False), *bn_act(out_dim, act))


def edge_conv(layer: nn.Sequential, h: torch.Tensor, nbr: torch.Tensor) -> torch.Tensor:
    """EdgeConv (DGCNN): max_j act(BN(W [h_i, h_j - h_i])) for ``layer = linear_bn(2D, out)``, ``h`` (B, N, D),
    ``nbr`` (B, N, k) -> (B, N, out).

    By linearity W [h_i, h_j - h_i] = (W_a - W_b) h_i + W_b h_j, so both products are taken per point and
    only their sum is formed per edge: k times fewer multiply-adds than applying W to the (B, N, k, 2D)
    edge tensor, the same function and the same parameters.
    """
    from spanmix.apps.points.ops import gather

    linear, norm_act = layer[0], layer[1:]
    d = h.shape[-1]
    wa, wb = linear.weight[:, :d], linear.weight[:, d:]
    edge = (h @ (wa - wb).t()).unsqueeze(2) + gather(h @ wb.t(), nbr)
    return norm_act(edge).amax(2)


def check_seq(who: str, **seqs) -> None:
    lengths = {name: len(s) for name, s in seqs.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"{who}: {', '.join(lengths)} must have one entry per stage, got lengths {lengths}")


def check_cloud(who: str, x, in_channels: int) -> None:
    """One ValueError for anything but a finite float (B, N, in_channels) tensor with N >= 1."""
    if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.shape[-1] != in_channels or x.shape[1] == 0:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{who}: expected points of shape (batch, points >= 1, {in_channels}) "
                         f"(xyz{' + normals' if in_channels == 6 else ''}), got {shape}")
    if not x.is_floating_point() or not bool(torch.isfinite(x).all()):
        raise ValueError(f"{who}: the points must be finite floating-point values (no NaN/inf)")


class PointModel(nn.Module):
    """Base of the point models: records ``in_channels`` and checks the object-category input."""

    def __init__(self, in_channels: int):
        super().__init__()
        if in_channels not in (3, 6):
            raise ValueError(f"{type(self).__name__}: in_channels must be 3 (xyz) or 6 (xyz + normals), got {in_channels!r}")
        self.in_channels = in_channels

    @staticmethod
    def check_category(category, batch: int, num_categories: int, device) -> torch.Tensor:
        if category is None:
            if num_categories == 1:
                return torch.zeros(batch, dtype=torch.int64, device=device)
            raise ValueError(f"part segmentation over {num_categories} categories needs category (B,) int64")
        if not isinstance(category, torch.Tensor) or category.shape != (batch,) or category.dtype != torch.int64:
            raise ValueError(f"category: expected an int64 tensor of shape ({batch},), got "
                             f"{tuple(getattr(category, 'shape', ()))} {getattr(category, 'dtype', type(category))}")
        if bool(((category < 0) | (category >= num_categories)).any()):
            raise ValueError(f"category: values must be in [0, {num_categories}), got {category.tolist()}")
        return category
