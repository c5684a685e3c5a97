"""PSNR and SSIM in the BasicSR / MATLAB convention used by the image-restoration literature.

- Images are compared on the ``[0, 255]`` scale in float64. uint8 ``(H, W, 3)`` RGB (or ``(H, W)`` grey)
  arrays are used as they are; float tensors ``(3, H, W)`` or ``(B, 3, H, W)`` are taken to be in
  ``[0, 1]`` and scaled by 255 (BasicSR's ``calculate_psnr_pt``), without rounding.
- ``crop_border=s`` drops ``s`` pixels on every side first (``s = scale`` for SR).
- ``y_channel=True`` compares the ITU-R BT.601 luma of the "studio" range, Y in [16, 235]:
  ``Y = (65.481 R + 128.553 G + 24.966 B) / 255 + 16`` for R, G, B in [0, 255] (MATLAB's ``rgb2ycbcr``,
  BasicSR's ``to_y_channel``; BasicSR applies it to BGR arrays with the weights reversed).
- SSIM: Wang et al. 2004 with an 11x11 Gaussian window, sigma 1.5, K1 = 0.01, K2 = 0.03, L = 255, averaged
  over the window positions that lie fully inside the image (the "valid" region) and then over channels.

Written here rather than with torchmetrics because torchmetrics 1.9 does not reproduce the convention:
its ``peak_signal_noise_ratio`` works in float32 (1e-6 dB off in float64 tests) and its Gaussian
``structural_similarity_index_measure`` differs from the valid-region SSIM of BasicSR / scikit-image by
about 4e-4 on a 48x40 image. Both functions here agree with scikit-image (PSNR to 1e-9 dB, SSIM to 1e-7; tests).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["psnr", "ssim", "rgb_to_y"]

_Y_WEIGHTS = (65.481, 128.553, 24.966)


def rgb_to_y(img: torch.Tensor) -> torch.Tensor:
    """BT.601 studio-range luma of ``(B, 3, H, W)`` RGB on [0, 255] -> ``(B, 1, H, W)`` on [16, 235]."""
    w = torch.tensor(_Y_WEIGHTS, dtype=img.dtype, device=img.device).view(1, 3, 1, 1)
    return (img * w).sum(1, keepdim=True) / 255.0 + 16.0


def _as_batch(x, name: str) -> tuple[torch.Tensor, bool]:
    """``x`` as float64 ``(B, C, H, W)`` on [0, 255]; and whether it came as one image (not a batch)."""
    if isinstance(x, np.ndarray):
        if x.dtype == bool or not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
            raise ValueError(f"{name}: expected a uint8 image array, got dtype {x.dtype}")
        if x.ndim == 2:
            x = x[..., None]
        if x.ndim != 3 or x.shape[-1] not in (1, 3):
            raise ValueError(f"{name}: expected an (H, W, 3) RGB or (H, W) grey array, got shape {x.shape}")
        t = torch.from_numpy(np.ascontiguousarray(x)).to(torch.float64).permute(2, 0, 1)[None]
        return t, True
    if isinstance(x, torch.Tensor):
        if not x.is_floating_point():
            raise ValueError(f"{name}: tensors must be float images in [0, 1], got {x.dtype}")
        single = x.dim() == 3
        t = x[None] if single else x
        if t.dim() != 4 or t.shape[1] not in (1, 3):
            raise ValueError(f"{name}: expected a (3, H, W) or (B, 3, H, W) tensor in [0, 1], got {tuple(x.shape)}")
        return t.detach().to(torch.float64) * 255.0, single
    raise ValueError(f"{name}: expected a numpy uint8 (H, W, 3) array or a float tensor, got {type(x).__name__}")


def _prepare(img, ref, crop_border: int, y_channel: bool, who: str) -> tuple[torch.Tensor, torch.Tensor, bool]:
    a, single = _as_batch(img, f"{who}: img")
    b, _ = _as_batch(ref, f"{who}: ref")
    if a.shape != b.shape:
        raise ValueError(f"{who}: img and ref must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    if isinstance(crop_border, bool) or not isinstance(crop_border, int) or crop_border < 0:
        raise ValueError(f"{who}: crop_border must be an integer >= 0, got {crop_border!r}")
    h, w = a.shape[-2:]
    if 2 * crop_border >= min(h, w):
        raise ValueError(f"{who}: crop_border={crop_border} leaves nothing of a {h}x{w} image")
    if crop_border:
        a = a[..., crop_border:-crop_border, crop_border:-crop_border]
        b = b[..., crop_border:-crop_border, crop_border:-crop_border]
    if y_channel:
        if a.shape[1] != 3:
            raise ValueError(f"{who}: y_channel=True needs RGB images (3 channels), got {a.shape[1]}")
        a, b = rgb_to_y(a), rgb_to_y(b)
    return a, b, single


def _out(values: torch.Tensor, single: bool):
    return float(values[0]) if single else values


def psnr(img, ref, *, crop_border: int = 0, y_channel: bool = False):
    """Peak signal-to-noise ratio in dB (peak 255; ``inf`` for identical images).

    ``img``, ``ref``: uint8 ``(H, W, 3)`` RGB / ``(H, W)`` arrays, or float tensors ``(3, H, W)`` /
    ``(B, 3, H, W)`` in [0, 1]. Returns a float for one image, a float64 tensor ``(B,)`` for a batch.
    """
    a, b, single = _prepare(img, ref, crop_border, y_channel, "psnr")
    mse = (a - b).square().flatten(1).mean(1)
    return _out(10.0 * torch.log10(255.0 ** 2 / mse), single)  # mse == 0 gives inf


def ssim(img, ref, *, crop_border: int = 0, y_channel: bool = False):
    """Structural similarity (Gaussian window 11, sigma 1.5, valid region, mean over channels).

    Same inputs and outputs as ``psnr``; images must be at least 11x11 after cropping.
    """
    a, b, single = _prepare(img, ref, crop_border, y_channel, "ssim")
    if min(a.shape[-2:]) < 11:
        raise ValueError(f"ssim: images must be at least 11x11 after cropping, got {tuple(a.shape[-2:])}")
    channels = a.shape[1]
    g = torch.exp(-((torch.arange(11, dtype=torch.float64) - 5) ** 2) / (2 * 1.5 ** 2))
    g = (g / g.sum()).to(a.device)
    rows, cols = g.view(1, 1, 11, 1).repeat(channels, 1, 1, 1), g.view(1, 1, 1, 11).repeat(channels, 1, 1, 1)

    def filt(x):  # separable Gaussian, valid region only
        return F.conv2d(F.conv2d(x, rows, groups=channels), cols, groups=channels)

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = filt(a), filt(b)
    var_a, var_b = filt(a * a) - mu_a ** 2, filt(b * b) - mu_b ** 2
    cov = filt(a * b) - mu_a * mu_b
    smap = (2 * mu_a * mu_b + c1) * (2 * cov + c2) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return _out(smap.flatten(1).mean(1), single)
