"""What every mixer shares: input checks and the step (streaming) protocol."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn


class Mixer(nn.Module):
    """Base class of token mixers: ``(B, L, D) -> (B, L, D)``.

    Subclasses implement ``forward(x, mask=None)`` and ``reference(x, mask=None)`` (a slow, obviously
    correct twin with the same parameters, used by the tests). ``mask`` is a ``(B, L)`` bool tensor,
    True for real tokens: attention mixers use it as a key-padding mask; the others zero padded
    positions on the way in and out.

    Causal mixers that allow streaming also implement ``init_state(batch, device=None, dtype=None)``
    and ``step(x_t, state) -> (y_t, state)`` with ``x_t``, ``y_t`` of shape ``(B, D)``; stepping
    through a sequence reproduces ``forward``.
    """

    mixer_name: str = "?"
    causal: bool = False

    @property
    def supports_step(self) -> bool:
        return type(self).step is not Mixer.step

    def init_state(self, batch: int, device: torch.device | None = None, dtype: torch.dtype | None = None) -> Any:
        raise NotImplementedError(f"mixer {self.mixer_name!r} has no step form")

    def step(self, x_t: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        raise NotImplementedError(f"mixer {self.mixer_name!r} has no step form")

    def reference(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    def check_input(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> None:
        """One clear ValueError for a wrong rank, width or mask shape."""
        check_sequence(x, self.dim, self.mixer_name, mask)


def check_sequence(x: torch.Tensor, dim: int, who: str, mask: torch.Tensor | None = None) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 3:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{who}: expected input of shape (batch, length, {dim}), got {shape}")
    if x.shape[-1] != dim:
        raise ValueError(f"{who}: expected last dimension {dim} (batch, length, {dim}), got {tuple(x.shape)}")
    if mask is not None and (mask.shape != x.shape[:2] or mask.dtype != torch.bool):
        raise ValueError(
            f"{who}: expected a bool mask of shape (batch, length) = {tuple(x.shape[:2])}, "
            f"got {mask.dtype} {tuple(mask.shape)}"
        )


def check_step_input(x_t: torch.Tensor, dim: int, who: str) -> None:
    if not isinstance(x_t, torch.Tensor) or x_t.dim() != 2 or x_t.shape[-1] != dim:
        shape = tuple(x_t.shape) if isinstance(x_t, torch.Tensor) else type(x_t).__name__
        raise ValueError(f"{who}.step: expected one time step of shape (batch, {dim}), got {shape}")


def check_heads(dim: int, heads: int, who: str) -> int:
    """Validate a head count; return the head width."""
    if heads < 1 or dim % heads:
        raise ValueError(f"{who}: dim={dim} must be divisible by heads={heads} (heads >= 1)")
    return dim // heads


def check_causal_only(who: str, causal: bool, why: str) -> None:
    """Causal-only mixers take ``causal=True`` (so one config line serves every mixer) and refuse ``False``."""
    if causal is not True:
        raise ValueError(f"{who} is causal ({why}): it accepts causal=True only, got causal={causal!r}")


def check_positive(who: str, **values: int) -> None:
    for name, value in values.items():
        if value is None or value < 1:
            raise ValueError(f"{who}: {name} must be an integer >= 1, got {value!r}")


def zero_padded(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Zero the padded positions of ``x`` (B, L, D) where ``mask`` (B, L) is False."""
    return x if mask is None else x * mask.unsqueeze(-1).to(x.dtype)
