"""CM-HRNN: conditional melody generation with a hierarchical RNN (Guo, Makris, Herremans, IJCNN 2021,
arXiv 2102.09794, Sec. III-B), re-derived in PyTorch from the paper and the official TF1 code
(AMAAI-Lab/CM-HRNN ``model/model_w_mode_switch.py``, ``model/audio_reader.py``, ``run_*.sh``).

Input per event (246 dims): ``[bar 2 | chord of the NEXT event 49 | event 197]`` ("fc": future chord),
the one-hot events of ``spanmix.apps.music.events``. With ``tiers=2`` (``2t_fc``, frame 8) and
``tiers=3`` (``3t_fc``, big frame 16, frame 8):

    big frame tier:  LSTM(256)x2 over chunks of 16 events -> Linear(256 -> 2*256) -> one vector per frame
    frame tier:      Linear(8*246 -> 256)(chunk) + big-frame vector -> LSTM(256)x2 (+ big-frame vector
                     with ``residual``, ``_rs``) -> Linear(256 -> 8*256) -> one vector per event
                     (2 tiers: the LSTM reads the raw 8*246 chunk)
    sample tier:     Conv1d(246 -> 256, kernel 8, valid) over the last 8 events + the frame vector
                     [+ one-hot time elapsed in the bar, ``remaining_time`` (the ``ad_rm`` variants)]
    heads:           duration: Linear(16)-ReLU-Linear(16); bar: Linear(2) on the duration logits;
                     pitch: Linear(130)-ReLU-Linear(130)

Predictions start after the first ``frame`` (2 tiers) or ``big frame`` (3 tiers) events, as the official
code's targets ``y = X[frame_size:]``. Loss (official config): ``0.4·CE(pitch) + 0.3·CE(duration) +
0.3·CE(bar)`` (alpha1 = 0.4, alpha2 = 0.3); dropout 0.5 on the LSTM outputs (``DropoutWrapper``).

Departures from the official code:
- The paper's bidirectional chord RNN (``birnndim`` 128, BasicLSTM) is defined but never called in the
  official graph; here ``chord_rnn=True`` (default) runs it over the future-chord track and replaces the
  one-hot future chord by its 49-dim projection (the official code's ``birnn`` method);
  ``chord_rnn=False`` reproduces the official graph.
- The first frame LSTM layer has no attention wrapper (the official ``attn_cell`` is used by the
  AttentionRNN baseline only, as here).
- ``remaining_time`` is the one-hot of the time elapsed in the bar at the predicted event's onset,
  ``(bar_pos - 1) mod 16`` in 16ths (the official ``find_remaining_time`` accumulates durations from
  the last bar event, giving the same index in 4/4).

Shapes: ``x`` (B, T, 246) -> logits (B, T - offset, 2 | 16 | 130), offset = 8 (2 tiers) or 16 (3 tiers);
T - offset must be a multiple of the largest frame.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from spanmix.apps.music.chords import N_CHORDS
from spanmix.apps.music.events import EVENT_DIM, OFFSETS

__all__ = ["CMHRNN", "LOSS_WEIGHTS", "cm_hrnn_inputs"]

LOSS_WEIGHTS = {"pitch": 0.4, "duration": 0.3, "bar": 0.3}  # run_adrm3t_fc.sh: alpha1 0.4, alpha2 0.3
INPUT_DIM = EVENT_DIM + N_CHORDS  # 246


def cm_hrnn_inputs(events: torch.Tensor) -> torch.Tensor:
    """(B, T, 4) class indices -> (B, T, 246) ``[bar | next event's chord | event]`` one-hot (the official
    ``X_with_fc_chord``; the last event's next chord is "no chord")."""
    onehot = torch.cat([F.one_hot(events[..., i], n) for i, n in enumerate((2, N_CHORDS, 16, 130))], -1).float()
    nxt = torch.roll(events[..., 1], -1, dims=1)
    nxt[:, -1] = 0
    return torch.cat([onehot[..., :OFFSETS[1]], F.one_hot(nxt, N_CHORDS).float(), onehot[..., OFFSETS[1]:]], -1)


class _LSTM(nn.Module):
    def __init__(self, inp: int, dim: int, layers: int, dropout: float):
        super().__init__()
        self.lstm = nn.LSTM(inp, dim, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        return self.drop(self.lstm(x)[0])


class CMHRNN(nn.Module):
    """CM-HRNN (module docstring). Args: tiers (2 or 3), frame (8), big_frame (16), dim (256), n_rnn (2),
    chord_rnn_dim (128), chord_rnn (the paper's BiRNN; False = official graph), residual (``_rs``),
    remaining_time (``ad_rm``), dropout (0.5; the official keep-probability flag is 0.5 too)."""

    def __init__(self, tiers: int = 3, frame: int = 8, big_frame: int = 16, dim: int = 256, n_rnn: int = 2,
                 chord_rnn_dim: int = 128, chord_rnn: bool = True, residual: bool = True,
                 remaining_time: bool = False, dropout: float = 0.5):
        super().__init__()
        if tiers not in (2, 3):
            raise ValueError(f"CMHRNN: tiers must be 2 or 3, got {tiers}")
        if tiers == 3 and big_frame % frame:
            raise ValueError(f"CMHRNN: big_frame ({big_frame}) must be a multiple of frame ({frame})")
        self.config = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        self.tiers, self.frame, self.big_frame, self.dim = tiers, frame, big_frame, dim
        self.residual, self.remaining_time = residual, remaining_time
        self.offset = frame if tiers == 2 else big_frame
        if chord_rnn:
            self.chord_rnn = nn.LSTM(N_CHORDS, chord_rnn_dim, batch_first=True, bidirectional=True)
            self.chord_drop = nn.Dropout(dropout)
            self.chord_proj = nn.Linear(2 * chord_rnn_dim, N_CHORDS)
        else:
            self.chord_rnn = None
        if tiers == 3:
            self.big_rnn = _LSTM(big_frame * INPUT_DIM, dim, n_rnn, dropout)
            self.big_up = nn.Linear(dim, dim * big_frame // frame)
            self.frame_in = nn.Linear(frame * INPUT_DIM, dim)
            self.frame_rnn = _LSTM(dim, dim, n_rnn, dropout)
        else:
            self.frame_rnn = _LSTM(frame * INPUT_DIM, dim, n_rnn, dropout)
        self.frame_up = nn.Linear(dim, dim * frame)
        self.sample_conv = nn.Conv1d(INPUT_DIM, dim, frame, bias=False)  # tf.nn.conv1d: no bias
        head_in = dim + (16 if remaining_time else 0)
        self.duration = nn.Sequential(nn.Linear(head_in, 16), nn.ReLU(), nn.Linear(16, 16))
        self.bar = nn.Linear(16, 2)
        self.pitch = nn.Sequential(nn.Linear(head_in, 130), nn.ReLU(), nn.Linear(130, 130))
        for m in self.modules():  # the official weight_bias: Xavier weights, zero biases
            if isinstance(m, (nn.Linear, nn.Conv1d)):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def _chunks(self, x: torch.Tensor, size: int) -> torch.Tensor:
        B, T, C = x.shape
        return x.reshape(B, T // size, size * C)

    def forward(self, x: torch.Tensor, elapsed: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """x: (B, T, 246) from ``cm_hrnn_inputs``; elapsed: (B, T - offset) long, the predicted events' time
        elapsed in the bar in 16ths minus one (``remaining_time`` only)."""
        B, T, C = x.shape
        if C != INPUT_DIM:
            raise ValueError(f"CMHRNN: expected (B, T, {INPUT_DIM}) inputs, got {tuple(x.shape)}")
        unit = self.big_frame if self.tiers == 3 else self.frame
        if T <= self.offset or (T - self.offset) % unit:
            raise ValueError(f"CMHRNN: T - {self.offset} must be a positive multiple of {unit}, got T = {T}")
        if self.chord_rnn is not None:
            fc = x[..., 2:2 + N_CHORDS]
            fc = self.chord_proj(self.chord_drop(self.chord_rnn(fc)[0]))
            x = torch.cat([x[..., :2], fc, x[..., 2 + N_CHORDS:]], -1)
        f = self.frame
        if self.tiers == 3:
            bf = self.big_frame
            big = self.big_up(self.big_rnn(self._chunks(x[:, :-bf], bf)))          # (B, n_big, 256*bf/f)
            big = big.reshape(B, -1, self.dim)                                       # (B, n_frames, 256)
            h = self.frame_in(self._chunks(x[:, bf - f:-f], f)) + big
            frame = self.frame_rnn(h)
            if self.residual:
                frame = frame + big
            sample_in = x[:, bf - f:-1]
        else:
            frame = self.frame_rnn(self._chunks(x[:, :-f], f))
            sample_in = x[:, :-1]
        frame = self.frame_up(frame).reshape(B, -1, self.dim)                        # (B, T - offset, 256)
        h = self.sample_conv(sample_in.transpose(1, 2)).transpose(1, 2) + frame
        if self.remaining_time:
            if elapsed is None:
                raise ValueError("CMHRNN(remaining_time=True) needs `elapsed`")
            h = torch.cat([h, F.one_hot(elapsed.clamp(0, 15), 16).float()], -1)
        duration = self.duration(h)
        return {"bar": self.bar(duration), "duration": duration, "pitch": self.pitch(h)}
