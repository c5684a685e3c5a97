"""The official MaIR option files as keyword arguments, and the parameter counts the authors publish.

Sources: ``options/train/train_MaIR_{SR_x2,SR_x3,SR_x4,S_lightSR_x*,T_lightSR_x*,CDN_s15}.yml`` and
``realDenoising/options/train/train_MaIR_{MotionDeblur,RealDN,ITS}.yml`` of XLearning-SCU/2025-CVPR-MaIR
(HEAD 2fb433e). Published sizes: the authors in the repository's issue #2 (classic SR, colour denoising)
and its README (lightweight SR "~1.3M" and "<900K").
"""
from __future__ import annotations

_CLASSIC = dict(embed_dim=180, depths=(6,) * 6, d_state=16, ssm_ratio=2.0, mlp_ratio=2.5, scan_len=8,
                upsampler="pixelshuffle")
_LIGHT_S = dict(embed_dim=60, depths=(6,) * 4, d_state=16, ssm_ratio=1.4, mlp_ratio=1.6, scan_len=4,
                upsampler="pixelshuffledirect")
_LIGHT_T = dict(_LIGHT_S, d_state=1, ssm_ratio=1.1, scan_len=8)
_DENOISE = dict(embed_dim=180, depths=(6,) * 6, d_state=16, ssm_ratio=1.3, mlp_ratio=2.0, scan_len=4,
                upsampler="none", upscale=1)
_UNET_DEBLUR = dict(dim=48, num_blocks=(4, 6, 6, 8), num_refinement_blocks=4, ssm_ratio=2.0, flp_ratio=4.0,
                    mlp_ratio=1.5, scan_len=4)
_UNET_DEHAZE = dict(dim=24, num_blocks=(2, 2, 3, 4), num_refinement_blocks=2, ssm_ratio=1.2, flp_ratio=2.0,
                    mlp_ratio=2.0, scan_len=8)

#: name -> (model class name, keyword arguments)
OFFICIAL_CONFIGS: dict[str, tuple[str, dict]] = {
    **{f"sr_x{s}": ("MaIR", dict(_CLASSIC, upscale=s)) for s in (2, 3, 4)},
    **{f"light_sr_s_x{s}": ("MaIR", dict(_LIGHT_S, upscale=s)) for s in (2, 3, 4)},
    **{f"light_sr_t_x{s}": ("MaIR", dict(_LIGHT_T, upscale=s)) for s in (2, 3, 4)},
    "color_dn": ("MaIR", _DENOISE),
    "deblur": ("MaIRUNet", _UNET_DEBLUR),
    "real_dn": ("MaIRUNet", _UNET_DEBLUR),
    "dehaze": ("MaIRUNet", _UNET_DEHAZE),
}

#: name -> (published parameter count, how it is stated)
PUBLISHED_PARAMS: dict[str, tuple[float, str]] = {
    "sr_x2": (19.44e6, "19.44M"), "sr_x3": (19.63e6, "19.63M"), "sr_x4": (19.59e6, "19.59M"),
    "color_dn": (14.09e6, "14.09M"),
    **{f"light_sr_s_x{s}": (1.3e6, "~1.3M") for s in (2, 3, 4)},
    **{f"light_sr_t_x{s}": (0.9e6, "<900K") for s in (2, 3, 4)},
}


def build_official(name: str, **overrides):
    """The model of an official option file, e.g. ``build_official("sr_x4")``; overrides replace options."""
    from spanmix.apps.restore.models import mair

    if name not in OFFICIAL_CONFIGS:
        raise ValueError(f"unknown MaIR config {name!r}; expected one of: {', '.join(OFFICIAL_CONFIGS)}")
    cls, kwargs = OFFICIAL_CONFIGS[name]
    return getattr(mair, cls)(**{**kwargs, **overrides})


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())
