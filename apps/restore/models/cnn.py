"""A small plain CNN baseline of a chosen parameter budget (SRCNN / DnCNN / VDSR family).

``depth`` 3x3 conv + ReLU layers of ``width`` channels, learning the residual over the bicubic-upsampled
input for SR (VDSR, Kim et al., CVPR 2016) or over the noisy / blurred / hazy input for the other tasks
(DnCNN, Zhang et al., TIP 2017), with the upscaling done by a final pixel shuffle on the low-resolution
grid (ESPCN, Shi et al., CVPR 2016) so that it costs as little as MaIR's lightweight head.
Shapes: ``(B, C, H, W) -> (B, C, upscale·H, upscale·W)``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["RestoreCNN"]


class RestoreCNN(nn.Module):
    def __init__(self, upscale: int = 1, in_chans: int = 3, width: int = 64, depth: int = 8):
        super().__init__()
        if upscale < 1 or depth < 2 or width < 1:
            raise ValueError(f"RestoreCNN: need upscale >= 1, depth >= 2, width >= 1; got {upscale}, {depth}, {width}")
        self.upscale, self.in_chans = upscale, in_chans
        layers = [nn.Conv2d(in_chans, width, 3, 1, 1), nn.ReLU(inplace=True)]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(width, width, 3, 1, 1), nn.ReLU(inplace=True)]
        layers += [nn.Conv2d(width, in_chans * upscale ** 2, 3, 1, 1), nn.PixelShuffle(upscale)]
        self.body = nn.Sequential(*layers)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        if img.dim() != 4 or img.shape[1] != self.in_chans:
            raise ValueError(f"RestoreCNN: expected images (B, {self.in_chans}, H, W), got {tuple(img.shape)}")
        base = img if self.upscale == 1 else F.interpolate(img, scale_factor=self.upscale, mode="bicubic",
                                                           align_corners=False)
        return base + self.body(img)
