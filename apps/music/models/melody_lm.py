"""spanmix's chord-conditioned melody language model on a backbone ``MixerStack``.

One position per CM-HRNN event (see ``spanmix.apps.music.events``). At event t the model sees

    x_t = E_bar[b_{t-1}] + E_dur[d_{t-1}] + E_pitch[p_{t-1}]      (a learned start vector at t = 0)
        + E_pos[position of event t's onset within its bar, in 16ths]
        + C[segment of the chord sounding at event t's onset]

and predicts event t's bar flag, duration and pitch with three heads (as CM-HRNN's three heads). The
onset of event t is the sum of the previous durations, so the first two lines hold nothing from the
future melody. ``C`` is the chord track encoded **non-causally**: the progression's chord segments
(chord, position in bar, length) pass through a bidirectional ``MixerStack`` (default one ``full``
attention layer, ``causal=False``), so every step sees the chords of the whole piece, ahead included;
each event's encoding is **added** (gathered from the segment at its onset), not cross-attended.
``conditioning=False`` drops ``C``: the unconditioned baseline.

The body is a causal ``MixerStack`` with any schedule (``"local*3,full"``, ``"mamba"``, ``"hyena"``,
``"full"``). Streaming: ``init_state`` + ``step`` run one event at a time through the mixers' step forms
(KV caches, SSM and long-convolution states) and equal ``forward`` (tests check it). Adapters
(``adapters.py``) can be placed after chosen blocks (``add_adapters``) with the base frozen.

Shapes: ``events`` (B, T, 4) long; ``bar_pos``, ``segment`` (B, T) long; ``chords``, ``chord_pos``,
``chord_len`` (B, S) long; masks (B, T) / (B, S) bool -> logits ``bar`` (B, T, 2), ``duration``
(B, T, 16), ``pitch`` (B, T, 130). Cost: the body's, plus O(S²) for the chord encoder (S segments).
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from spanmix.apps.music.chords import N_CHORDS
from spanmix.apps.music.events import GROUPS
from spanmix.apps.music.models.adapters import build_adapter
from spanmix.backbone import MixerStack

__all__ = ["MAX_POS", "MelodyLM"]

MAX_POS = 64  # positions within a bar / segment lengths in 16ths (longer values are clipped)
HEADS = ("bar", "duration", "pitch")


def _stack_options(schedule: str, heads: int, window: int, max_len: int, causal: bool) -> dict[str, Any]:
    names = {s.split("*")[0].strip() for s in schedule.split(",")}
    opts: dict[str, Any] = {}
    mixer_options: dict[str, dict] = {}
    for name in names:
        if name in ("full", "local", "ls", "probsparse"):
            mixer_options[name] = {"heads": heads, "causal": causal, **({"window": window} if name == "local" else {})}
        elif name == "hyena":
            mixer_options[name] = {"max_len": max_len}
        elif name == "mamba" and not causal:
            mixer_options[name] = {"bidirectional": True}
        elif name in ("conv", "s4d"):
            mixer_options[name] = {"causal": causal} if name == "conv" else {}
    opts["mixer_options"] = {k: v for k, v in mixer_options.items() if v}
    return opts


class MelodyLM(nn.Module):
    """Chord-conditioned melody LM over CM-HRNN events (module docstring).

    Args:
        dim: width D. schedule, depth: the causal body's layer schedule (repeated to ``depth``). heads, window: attention options.
        max_len: longest event sequence (Hyena filter length). chord_schedule: the non-causal chord encoder.
        conditioning: add the chord track (False: the unconditioned baseline).
        mlp_ratio, dropout: block options.
        adapters: ``{"kind": "conv", "size": 32, "after": [1, 3]}`` to build with adapters (see ``add_adapters``).
    """

    def __init__(self, dim: int = 128, schedule: str = "local*3,full", depth: int | None = None, heads: int = 4,
                 window: int = 64,
                 max_len: int = 1024, chord_schedule: str = "full", conditioning: bool = True,
                 mlp_ratio: float = 4.0, dropout: float = 0.1, adapters: dict | None = None):
        super().__init__()
        self.dim, self.conditioning, self.max_len = dim, conditioning, max_len
        self.config = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        self.emb = nn.ModuleList(nn.Embedding(n, dim) for n in (GROUPS[0], GROUPS[2], GROUPS[3]))
        self.start = nn.Parameter(torch.zeros(dim))
        self.pos = nn.Embedding(MAX_POS, dim)
        self.body = MixerStack(dim, schedule, depth, mlp_ratio=mlp_ratio, dropout=dropout,
                               **_stack_options(schedule, heads, window, max_len, causal=True))
        if conditioning:
            self.chord_emb = nn.Embedding(N_CHORDS, dim)
            self.chord_pos = nn.Embedding(MAX_POS, dim)
            self.chord_len = nn.Embedding(MAX_POS, dim)
            self.chord_encoder = MixerStack(dim, chord_schedule, mlp_ratio=mlp_ratio, dropout=dropout,
                                            **_stack_options(chord_schedule, heads, window, max_len, causal=False))
        self.heads = nn.ModuleDict({h: nn.Linear(dim, n) for h, n in zip(HEADS, (GROUPS[0], GROUPS[2], GROUPS[3]))})
        self.adapters = nn.ModuleDict()
        if adapters:
            self.add_adapters(**adapters)

    # ------------------------------------------------------------------ adapters
    def add_adapters(self, kind: str, size: int, after: list[int] | None = None, freeze: bool = True,
                     **options) -> None:
        """Insert ``kind`` adapters of bottleneck ``size`` after the blocks ``after`` (default: every block);
        ``freeze`` stops gradients to everything else (the base LM stays as it was)."""
        n = len(self.body.blocks)
        after = list(range(n)) if after is None else list(after)
        bad = [i for i in after if not 0 <= i < n]
        if bad:
            raise ValueError(f"adapter positions {bad} are outside the body's blocks 0..{n - 1}")
        if freeze:
            for p in self.parameters():
                p.requires_grad_(False)
        for i in after:
            self.adapters[str(i)] = build_adapter(kind, self.dim, size, **options)
        self.config["adapters"] = {"kind": kind, "size": size, "after": after, "freeze": freeze, **options}

    # ------------------------------------------------------------------ parts
    def encode_chords(self, chords, chord_pos, chord_len, chord_mask=None) -> torch.Tensor | None:
        """(B, S) chord segments -> (B, S, D) context (None without conditioning)."""
        if not self.conditioning:
            return None
        h = (self.chord_emb(chords) + self.chord_pos(chord_pos.clamp(0, MAX_POS - 1))
             + self.chord_len(chord_len.clamp(0, MAX_POS - 1)))
        return self.chord_encoder(h, mask=chord_mask)

    def _prev_part(self, prev: torch.Tensor) -> torch.Tensor:
        return self.emb[0](prev[..., 0]) + self.emb[1](prev[..., 2]) + self.emb[2](prev[..., 3])

    def _inputs(self, prev_emb, bar_pos, segment, context) -> torch.Tensor:
        """prev_emb: (B, T, D) embedding of the previous events; returns x (B, T, D)."""
        x = prev_emb + self.pos(bar_pos.clamp(0, MAX_POS - 1))
        if context is not None:
            x = x + torch.gather(context, 1, segment.unsqueeze(-1).expand(-1, -1, self.dim))
        return x

    def _heads(self, h: torch.Tensor) -> dict[str, torch.Tensor]:
        return {name: head(h) for name, head in self.heads.items()}

    def forward(self, events, bar_pos, segment, chords=None, chord_pos=None, chord_len=None, mask=None,
                chord_mask=None) -> dict[str, torch.Tensor]:
        if events.ndim != 3 or events.shape[-1] != 4:
            raise ValueError(f"MelodyLM: events must be (B, T, 4) class indices, got {tuple(events.shape)}")
        if events.shape[1] > self.max_len:
            raise ValueError(f"MelodyLM: {events.shape[1]} events exceed max_len={self.max_len}")
        context = self.encode_chords(chords, chord_pos, chord_len, chord_mask) if self.conditioning else None
        prev = self._prev_part(events[:, :-1])  # event t-1 feeds position t
        prev = torch.cat([self.start.expand(events.shape[0], 1, -1), prev], 1)
        x = self._inputs(prev, bar_pos, segment, context)
        for i, block in enumerate(self.body.blocks):
            x = block(x, mask=mask)
            if str(i) in self.adapters:
                x = self.adapters[str(i)](x)
        return self._heads(self.body.norm(x))

    # ------------------------------------------------------------------ streaming
    def init_state(self, batch: int, context: torch.Tensor | None, device=None) -> dict[str, Any]:
        """Start streaming; ``context`` is ``encode_chords(...)`` of the whole progression (or None)."""
        dtype = self.start.dtype
        return {"body": self.body.init_state(batch, device=device, dtype=dtype), "context": context,
                "adapters": {k: None for k in self.adapters}, "t": 0}

    def step(self, prev_event, bar_pos, segment, state) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """One event: ``prev_event`` (B, 4) (ignored at t = 0), ``bar_pos``/``segment`` (B,) of this event's
        onset -> logits of this event (B, n) per head, and the new state."""
        ctx = state["context"]
        prev = self.start.expand(len(bar_pos), -1) if state["t"] == 0 else self._prev_part(prev_event)
        x = self._inputs(prev[:, None], bar_pos[:, None], segment[:, None], ctx)[:, 0]
        new_body, adapters = [], dict(state["adapters"])
        for i, (block, s) in enumerate(zip(self.body.blocks, state["body"])):
            x, s = block.step(x, s)
            new_body.append(s)
            if str(i) in self.adapters:
                x, adapters[str(i)] = self.adapters[str(i)].step(x, adapters[str(i)])
        out = self._heads(self.body.norm(x))
        return out, {"body": new_body, "context": ctx, "adapters": adapters, "t": state["t"] + 1}
