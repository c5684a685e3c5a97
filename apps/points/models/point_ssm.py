"""Hierarchical point SSM for medical point clouds (Zhang, Yang, Li, "Hierarchical Feature Learning for
Medical Point Clouds via State Space Model", MICCAI 2025, arXiv 2504.13015; official code: the ``flemme``
platform, ``flemme/encoder/point/pointmamba2.py`` + ``flemme/block/pmamba.py``, class ``PointMamba2``).

Architecture (``PointSSMEncoder``; the official HEAD configs ``resources/pcd/medpoints/*/train_pointmamba2knn_*``):

1. ``proj`` Linear(3 -> 64) of every point and a positional embedding ``pos`` Linear(3 -> 64) (``pos_embedding``).
2. ``len(dims)`` levels. Each: farthest point sampling to ``npoints[i]`` centres; per scale (2 scales: half
   and all of ``k`` neighbours, the channels split as the official ``get_scale_channel``) a **group SSM**
   (``GroupSSM``): the ``k`` neighbours of each centre, **nearest first**, as a sequence of
   ``[pos_j - pos_c, f_j]`` run through two sequence blocks (``SeqBlock``: x + mixer(x), Linear to the next
   width, GroupNorm, LeakyReLU; widths in -> middle -> out as the official ``get_middle_channel``),
   max-pooled over the neighbours; the scales concatenated. Neighbours by kNN in feature space
   (``query="feature"``, the official ``knn_query: feature``), in xyz (``"xyz"``) or by ball query with
   ``radii`` (``"ball"``, nearest first, the paper-era ``sorted_query``).
3. Per level, ``blocks`` **vanilla SSM** blocks over all points of the level (``VanillaSSM``), serialized by
   the backbone's ``PointSerializer`` orders ``orders`` (default x, y, z and ``inside_out`` = the
   official ``x_order, y_order, z_order, center_dist``), each also reversed (``flip``): 8 sequences whose
   outputs are put back in point order and **summed**; residual, GroupNorm, LeakyReLU.
4. ECA channel attention per level (Wang et al., CVPR 2020; 3-tap conv over the channel means).
5. ``final_concat``: every level's features gathered at the last level's points, concatenated and mixed
   by two Dense layers (Linear-GroupNorm-LeakyReLU) to the last width; global = [max, mean] over points.

Heads: ``PointSSMCls`` Dense 1024 -> 512 -> 256 then Linear to classes (the official ``ClM``);
``PointSSMSeg`` Dense to 1024 (the global code), then a PointNet++ feature-propagation decoder with widths
``fp_dims`` (first the global code broadcast to the last level, then 3-NN inverse-distance interpolation
level by level down to the input points, each layer two ``SeqBlock`` over the points in index order with
ECA), then Linear to classes (the official ``SeM``); ``PointSSMCompletion`` the global code, conditioned on
the class (one-hot -> Linear 128 -> gate and bias on the code), folded twice from a 2-D grid
(FoldingNet; the official ``AE`` with a ``PointNet`` decoder, ``folding_times: 2``) or, ``folding_times=0``, by
that decoder's fully-connected path (Dense layers, then a Linear to ``n_out`` x 3).

The SSM is a backbone mixer by name (``mixer``): ``mamba`` (default) runs the group blocks through the
backbone's ``mamba`` mixer and the vanilla blocks through the official multi-scan block (one in/out
projection and short conv shared by the K scans, a selective-scan parameter set x_proj/dt_proj/A/D per
scan; the scans through the backbone's fused ``kernels.selective_scan``); any other backbone mixer
(``full``, ``local``, ``hyena``, ...) replaces both: in the group blocks directly, in the vanilla blocks one
mixer shared by the K orders (outputs un-permuted and summed) - the ablation "does the SSM matter, or
the hierarchy?".

Parameter counts with the official sizes (``size="paper"``, 46 classes; the official counts come from
instantiating the official classes with the official HEAD configs on CPU with ``mamba_ssm`` stood in by a
module with mamba_simple's parameters; see ``tests/apps/points/test_point_ssm.py``): classification
19,593,373 (official 19,593,373); segmentation 68,130,287 (official 68,130,287, 4,096 points);
completion: ours differs (``COMPLETION_NOTE``).

Departures from the official code:
- CPU: the scans run through the backbone's scan kernels (no ``mamba_ssm``), FPS/kNN through ``ops``.
- FPS starts from the point farthest from the centroid (``ops.farthest_point_sample``), not index 0.
- The seg decoder applies its ECA layers (the official decoder builds them but never calls them).
- Completion: the condition enters only the global code (the official injects it into every block);
  the folding MLPs have no condition injection.
- As the official code, the vanilla block's short conv runs in point (FPS) order before the scans, and
  its activations are the config's (LeakyReLU), not SiLU; the group blocks' mamba uses SiLU.
- ``group_norm="cloud"`` (an option; the default ``"sequence"`` is the official): GroupNorm statistics over
  all neighbourhoods of a cloud instead of each neighbourhood (``GroupSSM``).
- ``group_norm="batch"`` (an option; our CPU frog configs use it): every norm of the model (group and vanilla
  blocks, dense layers, decoders) is BatchNorm over the batch and points instead of per-sample GroupNorm.
  Measured on the frog set (300 train clouds, 128 points, batch 8, Adam 2e-3, single thread): with per-cloud
  GroupNorm the train loss stays at chance (2.79 -> 2.72 in 228 steps, mixer ``full``; 2.79 after 38 steps,
  ``mamba``), with BatchNorm it falls (``mamba``: 2.47 after 38 steps). Per-sample norms standardise every
  cloud's features, which also removes the size of the organ, a cue the frog set keeps.
- ``range_guard=True`` (an option, for ``group_norm="batch"``): a ``RangeGuard`` on each mixer's input, the
  identity in training (so training is unchanged) that records the largest per-point RMS it sees; in eval it
  scales a point above that down to it. Why: in eval BatchNorm is a fixed affine map, and the SSM's gated
  products (``y * act(z)``, with B, C and Delta themselves linear in x) make every block a polynomial of its
  input's scale, so an unusual cloud grows level by level to inf/NaN logits (the shipped frog classifier without
  it: 5 of 90 test clouds, all skeleton crops; the fsaverage one: 4 of 36). Capped mixer inputs make the output
  grow at most linearly with the cloud's scale (``tests/apps/points/test_point_ssm.py``). Tried first: a
  LayerNorm before each mixer (Mamba's pre-norm residual) also bounds it, but learned more slowly on the frog
  set (test OA 36.7 % vs 54.4 % at the same 8 epochs).
- ``keep_input=True`` (completion, an option): the output is the partial cloud itself followed by the
  decoder's ``n_out`` points, so the decoder only has to place the missing part (as PoinTr and SeedFormer keep
  the input); the official decoder outputs the whole cloud.

Shapes: ``x`` (B, N, 3) -> logits (B, classes) | per-point logits (B, N, classes) | completed cloud
(B, n_out, 3), or (B, N + n_out, 3) with ``keep_input``.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from spanmix.apps.points import ops
from spanmix.apps.points.models.common import PointModel, check_cloud, check_seq
from spanmix.backbone import build_mixer
from spanmix.backbone.mixers.mamba import dt_bias_init
from spanmix.backbone.serializers import POINT_ORDERS, PointSerializer
from spanmix.kernels import selective_scan
from torch import nn

__all__ = ["COMPLETION_NOTE", "SIZES", "ECA", "GroupSSM", "MultiScanMamba", "PointSSMCls", "PointSSMCompletion",
           "PointSSMEncoder", "PointSSMSeg", "SeqBlock", "VanillaSSM", "scan_orders"]

#: named encoder sizes. ``paper``: the official classification config (5 levels, 2,048 input points);
#: segmentation/completion use ``npoints=(2048, 1024, 512, 256, 128)``. ``tiny``: CPU-sized.
SIZES: dict[str, dict[str, Any]] = {
    "paper": dict(proj_dim=64, npoints=(1024, 512, 256, 128, 64), dims=(64, 64, 128, 256, 512),
                  radii=(0.1, 0.2, 0.4, 0.6, 0.8), k=32, d_state=64, dense=(1024, 512, 256)),
    "tiny": dict(proj_dim=16, npoints=(256, 128, 64, 32, 16), dims=(16, 32, 32, 64, 64),
                 radii=(0.1, 0.2, 0.4, 0.6, 0.8), k=16, d_state=16, dense=(128, 64)),
}
COMPLETION_NOTE = ("the official completion model (22,666,325 parameters) injects the class into every encoder and "
                   "decoder block (gate_bias); ours conditions the global code only")
_ORDER_ALIASES = {"x_order": "x", "y_order": "y", "z_order": "z", "center_dist": "inside_out"}


def middle_width(cin: int, cout: int, unit: int = 16) -> int:
    """The official ``get_middle_channel``: max(max//2, min) rounded up to a multiple of 16."""
    return int(math.ceil(max(max(cin, cout) // 2, min(cin, cout)) / unit) * unit)


def scale_widths(out: int, scales: int) -> list[int]:
    """The official ``get_scale_channel``: e.g. 64 over 2 scales -> [32, 32], 100 -> [50, 50]."""
    if scales == 1:
        return [out]
    res, last = [], out
    for _ in range(scales - 1):
        last //= 2
        res.append(last)
    return (res + [out - sum(res)])[::-1]


def scale_values(top, scales: int) -> list:
    """The official ``get_scale_parameter``: ``top / 2^i`` for i = scales-1 .. 0 (same type as ``top``)."""
    return [type(top)(top / 2 ** i) for i in range(scales)][::-1]


class GroupNormC(nn.GroupNorm):
    """GroupNorm over the last (channel) dim of (B, C) or (B, ..., C): statistics per sample over a
    channel group and all positions (the official ``NormBlock`` with ``channel_dim=-1``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            return super().forward(x)
        shape = x.shape
        y = super().forward(x.reshape(shape[0], -1, shape[-1]).transpose(1, 2))
        return y.transpose(1, 2).reshape(shape)


class BatchNormC(nn.BatchNorm1d):
    """BatchNorm over the last (channel) dim of (B, ..., C): statistics over the batch and all positions
    (``group_norm="batch"``, a departure: the official blocks use GroupNorm)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        return super().forward(x.reshape(-1, shape[-1])).reshape(shape)


def _norm(groups: int, channels: int, batch_norm: bool) -> nn.Module:
    return BatchNormC(channels) if batch_norm else GroupNormC(groups, channels)


def _act() -> nn.Module:
    return nn.LeakyReLU()  # the official 'lrelu' (slope 0.01)


class Dense(nn.Module):
    """Linear -> GroupNorm(groups) -> LeakyReLU on channel-last tensors (the official ``DenseBlock``)."""

    def __init__(self, cin: int, cout: int, groups: int = 8, batch_norm: bool = False):
        super().__init__()
        self.linear, self.norm, self.act = nn.Linear(cin, cout), _norm(groups, cout, batch_norm), _act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.linear(x)))


def dense_stack(widths: Sequence[int], groups: int = 8, batch_norm: bool = False) -> list[nn.Module]:
    """``Dense`` layers through ``widths`` (w0 -> w1 -> ... -> w_last), for an ``nn.Sequential``."""
    return [Dense(a, b, groups, batch_norm) for a, b in zip(widths[:-1], widths[1:])]


def _head_norm(enc: dict[str, Any]) -> tuple[int, bool]:
    """(GroupNorm groups, BatchNorm instead) of a head, from the encoder options."""
    return enc.get("groups", 8), enc.get("group_norm") == "batch"


class RangeGuard(nn.Module):
    """Identity in training, where it records the largest per-point RMS of its input (a buffer, so it is
    saved and resumed); in eval, a point whose RMS exceeds that is scaled down to it (``range_guard``, a
    departure: module docstring). ``x`` (..., C) -> (..., C)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("limit", torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rms = x.detach().float().square().mean(-1, keepdim=True).sqrt()
        if self.training:
            self.limit.copy_(torch.maximum(self.limit, rms.max()))
            return x
        if not self.limit > 0:      # never trained
            return x
        return x * (self.limit / rms.clamp_min(self.limit)).to(x.dtype)


class ECA(nn.Module):
    """Efficient channel attention (Wang et al., "ECA-Net", CVPR 2020): x * sigmoid(conv3(mean over points)).
    ``x`` (B, L, C) -> (B, L, C)."""

    def __init__(self, kernel_size: int = 3):
        super().__init__()
        self.conv = nn.Conv1d(1, 1, kernel_size, padding=(kernel_size - 1) // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = torch.sigmoid(self.conv(x.mean(1).unsqueeze(1)))  # (B, 1, C)
        return x * w


def _mixer_options(mixer: str, dim: int, d_state: int, d_conv: int, expand: float, max_len: int,
                   extra: dict[str, Any] | None) -> dict[str, Any]:
    if mixer == "mamba":
        opts: dict[str, Any] = dict(d_state=d_state, d_conv=d_conv, expand=expand)
    elif mixer == "hyena":
        opts = dict(max_len=max_len)
    elif mixer in ("full", "local", "ls", "probsparse"):
        opts = dict(heads=max(1, dim // 64) if dim % 64 == 0 else 1)
    else:
        opts = {}
    opts.update(extra or {})
    return opts


class SeqBlock(nn.Module):
    """x + mixer(x), Linear to ``cout`` (if it differs), GroupNorm, LeakyReLU (the official
    ``PointMambaNonFFNBlock`` with post-normalization). ``x`` (B, L, cin) -> (B, L, cout)."""

    def __init__(self, cin: int, cout: int, *, mixer: str = "mamba", d_state: int = 64, d_conv: int = 4,
                 expand: float = 2, groups: int = 8, max_len: int = 64, mixer_options: dict[str, Any] | None = None,
                 batch_norm: bool = False, range_guard: bool = False):
        super().__init__()
        self.pre = RangeGuard() if range_guard else nn.Identity()
        self.mixer = build_mixer(mixer, dim=cin, **_mixer_options(mixer, cin, d_state, d_conv, expand, max_len,
                                                                   mixer_options))
        self.dense = nn.Linear(cin, cout) if cin != cout else nn.Identity()
        self.norm, self.act = _norm(groups, cout, batch_norm), _act()

    def forward(self, x: torch.Tensor, batch: int | None = None) -> torch.Tensor:
        y = self.dense(x + self.mixer(self.pre(x)))
        if batch is not None:  # normalise over every sequence of a cloud together: (B S, L, C) -> (B, S L, C)
            return self.act(self.norm(y.reshape(batch, -1, y.shape[-1]))).reshape(y.shape)
        return self.act(self.norm(y))


def scan_orders(xyz: torch.Tensor, serializers: Sequence[PointSerializer], flip: bool) -> list[torch.Tensor]:
    """The (B, L) point orders of every serializer, then (``flip``) each reversed (the official ``scan``)."""
    orders = [s.order(xyz) for s in serializers]
    return orders + [o.flip(-1) for o in orders] if flip else orders


def _permute(x: torch.Tensor, order: torch.Tensor, dim: int) -> torch.Tensor:
    """Gather ``x`` along ``dim`` (1 for (B, L, C), 2 for (B, C, L)) by ``order`` (B, L)."""
    idx = order.unsqueeze(-1).expand_as(x) if dim == 1 else order.unsqueeze(1).expand_as(x)
    return x.gather(dim, idx)


def _unpermute(x: torch.Tensor, order: torch.Tensor, dim: int) -> torch.Tensor:
    return _permute(x, torch.argsort(order, dim=-1), dim)


class MultiScanMamba(nn.Module):
    """The official multi-scan selective SSM (``PointScanMambaNonFFNBlock.mamba``, after VMamba's SS2D):

        x, z = in_proj(u);  x = act(dwconv(x)) in point order        (shared by the K scans)
        y_k  = S6_k(x read in order k)  with its own x_proj_k, dt_proj_k, A_k, D_k
        y    = sum_k y_k put back in point order;  out = out_proj(y * act(z))

    ``x`` (B, L, C), ``orders`` K tensors (B, L) -> (B, L, C). Cost: K scans of O(L E N).
    """

    def __init__(self, dim: int, num_scans: int, *, d_state: int = 64, d_conv: int = 4, expand: float = 2,
                 dt_rank: int | None = None, dt_min: float = 1e-3, dt_max: float = 0.1, dt_init_floor: float = 1e-4):
        super().__init__()
        e = self.inner = int(expand * dim)
        self.k, self.d_state = num_scans, d_state
        self.dt_rank = r = dt_rank or math.ceil(dim / 16)
        self.in_proj = nn.Linear(dim, 2 * e, bias=False)
        self.conv = nn.Conv1d(e, e, d_conv, groups=e, padding=d_conv - 1, bias=True)
        self.x_proj_weight = nn.Parameter(torch.empty(num_scans, r + 2 * d_state, e))
        nn.init.uniform_(self.x_proj_weight, -e ** -0.5, e ** -0.5)  # nn.Linear's default bound
        self.dt_projs_weight = nn.Parameter(torch.empty(num_scans, e, r).uniform_(-r ** -0.5, r ** -0.5))
        self.dt_projs_bias = nn.Parameter(dt_bias_init((num_scans, e), dt_min, dt_max, dt_init_floor))
        self.A_logs = nn.Parameter(torch.log(torch.arange(1, d_state + 1, dtype=torch.float32)).repeat(num_scans * e, 1))
        self.Ds = nn.Parameter(torch.ones(num_scans * e))
        self.A_logs._no_weight_decay = True
        self.Ds._no_weight_decay = True
        self.out_proj = nn.Linear(e, dim, bias=False)
        self.act = _act()

    def forward(self, x: torch.Tensor, orders: Sequence[torch.Tensor]) -> torch.Tensor:
        if len(orders) != self.k:
            raise ValueError(f"MultiScanMamba: expected {self.k} scan orders, got {len(orders)}")
        length, e, n, r = x.shape[1], self.inner, self.d_state, self.dt_rank
        u, z = self.in_proj(x).chunk(2, dim=-1)
        u = self.act(self.conv(u.transpose(1, 2))[..., :length])             # (B, E, L), point order
        a = -torch.exp(self.A_logs.float()).view(self.k, e, n)
        d, bias = self.Ds.float().view(self.k, e), self.dt_projs_bias.float()
        y = 0
        for i, order in enumerate(orders):
            us = _permute(u, order, 2)                                         # (B, E, L) in scan order
            dbl = torch.einsum("bel,ce->bcl", us, self.x_proj_weight[i])      # (B, R + 2N, L)
            dt, bs, cs = dbl.split([r, n, n], dim=1)
            delta = torch.einsum("brl,er->bel", dt, self.dt_projs_weight[i])
            ys = selective_scan(us.float(), delta.float(), a[i], bs.float(), cs.float(), D=d[i],
                                delta_bias=bias[i], delta_softplus=True)
            y = y + _unpermute(ys.to(x.dtype), order, 2)
        return self.out_proj(y.transpose(1, 2) * self.act(z))


class VanillaSSM(nn.Module):
    """A vanilla point SSM block over all points of a level: x + SSM over the K serialized orders (summed
    back in point order), GroupNorm, LeakyReLU (the official ``PointScanMambaNonFFNBlock``).
    ``mixer="mamba"``: ``MultiScanMamba``; another backbone mixer: one mixer shared by the K orders.
    ``x`` (B, L, C), ``orders`` K (B, L) -> (B, L, C)."""

    def __init__(self, dim: int, num_scans: int, *, mixer: str = "mamba", d_state: int = 64, d_conv: int = 4,
                 expand: float = 2, groups: int = 8, max_len: int = 2048, mixer_options: dict[str, Any] | None = None,
                 batch_norm: bool = False, range_guard: bool = False):
        super().__init__()
        self.pre = RangeGuard() if range_guard else nn.Identity()
        self.num_scans, self.is_multiscan = num_scans, mixer == "mamba"
        if self.is_multiscan:
            self.ssm = MultiScanMamba(dim, num_scans, d_state=d_state, d_conv=d_conv, expand=expand,
                                      **(mixer_options or {}))
        else:
            self.ssm = build_mixer(mixer, dim=dim, **_mixer_options(mixer, dim, d_state, d_conv, expand, max_len,
                                                                     mixer_options))
        self.norm, self.act = _norm(groups, dim, batch_norm), _act()

    def forward(self, x: torch.Tensor, orders: Sequence[torch.Tensor]) -> torch.Tensor:
        u = self.pre(x)
        if self.is_multiscan:
            y = self.ssm(u, orders)
        else:
            b = x.shape[0]
            seqs = torch.cat([_permute(u, o, 1) for o in orders], 0)           # (K B, L, C)
            out = self.ssm(seqs).split(b, 0)
            y = sum(_unpermute(o, order, 1) for o, order in zip(out, orders))
        return self.act(self.norm(x + y))


class GroupSSM(nn.Module):
    """One scale of a level's group SSM: each centre's ``k`` neighbours (nearest first) as a sequence of
    ``[pos_j - pos_c, f_j]``, two ``SeqBlock`` (in -> middle -> out), max over neighbours.
    ``seq`` (B, M, k, cin) -> (B, M, cout).

    ``norm="sequence"`` (official): GroupNorm statistics per neighbourhood sequence; ``"cloud"``: per cloud over
    all its neighbourhoods (as flemme's ``DenseBlock`` normalises PointNet++'s grouped features). Per sequence,
    every neighbourhood is standardised before the max, which leaves little to tell neighbourhoods apart at
    initialisation (measured on the frog set: the within-cloud spread of level-1 features is 1/10 of their
    size); the CPU configs use ``"cloud"``.
    """

    def __init__(self, cin: int, cout: int, blocks: int = 2, norm: str = "sequence", **block_options):
        super().__init__()
        if norm not in ("sequence", "cloud", "batch"):
            raise ValueError(f"PointSSM: group_norm must be 'sequence', 'cloud' or 'batch', got {norm!r}")
        self.cloud_norm = norm == "cloud"
        mid = middle_width(cin, cout)
        widths = [cin] + [mid] * (blocks - 1) + [cout]
        self.blocks = nn.ModuleList(SeqBlock(widths[i], widths[i + 1], **block_options) for i in range(blocks))

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        b, m, k, c = seq.shape
        h = seq.reshape(b * m, k, c)
        for blk in self.blocks:
            h = blk(h, b if self.cloud_norm else None)
        return h.reshape(b, m, k, -1).amax(2)


def _orders(orders: Sequence[str]) -> list[str]:
    out = [_ORDER_ALIASES.get(o, o) for o in orders]
    bad = [o for o in out if o not in POINT_ORDERS]
    if bad:
        raise ValueError(f"PointSSM: unknown scan orders {bad}; expected names from {POINT_ORDERS} "
                         f"(or the official {sorted(_ORDER_ALIASES)})")
    return out


class PointSSMEncoder(nn.Module):
    """Levels of (FPS, group SSM per scale, vanilla SSM, ECA) + final concatenation (module docstring).

    ``forward(x)`` -> ``(levels, pooled, global_)``: ``levels`` the list of (xyz, features) from the input
    points (with their projection) to the last level; ``pooled`` (B, M_last, dims[-1]) the final
    concatenation's output; ``global_`` (B, 2 dims[-1]) = [max, mean] of it.
    """

    def __init__(self, in_channels: int = 3, *, proj_dim: int = 64, npoints: Sequence[int] = (1024, 512, 256, 128, 64),
                 dims: Sequence[int] = (64, 64, 128, 256, 512), radii: Sequence[float] = (0.1, 0.2, 0.4, 0.6, 0.8),
                 k: int = 32, scales: int = 2, blocks: int = 2, query: str = "feature",
                 orders: Sequence[str] = ("x", "y", "z", "inside_out"), flip: bool = True, mixer: str = "mamba",
                 mixer_options: dict[str, Any] | None = None, d_state: int = 64, d_conv: int = 4, expand: float = 2,
                 groups: int = 8, channel_attention: bool = True, final_concat: bool = True, vanilla: bool = True,
                 group_norm: str = "sequence", range_guard: bool = False):
        super().__init__()
        check_seq("PointSSM", npoints=npoints, dims=dims, radii=radii)
        if query not in ("feature", "xyz", "ball"):
            raise ValueError(f"PointSSM: query must be 'feature', 'xyz' or 'ball', got {query!r}")
        if not isinstance(k, int) or k < 2 or scales < 1 or blocks < 1:
            raise ValueError(f"PointSSM: need k >= 2, scales >= 1, blocks >= 1; got k={k}, scales={scales}, blocks={blocks}")
        self.npoints, self.query, self.flip = tuple(npoints), query, flip
        self.ks = scale_values(int(k), scales)
        self.radii = [scale_values(float(r), scales) for r in radii]
        self.serializers = [PointSerializer(o) for o in _orders(orders)]
        self.proj, self.pos = nn.Linear(in_channels, proj_dim), nn.Linear(3, proj_dim)
        bn = group_norm == "batch"
        opts = dict(mixer=mixer, d_state=d_state, d_conv=d_conv, expand=expand, groups=groups,
                    mixer_options=mixer_options, batch_norm=bn, range_guard=bool(range_guard))
        widths = (proj_dim, *dims)
        self.groups_ = nn.ModuleList(
            nn.ModuleList(GroupSSM(widths[i] + proj_dim, w, blocks, norm=group_norm, max_len=max(self.ks), **opts)
                          for w in scale_widths(dims[i], scales)) for i in range(len(dims)))
        n_scans = len(self.serializers) * (2 if flip else 1)
        self.vanilla = nn.ModuleList(
            nn.ModuleList(VanillaSSM(d, n_scans, max_len=max(npoints), **opts) for _ in range(blocks))
            for d in dims) if vanilla else None
        self.eca = nn.ModuleList(ECA() for _ in dims) if channel_attention else None
        self.final = nn.Sequential(*dense_stack((sum(widths), middle_width(sum(widths), dims[-1]), dims[-1]), groups,
                                                bn)) if final_concat else None
        self.widths, self.out_dim = widths, dims[-1]

    def _neighbours(self, xyz, feats, idx, centres, k):
        if self.query == "feature":
            return ops.knn(ops.gather(feats, idx).detach(), feats.detach(), min(k, feats.shape[1]))[1]
        if self.query == "xyz":
            return ops.knn(centres, xyz, min(k, xyz.shape[1]))[1]
        raise AssertionError

    def forward(self, x: torch.Tensor):
        xyz = x[..., :3].contiguous()
        feats, pos = self.proj(x), self.pos(xyz)
        levels, sample_ids = [(xyz, feats)], []
        for i, m in enumerate(self.npoints):
            idx = ops.farthest_point_sample(xyz, min(m, xyz.shape[1]))       # (B, M)
            centres, cpos = ops.gather(xyz, idx), ops.gather(pos, idx)
            outs = []
            for s, block in enumerate(self.groups_[i]):
                if self.query == "ball":
                    nbr, _ = ops.ball_query(centres, xyz, self.radii[i][s], self.ks[s], order="nearest")
                else:
                    nbr = self._neighbours(xyz, feats, idx, centres, self.ks[s])   # (B, M, k) nearest first
                seq = torch.cat([ops.gather(pos, nbr) - cpos.unsqueeze(2), ops.gather(feats, nbr)], -1)
                outs.append(block(seq))
            xyz, pos, feats = centres, cpos, torch.cat(outs, -1)
            if self.vanilla is not None:
                orders = scan_orders(xyz, self.serializers, self.flip)
                for blk in self.vanilla[i]:
                    feats = blk(feats, orders)
            if self.eca is not None:
                feats = self.eca[i](feats)
            levels.append((xyz, feats))
            sample_ids.append(idx)
        pooled = feats
        if self.final is not None:
            gathered, ids = [feats], None
            for j in range(len(sample_ids) - 1, -1, -1):       # every earlier level at the last level's points
                ids = sample_ids[j] if ids is None else sample_ids[j].gather(1, ids)
                gathered.append(ops.gather(levels[j][1], ids))
            pooled = self.final(torch.cat(gathered[::-1], -1))
        return levels, pooled, torch.cat([pooled.amax(1), pooled.mean(1)], -1)


_ENCODER_OPTIONS = ("proj_dim", "npoints", "dims", "radii", "k", "scales", "blocks", "query", "orders", "flip",
                    "mixer", "mixer_options", "d_state", "d_conv", "expand", "groups", "channel_attention",
                    "final_concat", "vanilla", "group_norm", "range_guard")


def _given(local: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in local.items() if (k in _ENCODER_OPTIONS or k == "dense") and v is not None}


def _split_options(size: str | None, given: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    if size is not None and size not in SIZES:
        raise ValueError(f"PointSSM: unknown size {size!r}; expected one of {sorted(SIZES)} or None")
    merged = {**(SIZES[size] if size else {}), **{k: v for k, v in given.items() if v is not None}}
    dense = merged.pop("dense", (1024, 512, 256))
    return merged, {"dense": tuple(dense)}


class PointSSMCls(PointModel):
    """Point SSM classifier (module docstring): ``x`` (B, N, 3) -> logits (B, num_classes).

    Args:
        num_classes: classes. size: ``paper`` (the official config), ``tiny`` (CPU) or None; any encoder
            option (``PointSSMEncoder``) or ``dense`` (the head widths) overrides the size's.
    """

    def __init__(self, num_classes: int, in_channels: int = 3, *, size: str | None = "paper", proj_dim: int | None = None, npoints: Sequence[int] | None = None,
                 dims: Sequence[int] | None = None, radii: Sequence[float] | None = None, k: int | None = None,
                 scales: int | None = None, blocks: int | None = None, query: str | None = None,
                 orders: Sequence[str] | None = None, flip: bool | None = None, mixer: str | None = None,
                 mixer_options: dict[str, Any] | None = None, d_state: int | None = None, d_conv: int | None = None,
                 expand: float | None = None, groups: int | None = None, channel_attention: bool | None = None,
                 final_concat: bool | None = None, vanilla: bool | None = None, dense: Sequence[int] | None = None,
                 group_norm: str | None = None, range_guard: bool | None = None):
        super().__init__(in_channels)
        enc, head = _split_options(size, _given(locals()))
        self.encoder = PointSSMEncoder(in_channels, **enc)
        widths = (2 * self.encoder.out_dim, *head["dense"])
        groups, bn = _head_norm(enc)
        self.head = nn.Sequential(*dense_stack(widths, groups, bn),
                                  nn.Linear(widths[-1], num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_cloud(type(self).__name__, x, self.in_channels)
        return self.head(self.encoder(x)[2])


class PointSSMSeg(PointModel):
    """Point SSM per-point segmentation (module docstring): ``x`` (B, N, 3) -> logits (B, N, num_classes).

    Args:
        num_classes: labels. size, options: as ``PointSSMCls`` (``dense`` = the global code's widths,
            default (1024,)). fp_dims: feature-propagation widths (the official ``fp_channels``);
            the decoder has ``len(fp_dims) + 1`` layers, the first at the global code's width.
    """

    def __init__(self, num_classes: int, in_channels: int = 3, *, size: str | None = "paper",
                 fp_dims: Sequence[int] = (512, 512, 256, 256, 128), proj_dim: int | None = None, npoints: Sequence[int] | None = None,
                 dims: Sequence[int] | None = None, radii: Sequence[float] | None = None, k: int | None = None,
                 scales: int | None = None, blocks: int | None = None, query: str | None = None,
                 orders: Sequence[str] | None = None, flip: bool | None = None, mixer: str | None = None,
                 mixer_options: dict[str, Any] | None = None, d_state: int | None = None, d_conv: int | None = None,
                 expand: float | None = None, groups: int | None = None, channel_attention: bool | None = None,
                 final_concat: bool | None = None, vanilla: bool | None = None, dense: Sequence[int] | None = None,
                 group_norm: str | None = None, range_guard: bool | None = None):
        super().__init__(in_channels)
        options = _given(locals())
        options.setdefault("dense", (1024,))
        if size == "paper":
            options.setdefault("npoints", (2048, 1024, 512, 256, 128))
        enc, head = _split_options(size, options)
        self.encoder = PointSSMEncoder(in_channels, **enc)
        groups, bn = _head_norm(enc)
        widths = (2 * self.encoder.out_dim, *head["dense"])
        self.code = nn.Sequential(*dense_stack(widths, groups, bn))
        skips = list(self.encoder.widths[::-1])                              # last level ... input projection
        if len(fp_dims) != len(skips) - 1:
            raise ValueError(f"PointSSMSeg: fp_dims needs {len(skips) - 1} widths (one per level), got {len(fp_dims)}")
        outs = [widths[-1], *fp_dims]
        known = widths[-1]
        opts = dict(mixer=enc.get("mixer", "mamba"), d_state=enc.get("d_state", 64), d_conv=enc.get("d_conv", 4),
                    expand=enc.get("expand", 2), groups=groups, mixer_options=enc.get("mixer_options"),
                    max_len=4096, batch_norm=bn, range_guard=bool(enc.get("range_guard")))
        self.fp = nn.ModuleList()
        for skip, out in zip(skips, outs):
            cin = known + skip
            mid = middle_width(cin, out)
            self.fp.append(nn.Sequential(SeqBlock(cin, mid, **opts), SeqBlock(mid, out, **opts)))
            known = out
        self.fp_eca = nn.ModuleList(ECA() for _ in outs)
        self.head = nn.Linear(outs[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_cloud(type(self).__name__, x, self.in_channels)
        levels, _, global_ = self.encoder(x)
        code = self.code(global_)
        known_xyz, known = None, code
        for layer, eca, (xyz, skip) in zip(self.fp, self.fp_eca, reversed(levels)):
            up = (known.unsqueeze(1).expand(-1, xyz.shape[1], -1) if known_xyz is None
                  else ops.interpolate_3nn(xyz, known_xyz, known))
            known, known_xyz = eca(layer(torch.cat([up, skip], -1))), xyz
        return self.head(known)


class PointSSMCompletion(PointModel):
    """Class-conditioned point completion (module docstring): ``x`` (B, N, 3) partial cloud, ``category``
    (B,) int64 -> completed cloud (B, grid^2, 3), ``grid = int(sqrt(n_out))`` (``folding_times=0``: (B, n_out, 3)).

    Args:
        num_classes: classes of the condition. n_out: output points (a square grid is folded).
        size, options: as ``PointSSMCls`` (``dense`` = the code's widths, default (1024,)).
        cond_dim: width of the class embedding. fold_hidden: hidden widths of each folding MLP.
        folding_times: 2 (fold a square grid twice, the official completion config) or 0 (the official
            ``PointNetDecoder``'s default: Dense layers ``final_hidden`` then a Linear to ``n_out`` x 3).
        keep_input: return the input's xyz followed by the decoder's points, (B, N + decoder points, 3).
    """

    def __init__(self, num_classes: int, in_channels: int = 3, *, size: str | None = "paper", n_out: int = 2048,
                 cond_dim: int = 128, fold_hidden: Sequence[int] = (512, 512), folding_times: int = 2,
                 final_hidden: Sequence[int] = (512, 512), keep_input: bool = False, proj_dim: int | None = None, npoints: Sequence[int] | None = None,
                 dims: Sequence[int] | None = None, radii: Sequence[float] | None = None, k: int | None = None,
                 scales: int | None = None, blocks: int | None = None, query: str | None = None,
                 orders: Sequence[str] | None = None, flip: bool | None = None, mixer: str | None = None,
                 mixer_options: dict[str, Any] | None = None, d_state: int | None = None, d_conv: int | None = None,
                 expand: float | None = None, groups: int | None = None, channel_attention: bool | None = None,
                 final_concat: bool | None = None, vanilla: bool | None = None, dense: Sequence[int] | None = None,
                 group_norm: str | None = None, range_guard: bool | None = None):
        super().__init__(in_channels)
        options = _given(locals())
        options.setdefault("dense", (1024,))
        if size == "paper":
            options.setdefault("npoints", (2048, 1024, 512, 256, 128))
        enc, head = _split_options(size, options)
        self.num_classes, self.keep_input = num_classes, keep_input
        self.encoder = PointSSMEncoder(in_channels, **enc)
        groups, bn = _head_norm(enc)
        widths = (2 * self.encoder.out_dim, *head["dense"])
        self.code = nn.Sequential(*dense_stack(widths, groups, bn))
        d = widths[-1]
        self.cond = nn.Sequential(nn.Linear(num_classes, cond_dim), _act(), nn.Linear(cond_dim, cond_dim))
        self.gate, self.bias = nn.Linear(cond_dim, d), nn.Linear(cond_dim, d)
        if folding_times not in (0, 2):
            raise ValueError(f"PointSSMCompletion: folding_times must be 2 (fold a grid twice) or 0 (the "
                             f"fully-connected decoder), got {folding_times!r}")
        self.folding_times, self.n_out = folding_times, n_out

        def mlp(cin, hidden, out):
            ws = (cin, *hidden)
            return nn.Sequential(*dense_stack(ws, groups, bn), nn.Linear(ws[-1], out))

        if folding_times == 0:
            self.final = mlp(d, final_hidden, 3 * n_out)
        else:
            lin = torch.linspace(-0.5, 0.5, int(math.isqrt(n_out)))
            self.register_buffer("grid", torch.stack(torch.meshgrid(lin, lin, indexing="xy"), -1).reshape(-1, 2),
                                 persistent=False)
            self.fold1, self.fold2 = mlp(d + 2, fold_hidden, 3), mlp(d + 3, fold_hidden, 3)

    def forward(self, x: torch.Tensor, category: torch.Tensor | None = None) -> torch.Tensor:
        check_cloud(type(self).__name__, x, self.in_channels)
        category = self.check_category(category, x.shape[0], self.num_classes, x.device)
        code = self.code(self.encoder(x)[2])
        c = self.cond(F.one_hot(category, self.num_classes).to(code.dtype))
        code = code * torch.sigmoid(self.gate(c)) + self.bias(c)
        if self.folding_times == 0:
            y = self.final(code).reshape(x.shape[0], self.n_out, 3)
        else:
            grid = self.grid.to(code.dtype).unsqueeze(0).expand(x.shape[0], -1, -1)
            rep = code.unsqueeze(1).expand(-1, grid.shape[1], -1)
            y = self.fold2(torch.cat([rep, self.fold1(torch.cat([rep, grid], -1))], -1))
        return torch.cat([x[..., :3], y], 1) if self.keep_input else y
