"""MaIR: Li et al., "MaIR: A Locality- and Continuity-Preserving Mamba for Image Restoration", CVPR 2025.

Re-derived from the paper (Sec. 3: Nested S-shaped Scanning, Sequence Shuffle Attention, the residual
Mamba group) with the official code (XLearning-SCU/2025-CVPR-MaIR, ``basicsr/archs/mair_arch.py`` and
``realDenoising/.../mairunet_arch.py``) as a test oracle: every official option file gives the official
parameter count here, module by module (``tests/apps/restore/test_mair.py``).

Layout (the image is ``(B, 3, H, W)`` in [0, 1]; features inside blocks are channel-last ``(B, H, W, C)``)::

    MaIR      conv3x3 -> LN -> [ResidualGroup: RMB x depth -> conv3x3, + skip] x groups -> LN -> conv3x3 (+ skip)
              -> reconstruction: pixelshuffle (classic SR) | pixelshuffledirect (lightweight SR)
                 | conv3x3 + global residual (denoising, upscale 1)
    RMB       x = x * s1 + VMM(LN(x));  x = x * s2 + MLP(LN(x))            (s1, s2 learned per channel)
    VMM       in_proj -> (x, z); x = SiLU(dwconv3x3(x)); four sequences of x (NSS) -> selective scan each
              -> back to the grid -> SSA weights -> sum of the four -> LN -> * SiLU(z) -> out_proj
    MaIRUNet  Restormer-style 4-level U-Net of RMBs (deblurring, dehazing, real denoising)

Departures from the official code (none changes a parameter count):
- The four NSS orders come from the backbone's ``grid_order(kind="mair")`` (image, image rotated by 180°)
  x (rows, columns); they equal the official ``mair_ids_generate`` / ``mair_shift_ids_generate`` ids on
  every grid whose sides exceed the shift (checked on all 25x25 grids, stripe 2/4/8). On a grid side
  <= shift the official ids fall back to a plain raster order, ours to one S-shaped stripe.
- The orders are built per input size and cached (the official code precomputes them for one size and
  regenerates them when ``dynamic_ids`` or the size changes): no ``img_size`` argument.
- ``MaIRUNet`` reflect-pads inputs to a multiple of 8 and crops the result (the official model needs
  sides divisible by 8). The official U-Net never shifts its stripes (its blocks keep ``shift_size=0``);
  ``shift_stripes=True`` turns the paper's alternation on.
- The RGB mean is a non-persistent buffer (the official code keeps a plain tensor attribute).
- The sequence mixer is a config choice: ``mamba`` (the paper) runs the selective scan per sequence with
  the backbone's kernel (numba on CPU, Triton on CUDA; ``spanmix.kernels.selective_scan``); any other
  backbone mixer name (``local``, ``hyena``, ...) replaces the SSM by four mixers of width ``d_inner``.
- The scan is a config choice too: ``nss`` (the paper) or ``raster``/``snake``/``zorder``/``hilbert``,
  each read in the same four ways (the paper's scan ablation).
"""
from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F
from timm.layers import DropPath, trunc_normal_
from torch import nn

from spanmix.backbone import build_mixer
from spanmix.backbone.mixers.mamba import dt_bias_init
from spanmix.backbone.serializers import grid_order, invert_order
from spanmix.kernels import selective_scan

__all__ = ["SCANS", "MaIR", "MaIRUNet", "RMB", "ShuffleAttention", "VMM", "ResidualGroup", "sequence_orders"]

SCANS = ("nss", "raster", "snake", "zorder", "hilbert")
UPSAMPLERS = ("pixelshuffle", "pixelshuffledirect", "none")
_RGB_MEAN = (0.4488, 0.4371, 0.4040)  # DIV2K mean, as in EDSR/SwinIR/MaIR


def _check_choice(who: str, name: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"{who}: {name} must be one of {', '.join(map(str, choices))}; got {value!r}")


@lru_cache(maxsize=128)
def _orders_cached(height: int, width: int, scan: str, scan_len: int, shift: int) -> tuple[torch.Tensor, torch.Tensor]:
    kind, opts = ("mair", {"stripe": scan_len, "shift": shift}) if scan == "nss" else (scan, {})
    if kind == "mair" and shift >= scan_len:
        opts["shift"] = 0
    last = height * width - 1
    rows = grid_order(height, width, kind, **opts)
    cols = grid_order(height, width, kind, transpose=True, **opts)
    order = torch.stack([rows, last - rows, cols, last - cols])  # last - i: the image rotated by 180 degrees
    return order, invert_order(order)


def sequence_orders(height: int, width: int, scan: str = "nss", scan_len: int = 8, shift: int = 0):
    """The four read orders of an ``height x width`` grid and their inverses, LongTensors ``(4, H * W)``.

    ``order[k, p]`` is the row-major index of the cell read at position ``p`` of sequence ``k``:
    k = 0 the image along the scan (NSS: vertical stripes of width ``scan_len``, each an S-path, alternate
    stripes run upwards, the first stripe ``shift`` wide when ``shift > 0``), k = 1 the image rotated by
    180° along the same scan, k = 2 and 3 the same with rows and columns swapped. ``shift`` applies to
    ``nss`` only.
    """
    _check_choice("sequence_orders", "scan", scan, SCANS)
    order, inverse = _orders_cached(int(height), int(width), scan, int(scan_len), int(shift))
    return order.clone(), inverse.clone()


class ShuffleAttention(nn.Module):
    """Sequence Shuffle Attention (SSA; MaIR Sec. 3.3): per-channel weights for fusing the K sequences.

    The K outputs (back on the grid) are average-pooled; a channel shuffle puts the K values of each
    channel side by side, a grouped 1x1 convolution (one ``K x K`` map per channel) mixes them, a sigmoid
    gives the weights. ``forward(y)``: ``(B, K, C, H, W) -> (B, K, C, 1, 1)``. ``weight`` is ``(C, K, K)``
    (the official grouped conv's ``(K·C, K, 1, 1)`` weight in shuffled channel order, reshaped).
    """

    def __init__(self, channels: int, sequences: int = 4):
        super().__init__()
        self.channels, self.sequences = channels, sequences
        bound = 1 / math.sqrt(sequences)  # nn.Conv2d's default init for fan_in = K
        self.weight = nn.Parameter(torch.empty(channels, sequences, sequences).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(channels, sequences).uniform_(-bound, bound))

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        pooled = y.mean(dim=(-2, -1)).transpose(1, 2)  # (B, C, K): the shuffle
        mixed = torch.einsum("cok,bck->bco", self.weight, pooled) + self.bias  # grouped 1x1 conv
        return torch.sigmoid(mixed).transpose(1, 2)[..., None, None]  # (B, K, C, 1, 1)


class VMM(nn.Module):
    """Visual Mamba Module with Nested S-shaped Scanning and SSA (MaIR Sec. 3.2-3.3).

    Args:
        dim: block width C. d_state: SSM state N (16). ssm_ratio: d_inner = int(ssm_ratio * C).
        d_conv: depthwise conv size (3). dt_rank: ``"auto"`` = ceil(C / 16).
        scan: one of ``SCANS``. scan_len: NSS stripe width. shift: NSS shift of the first stripe.
        mixer: ``"mamba"`` (the paper's selective scan) or another backbone mixer name;
        mixer_options: keyword options of that mixer.

    Shapes: ``(B, H, W, C) -> (B, H, W, C)``. Cost: O(H·W·(C·d_inner + 4·d_inner·N)) time,
    O(4·H·W·d_inner) activations.
    """

    def __init__(self, dim: int, *, d_state: int = 16, ssm_ratio: float = 2.0, d_conv: int = 3,
                 dt_rank: int | str = "auto", dt_min: float = 1e-3, dt_max: float = 0.1,
                 dt_init_floor: float = 1e-4, scan: str = "nss", scan_len: int = 8, shift: int = 0,
                 mixer: str = "mamba", mixer_options: dict | None = None):
        super().__init__()
        _check_choice("VMM", "scan", scan, SCANS)
        if scan_len < 1 or shift < 0:
            raise ValueError(f"VMM: need scan_len >= 1 and shift >= 0, got scan_len={scan_len}, shift={shift}")
        self.dim, self.d_state, self.scan, self.scan_len, self.shift = dim, d_state, scan, scan_len, shift
        self.d_inner = d_inner = int(ssm_ratio * dim)
        self.dt_rank = math.ceil(dim / 16) if dt_rank == "auto" else int(dt_rank)
        self.mixer_name = mixer
        k = 4
        self.in_proj = nn.Linear(dim, 2 * d_inner, bias=False)
        self.conv2d = nn.Conv2d(d_inner, d_inner, d_conv, padding=(d_conv - 1) // 2, groups=d_inner)
        if mixer == "mamba":
            if mixer_options:
                raise ValueError("VMM: mixer 'mamba' takes no mixer_options (use d_state / ssm_ratio)")
            r, n = self.dt_rank, d_state
            bound = d_inner ** -0.5  # nn.Linear's default init for the x projections
            self.x_proj_weight = nn.Parameter(torch.empty(k, r + 2 * n, d_inner).uniform_(-bound, bound))
            std = r ** -0.5
            self.dt_projs_weight = nn.Parameter(torch.empty(k, d_inner, r).uniform_(-std, std))
            self.dt_projs_bias = nn.Parameter(dt_bias_init((k, d_inner), dt_min, dt_max, dt_init_floor))
            self.A_logs = nn.Parameter(torch.log(torch.arange(1, n + 1, dtype=torch.float32)).repeat(k * d_inner, 1))
            self.Ds = nn.Parameter(torch.ones(k * d_inner))
            self.A_logs._no_weight_decay = True
            self.Ds._no_weight_decay = True
            self.mixers = None
        else:
            self.mixers = nn.ModuleList(build_mixer(mixer, d_inner, **(mixer_options or {})) for _ in range(k))
        self.attention = ShuffleAttention(d_inner, k)
        self.out_norm = nn.LayerNorm(d_inner)
        self.out_proj = nn.Linear(d_inner, dim, bias=False)

    def _sequences(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (B, H, W, d_inner) -> the four scanned-and-restored outputs ``(B, 4, d_inner, H, W)``."""
        b, h, w, _ = x.shape
        x = F.silu(self.conv2d(x.permute(0, 3, 1, 2)))  # (B, Di, H, W)
        order, inverse = sequence_orders(h, w, self.scan, self.scan_len, self.shift)
        order, inverse = order.to(x.device), inverse.to(x.device)
        flat = x.flatten(2)  # (B, Di, L)
        di, n, r = self.d_inner, self.d_state, self.dt_rank
        outs = []
        for k in range(4):
            u = flat.index_select(2, order[k])  # (B, Di, L) in sequence order
            if self.mixers is not None:
                y = self.mixers[k](u.transpose(1, 2)).transpose(1, 2)
            else:
                dbc = torch.einsum("cd,bdl->bcl", self.x_proj_weight[k], u)  # (B, R + 2N, L)
                dt, bs, cs = dbc.split([r, n, n], dim=1)
                delta = torch.einsum("dr,brl->bdl", self.dt_projs_weight[k], dt)
                sl = slice(k * di, (k + 1) * di)
                a = -torch.exp(self.A_logs[sl].float())
                y = selective_scan(u.float(), delta.float(), a, bs.float(), cs.float(), D=self.Ds[sl].float(),
                                   delta_bias=self.dt_projs_bias[k].float(), delta_softplus=True)
            outs.append(y.index_select(2, inverse[k]).reshape(b, di, h, w))
        return torch.stack(outs, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, z = self.in_proj(x).chunk(2, dim=-1)
        ys = self._sequences(x)  # (B, 4, Di, H, W)
        y = (ys * self.attention(ys)).sum(1).permute(0, 2, 3, 1)  # (B, H, W, Di)
        y = self.out_norm(y.to(z.dtype)) * F.silu(z)
        return self.out_proj(y)


class RMB(nn.Module):
    """Residual Mamba Block: ``x = x * s1 + VMM(LN(x)); x = x * s2 + MLP(LN(x))`` (MaIR Fig. 2).

    ``(B, H, W, C) -> (B, H, W, C)``; the MLP is Linear-GELU-Linear with ``int(C * mlp_ratio)`` hidden units.
    """

    def __init__(self, dim: int, *, mlp_ratio: float = 2.0, drop_path: float = 0.0, **vmm_options):
        super().__init__()
        self.ln_1 = nn.LayerNorm(dim)
        self.vmm = VMM(dim, **vmm_options)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.skip_scale = nn.Parameter(torch.ones(dim))
        self.ln_2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.skip_scale2 = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x * self.skip_scale + self.drop_path(self.vmm(self.ln_1(x)))
        return x * self.skip_scale2 + self.mlp(self.ln_2(x))


class ResidualGroup(nn.Module):
    """``depth`` RMBs (odd ones with NSS stripes shifted by ``scan_len // 2``), a 3x3 conv, a skip.

    ``(B, C, H, W) -> (B, C, H, W)``.
    """

    def __init__(self, dim: int, depth: int, *, scan_len: int = 8, drop_path=0.0, **block_options):
        super().__init__()
        drops = drop_path if isinstance(drop_path, (list, tuple)) else [drop_path] * depth
        self.blocks = nn.ModuleList(
            RMB(dim, drop_path=drops[i], scan_len=scan_len, shift=scan_len // 2 if i % 2 else 0, **block_options)
            for i in range(depth))
        self.conv = nn.Conv2d(dim, dim, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x.permute(0, 2, 3, 1)
        for block in self.blocks:
            y = block(y)
        return self.conv(y.permute(0, 3, 1, 2)) + x


def _pixel_shuffle_upsampler(scale: int, feat: int) -> nn.Sequential:
    if scale & (scale - 1) == 0:
        layers = []
        for _ in range(int(math.log2(scale))):
            layers += [nn.Conv2d(feat, 4 * feat, 3, 1, 1), nn.PixelShuffle(2)]
        return nn.Sequential(*layers)
    if scale == 3:
        return nn.Sequential(nn.Conv2d(feat, 9 * feat, 3, 1, 1), nn.PixelShuffle(3))
    raise ValueError(f"MaIR: upscale {scale} is not supported by 'pixelshuffle'; use 2^n or 3")


class MaIR(nn.Module):
    """MaIR for super-resolution (classic / lightweight) and Gaussian colour denoising (MaIR Sec. 3.1).

    Args:
        upscale: 2/3/4 for SR, 1 for denoising. in_chans: image channels (3).
        embed_dim, depths, d_state, ssm_ratio, mlp_ratio, scan_len: as the official option files
            (``CONFIGS`` holds each of them). upsampler: ``pixelshuffle`` (classic SR, 64 features),
            ``pixelshuffledirect`` (lightweight SR: one conv + shuffle) or ``none`` (upscale 1: conv +
            global residual). img_range: the image is scaled by it after subtracting the RGB mean.
        drop_path_rate: stochastic depth, linearly increasing over blocks (0.1).
        scan, mixer, mixer_options: see ``VMM``.

    Shapes: ``(B, in_chans, H, W) -> (B, in_chans, upscale·H, upscale·W)``, any H, W >= 1.
    """

    def __init__(self, upscale: int = 2, in_chans: int = 3, embed_dim: int = 60, depths=(6, 6, 6, 6),
                 d_state: int = 16, ssm_ratio: float = 1.5, mlp_ratio: float = 2.0, scan_len: int = 8,
                 upsampler: str = "pixelshuffledirect", img_range: float = 1.0, drop_path_rate: float = 0.1,
                 resi_connection: str = "1conv", scan: str = "nss", mixer: str = "mamba",
                 mixer_options: dict | None = None):
        super().__init__()
        _check_choice("MaIR", "upsampler", upsampler, UPSAMPLERS)
        _check_choice("MaIR", "resi_connection", resi_connection, ("1conv",))
        if (upsampler == "none") != (upscale == 1):
            raise ValueError(f"MaIR: upsampler 'none' goes with upscale 1 (denoising), got upsampler={upsampler!r}, "
                             f"upscale={upscale}")
        self.upscale, self.upsampler, self.img_range, self.in_chans = upscale, upsampler, img_range, in_chans
        mean = _RGB_MEAN if in_chans == 3 else (0.0,) * in_chans
        self.register_buffer("mean", torch.tensor(mean).view(1, in_chans, 1, 1), persistent=False)
        self.conv_first = nn.Conv2d(in_chans, embed_dim, 3, 1, 1)
        self.patch_norm = nn.LayerNorm(embed_dim)
        total = sum(depths)
        rates = [drop_path_rate * i / max(total - 1, 1) for i in range(total)]  # linear, as torch.linspace
        starts = [sum(depths[:i]) for i in range(len(depths))]
        self.layers = nn.ModuleList(
            ResidualGroup(embed_dim, d, scan_len=scan_len, drop_path=rates[s:s + d], d_state=d_state,
                          ssm_ratio=ssm_ratio, mlp_ratio=mlp_ratio, scan=scan, mixer=mixer,
                          mixer_options=mixer_options)
            for s, d in zip(starts, depths))
        self.norm = nn.LayerNorm(embed_dim)
        self.conv_after_body = nn.Conv2d(embed_dim, embed_dim, 3, 1, 1)
        if upsampler == "pixelshuffle":
            feat = 64
            self.conv_before_upsample = nn.Sequential(nn.Conv2d(embed_dim, feat, 3, 1, 1), nn.LeakyReLU(inplace=True))
            self.upsample = _pixel_shuffle_upsampler(upscale, feat)
            self.conv_last = nn.Conv2d(feat, in_chans, 3, 1, 1)
        elif upsampler == "pixelshuffledirect":
            self.upsample = nn.Sequential(nn.Conv2d(embed_dim, upscale ** 2 * in_chans, 3, 1, 1),
                                          nn.PixelShuffle(upscale))
        else:
            self.conv_last = nn.Conv2d(embed_dim, in_chans, 3, 1, 1)
        self.apply(_init_weights)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        for layer in self.layers:
            x = layer(x)
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        if img.dim() != 4 or img.shape[1] != self.in_chans:
            raise ValueError(f"MaIR: expected images (B, {self.in_chans}, H, W), got {tuple(img.shape)}")
        x = (img - self.mean) * self.img_range
        first = self.conv_first(x)
        feat = self.conv_after_body(self.forward_features(first)) + first
        if self.upsampler == "pixelshuffle":
            out = self.conv_last(self.upsample(self.conv_before_upsample(feat)))
        elif self.upsampler == "pixelshuffledirect":
            out = self.upsample(feat)
        else:
            out = x + self.conv_last(feat)
        return out / self.img_range + self.mean


def _init_weights(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


class MaIRUNet(nn.Module):
    """MaIR's U-Net for motion deblurring, dehazing and real denoising (official ``MaIRUNet``).

    Restormer's 4-level layout with RMBs: level widths ``dim·(1, 2, 4, 8)``, SSM states
    ``base_d_state·(1, 2, 4, 8)``, ``num_blocks`` per level, pixel-unshuffle down / pixel-shuffle up,
    skip concatenation (+ 1x1 channel reduction at levels 3 and 2), ``num_refinement_blocks`` at width
    ``2·dim``, an output conv and a global residual. The first encoder level uses ``flp_ratio`` as its MLP
    ratio, every other level ``mlp_ratio`` (the official code's names).

    Shapes: ``(B, in_chans, H, W) -> (B, out_chans, H, W)``; inputs are reflect-padded to a multiple of 8.
    """

    def __init__(self, in_chans: int = 3, out_chans: int = 3, dim: int = 48, num_blocks=(4, 6, 6, 8),
                 num_refinement_blocks: int = 4, ssm_ratio: float = 2.0, mlp_ratio: float = 1.5,
                 flp_ratio: float = 4.0, scan_len: int = 4, base_d_state: int = 4, bias: bool = False,
                 drop_path_rate: float = 0.0, shift_stripes: bool = False, scan: str = "nss",
                 mixer: str = "mamba", mixer_options: dict | None = None):
        super().__init__()
        self.in_chans = in_chans
        common = dict(ssm_ratio=ssm_ratio, scan=scan, scan_len=scan_len, mixer=mixer, mixer_options=mixer_options,
                      drop_path=drop_path_rate)

        def level(width_mult: int, count: int, ratio: float) -> nn.ModuleList:
            return nn.ModuleList(
                RMB(dim * width_mult, d_state=base_d_state * width_mult, mlp_ratio=ratio,
                    shift=scan_len // 2 if shift_stripes and i % 2 else 0, **common)
                for i in range(count))

        self.patch_embed = nn.Conv2d(in_chans, dim, 3, 1, 1, bias=bias)
        self.encoder1 = level(1, num_blocks[0], flp_ratio)
        self.down1_2 = nn.Sequential(nn.Conv2d(dim, dim // 2, 3, 1, 1, bias=False), nn.PixelUnshuffle(2))
        self.encoder2 = level(2, num_blocks[1], mlp_ratio)
        self.down2_3 = nn.Sequential(nn.Conv2d(2 * dim, dim, 3, 1, 1, bias=False), nn.PixelUnshuffle(2))
        self.encoder3 = level(4, num_blocks[2], mlp_ratio)
        self.down3_4 = nn.Sequential(nn.Conv2d(4 * dim, 2 * dim, 3, 1, 1, bias=False), nn.PixelUnshuffle(2))
        self.latent = level(8, num_blocks[3], mlp_ratio)
        self.up4_3 = nn.Sequential(nn.Conv2d(8 * dim, 16 * dim, 3, 1, 1, bias=False), nn.PixelShuffle(2))
        self.reduce3 = nn.Conv2d(8 * dim, 4 * dim, 1, bias=bias)
        self.decoder3 = level(4, num_blocks[2], mlp_ratio)
        self.up3_2 = nn.Sequential(nn.Conv2d(4 * dim, 8 * dim, 3, 1, 1, bias=False), nn.PixelShuffle(2))
        self.reduce2 = nn.Conv2d(4 * dim, 2 * dim, 1, bias=bias)
        self.decoder2 = level(2, num_blocks[1], mlp_ratio)
        self.up2_1 = nn.Sequential(nn.Conv2d(2 * dim, 4 * dim, 3, 1, 1, bias=False), nn.PixelShuffle(2))
        self.decoder1 = level(2, num_blocks[0], mlp_ratio)
        self.refinement = level(2, num_refinement_blocks, mlp_ratio)
        self.output = nn.Conv2d(2 * dim, out_chans, 3, 1, 1, bias=bias)

    @staticmethod
    def _run(blocks: nn.ModuleList, x: torch.Tensor) -> torch.Tensor:
        y = x.permute(0, 2, 3, 1)
        for block in blocks:
            y = block(y)
        return y.permute(0, 3, 1, 2)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        if img.dim() != 4 or img.shape[1] != self.in_chans:
            raise ValueError(f"MaIRUNet: expected images (B, {self.in_chans}, H, W), got {tuple(img.shape)}")
        h, w = img.shape[-2:]
        ph, pw = (-h) % 8, (-w) % 8
        mode = "reflect" if ph < h and pw < w else "replicate"
        x = F.pad(img, (0, pw, 0, ph), mode=mode) if ph or pw else img
        e1 = self._run(self.encoder1, self.patch_embed(x))
        e2 = self._run(self.encoder2, self.down1_2(e1))
        e3 = self._run(self.encoder3, self.down2_3(e2))
        lat = self._run(self.latent, self.down3_4(e3))
        d3 = self._run(self.decoder3, self.reduce3(torch.cat([self.up4_3(lat), e3], 1)))
        d2 = self._run(self.decoder2, self.reduce2(torch.cat([self.up3_2(d3), e2], 1)))
        d1 = self._run(self.decoder1, torch.cat([self.up2_1(d2), e1], 1))
        out = self.output(self._run(self.refinement, d1)) + x
        return out[..., :h, :w]
