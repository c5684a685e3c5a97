"""A stack of blocks whose mixers follow a per-layer schedule, e.g. ``"local*3,full"``."""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from spanmix.backbone.blocks import Block, make_norm
from spanmix.backbone.mixers.base import check_sequence, check_step_input
from spanmix.backbone.registry import build_mixer, mixer_class
from spanmix.backbone.registry import mixer_options as accepted_options


def parse_schedule(schedule: str | Sequence[str], depth: int | None = None) -> list[str]:
    """Expand a schedule into one mixer name per layer.

    ``"local*3,full"`` -> ``[local, local, local, full]``. With ``depth``, the pattern repeats to that
    many layers and must divide it: ``parse_schedule("mamba,full", 4)`` -> mamba, full, mamba, full.
    """
    items = schedule.split(",") if isinstance(schedule, str) else list(schedule)
    layers: list[str] = []
    for item in items:
        name, _, count = item.strip().partition("*")
        name = name.strip()
        if not name:
            raise ValueError(f"empty mixer name in schedule {schedule!r}; expected e.g. 'local*3,full'")
        if count and (not count.strip().isdigit() or int(count) < 1):
            raise ValueError(f"bad repeat count {count!r} in schedule {schedule!r}; expected 'name*N' with N >= 1")
        mixer_class(name)  # unknown names fail here, listing the known ones
        layers += [name] * (int(count) if count else 1)
    if depth is not None:
        if depth < 1 or depth % len(layers):
            raise ValueError(f"depth={depth} must be a positive multiple of the schedule's {len(layers)} layer(s)")
        layers = layers * (depth // len(layers))
    return layers


class MixerStack(nn.Module):
    """A per-layer schedule of mixers in pre-norm residual blocks, with a final norm.

    ``MixerStack(256, "local*3,full", heads=8, window=128)`` is a MASFormer-style stack (Zhang et al.
    2023: local attention in most layers, full attention in a few); ``"hyena*2"`` a Hyena LM body
    (Poli et al. 2023); ``"mamba,full"`` a hybrid (Lieber et al. 2024, Jamba).

    Args:
        dim: width D.
        schedule: layer pattern, ``"name*N,name,..."`` or a list of names (see ``parse_schedule``).
        depth: optional total depth; the pattern repeats to reach it.
        ffn, mlp_ratio, norm, dropout, act: block options (see ``Block``); ``dropout`` also goes to every
            mixer that takes a ``dropout`` option.
        drop_path: stochastic depth, rising linearly from 0 at the first block to this value.
        final_norm: apply a norm after the last block.
        mixer_options: per-mixer-name options, e.g. ``{"local": {"window": 64}}``.
        **options: mixer options passed to every mixer in the schedule that accepts them
            (``heads=8`` reaches attention mixers and not Mamba). An option that no mixer in the
            schedule accepts is an error.

    Shapes: ``x`` (B, L, D), ``mask`` (B, L) bool -> (B, L, D). Cost: the sum of the blocks'.
    """

    def __init__(self, dim: int, schedule: str | Sequence[str], depth: int | None = None, *,
                 ffn: str = "mlp", mlp_ratio: float = 4.0, norm: str = "layer", dropout: float = 0.0,
                 act: str = "gelu", drop_path: float = 0.0, final_norm: bool = True,
                 mixer_options: dict[str, dict[str, Any]] | None = None, **options: Any):
        super().__init__()
        self.dim = dim
        self.schedule = parse_schedule(schedule, depth)
        mixer_options = mixer_options or {}
        for name in mixer_options:
            if name not in self.schedule:
                raise ValueError(f"mixer_options names {name!r}, which is not in the schedule {self.schedule}")
        unused = set(options) - set().union(*(accepted_options(n) for n in self.schedule))
        if unused:
            raise ValueError(f"option(s) {sorted(unused)} are accepted by no mixer in the schedule {self.schedule}")

        blocks = []
        for i, name in enumerate(self.schedule):
            accepted = accepted_options(name)
            kwargs = {k: v for k, v in options.items() if k in accepted}
            if "dropout" in accepted:
                kwargs.setdefault("dropout", dropout)
            kwargs.update(mixer_options.get(name, {}))
            rate = drop_path * i / max(1, len(self.schedule) - 1)
            blocks.append(Block(dim, build_mixer(name, dim, **kwargs), ffn=ffn, mlp_ratio=mlp_ratio,
                                norm=norm, drop_path=rate, dropout=dropout, act=act))
        self.blocks = nn.ModuleList(blocks)
        self.norm = make_norm(norm, dim) if final_norm else nn.Identity()

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        check_sequence(x, self.dim, "MixerStack", mask)
        for block in self.blocks:
            x = block(x, mask=mask)
        return self.norm(x)

    @property
    def supports_step(self) -> bool:
        return all(block.supports_step for block in self.blocks)

    def init_state(self, batch: int, device=None, dtype=None) -> list[Any]:
        """Per-layer streaming states; every mixer in the schedule must have a step form."""
        missing = [b.mixer.mixer_name for b in self.blocks if not b.supports_step]
        if missing:
            raise ValueError(f"mixers {sorted(set(missing))} have no step form; "
                             "streaming needs causal mixers with init_state/step")
        return [block.init_state(batch, device=device, dtype=dtype) for block in self.blocks]

    def step(self, x_t: torch.Tensor, state: list[Any]) -> tuple[torch.Tensor, list[Any]]:
        """One time step through every layer: ``x_t`` (B, D) -> (B, D)."""
        check_step_input(x_t, self.dim, "MixerStack")
        new_state = []
        for block, s in zip(self.blocks, state):
            x_t, s = block.step(x_t, s)
            new_state.append(s)
        return self.norm(x_t), new_state
