"""Applying a restoration network to whole images: tiled inference and the x8 self-ensemble (MaIR+).

``restore(net, lq, scale=s, tile=T, overlap=M, self_ensemble=True)`` maps a float ``(3, h, w)`` (or
``(B, 3, h, w)``) image on [0, 1] to ``(…, 3, s·h, s·w)``.

Tiling: the image is cut into cores of side ``T - 2M``; each core is run with ``M`` pixels of context on
every side (clipped at the image border), and only the core's part of the output is kept. A network
whose receptive field reaches at most ``M`` pixels (a CNN) therefore gives exactly the untiled result;
MaIR's scans see the whole input, so for it tiles change the output slightly (the paper's SR numbers
are untiled). A tile at least as large as the image (``T >= max(h, w)``) is one untiled pass.

Self-ensemble (Lim et al. 2017, "EDSR+"; MaIR+): the mean of ``t⁻¹(net(t(x)))`` over the 8 flips and
rotations ``t`` of the square's symmetry group. The result is equivariant to those 8 transforms.
"""
from __future__ import annotations

import torch

__all__ = ["restore", "self_ensemble", "tiled"]


def _transform(x: torch.Tensor, k: int) -> torch.Tensor:
    x = torch.rot90(x, k % 4, dims=(-2, -1))
    return x.flip(-1) if k >= 4 else x


def _inverse(x: torch.Tensor, k: int) -> torch.Tensor:
    x = x.flip(-1) if k >= 4 else x
    return torch.rot90(x, -(k % 4), dims=(-2, -1))


def self_ensemble(fn, x: torch.Tensor) -> torch.Tensor:
    """Mean of ``t⁻¹(fn(t(x)))`` over the 8 dihedral transforms of the last two dimensions."""
    return sum(_inverse(fn(_transform(x, k)), k) for k in range(8)) / 8


def tiled(fn, x: torch.Tensor, *, scale: int, tile: int, overlap: int) -> torch.Tensor:
    """``fn`` applied tile by tile (module docstring); ``x`` ``(B, C, h, w)``."""
    if tile < 1 or overlap < 0 or tile - 2 * overlap < 1:
        raise ValueError(f"tiling needs tile >= 1, overlap >= 0 and tile - 2 * overlap >= 1 (the part of each tile "
                         f"that is kept); got --tile {tile} --tile-overlap {overlap}")
    b, c, h, w = x.shape
    if tile >= max(h, w):
        return fn(x)
    core = tile - 2 * overlap
    out = None
    for top in range(0, h, core):
        for left in range(0, w, core):
            bottom, right = min(top + core, h), min(left + core, w)
            t0, l0 = max(top - overlap, 0), max(left - overlap, 0)
            t1, l1 = min(bottom + overlap, h), min(right + overlap, w)
            y = fn(x[..., t0:t1, l0:l1])
            if out is None:
                out = y.new_zeros(b, y.shape[1], h * scale, w * scale)
            out[..., top * scale:bottom * scale, left * scale:right * scale] = y[
                ..., (top - t0) * scale:(bottom - t0) * scale, (left - l0) * scale:(right - l0) * scale]
    return out


@torch.no_grad()
def restore(net, lq: torch.Tensor, *, scale: int = 1, tile: int | None = None, overlap: int = 16,
            self_ensemble: bool = False) -> torch.Tensor:
    """The restored image(s) of ``lq`` on [0, 1], clamped; tiling and self-ensemble as requested."""
    single = lq.dim() == 3
    x = lq[None] if single else lq
    if x.dim() != 4:
        raise ValueError(f"restore: expected an image (3, H, W) or a batch (B, 3, H, W), got {tuple(lq.shape)}")

    def run(t):
        return net(t) if tile is None else tiled(net, t, scale=scale, tile=tile, overlap=overlap)

    y = globals()["self_ensemble"](run, x) if self_ensemble else run(x)
    y = y.clamp(0, 1)
    return y[0] if single else y
