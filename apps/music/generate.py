"""Streaming melody generation over a chord progression with a ``MelodyLM``.

    prog, shift, key = prepare_progression("G D Em C", bars=8, meter="4/4")   # -> C major, shift -7... +5
    sheet = generate(lm, prog, temperature=0.9, top_k=20, seed=0)            # LeadSheet in C / A minor
    generate_file("pretrained/music/x", "C G Am F", 8, "out.mid")             # by suffix, in the user's key

The progression is repeated to fill ``bars`` and moved to C major / A minor (the training key): the key is
estimated from the chords (``chords.estimate_key``) and the melody is moved back when written. Each event
costs one ``MelodyLM.step`` (``use_step=False`` runs a full forward over the prefix instead: the slow
reference the tests and the benchmark compare with). Constraints applied to the logits before sampling:

- bar count and bar lines: the bar flag is set by the onset; a duration never crosses the next bar line or
  chord change (events are cut there), and generation stops at the end of the last bar;
- key: pitches of the C major (or A harmonic/natural minor) scale only (``in_key``);
- range: ``pitch_range`` (MIDI, in the user's key); a hold only continues a sounding note.

Sampling: ``temperature`` divides the logits, ``top_k`` keeps the k best, ``top_p`` the smallest set whose
probability reaches p; each head is sampled from its own distribution given the same state.
"""
from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from spanmix.apps.music.chords import Progression, estimate_key, parse_progression
from spanmix.apps.music.data import chord_track
from spanmix.apps.music.events import HOLD, N_DURATIONS, N_PITCHES, REST, STEP, LeadSheet
from spanmix.apps.music.models.melody_lm import MAX_POS, MelodyLM

__all__ = ["generate", "generate_file", "prepare_progression"]

_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 4, 5, 7, 8, 9, 11)  # A natural + harmonic minor (G#), as pitch classes


def prepare_progression(text: str, bars: int, meter: str = "4/4") -> tuple[Progression, int, str]:
    """Parse, repeat to ``bars`` and move to C / A minor: ``(progression, shift, "G major")``."""
    if not isinstance(bars, int) or not 1 <= bars <= 256:
        raise ValueError(f"--bars must be an integer in 1..256, got {bars!r}")
    prog = parse_progression(text, meter).repeat_to(bars)
    tonic, mode = estimate_key(list(prog.chords))
    target = 9 if mode == "minor" else 0
    shift = (target - tonic + 6) % 12 - 6
    return prog.transpose(shift), shift, f"{_NAMES[tonic]} {mode}"


def _sample(logits: torch.Tensor, allowed: torch.Tensor, temperature: float, top_k, top_p, gen) -> int:
    z = logits.float().masked_fill(~allowed, float("-inf")) / temperature
    if top_k:
        kth = torch.topk(z, min(int(top_k), int(allowed.sum()))).values[-1]
        z = z.masked_fill(z < kth, float("-inf"))
    probs = torch.softmax(z, -1)
    if top_p is not None and top_p < 1:
        sorted_p, idx = torch.sort(probs, descending=True)
        keep = sorted_p.cumsum(0) - sorted_p < top_p
        probs = torch.zeros_like(probs).scatter(0, idx[keep], sorted_p[keep])
    return int(torch.multinomial(probs / probs.sum(), 1, generator=gen))


@torch.no_grad()
def generate(lm: MelodyLM, prog: Progression, *, temperature: float = 1.0, top_k: int | None = None,
             top_p: float | None = None, seed: int = 0, in_key: bool = True, minor: bool = False,
             pitch_range: tuple[int, int] = (55, 84), use_step: bool = True,
             progress: Callable[[float], None] | None = None, max_events: int | None = None) -> LeadSheet:
    """Sample one melody over ``prog`` (already in C / A minor). Returns its ``LeadSheet``."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {top_p!r}")
    low, high = pitch_range
    if not 0 <= low <= high <= 127:
        raise ValueError(f"pitch range must satisfy 0 <= low <= high <= 127 (MIDI), got {pitch_range}")
    lm.eval()
    bar, total = prog.bar_length, prog.length
    segs = chord_track(zip(prog.onsets, prog.durations, prog.chords), bar, Fraction(0), total)
    as_long = lambda v: torch.tensor([v], dtype=torch.long)  # noqa: E731
    chords = torch.tensor([[c for _, _, c in segs]])
    chord_pos = torch.tensor([[int((o % bar) / STEP) for o, _, _ in segs]])
    chord_len = torch.tensor([[int(d / STEP) for _, d, _ in segs]])
    context = lm.encode_chords(chords, chord_pos, chord_len) if lm.conditioning else None
    scale = MINOR if minor else MAJOR
    pitch_ok = torch.zeros(N_PITCHES, dtype=torch.bool)
    for p in range(low, high + 1):
        pitch_ok[p + 2] = (p % 12 in scale) or not in_key
    pitch_ok[REST] = True
    gen = torch.Generator().manual_seed(int(seed))
    limit = max_events or lm.max_len
    state = lm.init_state(1, context) if use_step else None
    rows: list[list[int]] = []
    bar_pos_l, seg_l = [], []
    t, k = Fraction(0), 0
    while t < total:
        if len(rows) >= limit:
            raise ValueError(f"{len(rows)} events did not fill {prog.n_bars} bars; the model is limited to "
                             f"{limit} events: ask for fewer bars")
        while segs[k][0] + segs[k][1] <= t:
            k += 1
        pos = int((t % bar) / STEP)
        prev = torch.tensor([rows[-1]]) if rows else torch.zeros(1, 4, dtype=torch.long)
        if use_step:
            logits, state = lm.step(prev, as_long(min(pos, MAX_POS - 1)), as_long(k), state)
            logits = {h: v[0] for h, v in logits.items()}
        else:
            ev = torch.tensor([rows + [[0, 0, 0, 0]]])
            full = lm(ev, torch.tensor([bar_pos_l + [pos]]), torch.tensor([seg_l + [k]]), chords, chord_pos,
                      chord_len)
            logits = {h: v[0, -1] for h, v in full.items()}
        room = segs[k][0] + segs[k][1] - t
        dur_ok = torch.arange(N_DURATIONS) < int(room / STEP)
        allowed = pitch_ok.clone()
        allowed[HOLD] = bool(rows) and rows[-1][3] != REST
        d = _sample(logits["duration"], dur_ok, temperature, top_k, top_p, gen)
        p = _sample(logits["pitch"], allowed, temperature, top_k, top_p, gen)
        rows.append([int(pos == 0), segs[k][2], d, p])
        bar_pos_l.append(pos)
        seg_l.append(k)
        t += (d + 1) * STEP
        if progress:
            progress(float(t / total))
    return LeadSheet(np.array(rows, dtype=np.int64), prog.meter)


def generate_file(weights, chords: str, bars: int, output, *, meter: str = "4/4", seed: int = 0,
                  temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
                  in_key: bool = True, pitch_range: tuple[int, int] = (55, 84), progress: bool = False):
    """Generate and write ``output`` (.mid/.midi/.musicxml/.xml/.abc/.wav) in the progression's own key."""
    from spanmix.apps.music.convert import write
    from spanmix.apps.music.task import load_melody_lm

    out = Path(output)
    if out.suffix.lower() not in (".mid", ".midi", ".musicxml", ".xml", ".abc", ".wav"):
        raise ValueError(f"--output {out.name!r}: the suffix must be .mid, .midi, .musicxml, .xml, .abc or .wav")
    prog, shift, key = prepare_progression(chords, bars, meter)
    lm = weights if isinstance(weights, MelodyLM) else load_melody_lm(weights)
    bar_cb = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=100, desc="generating", unit="%", leave=False)
        bar_cb = lambda f: bar.update(round(100 * f) - bar.n)  # noqa: E731
    sheet = generate(lm, prog, temperature=temperature, top_k=top_k, top_p=top_p, seed=seed, in_key=in_key,
                     minor=key.endswith("minor"), pitch_range=(pitch_range[0] + shift, pitch_range[1] + shift),
                     progress=bar_cb)
    if progress:
        bar.close()
    sheet.key, sheet.transposition = key, shift
    if out.suffix.lower() == ".wav":
        from spanmix.apps.music.audio import render_wav

        render_wav(sheet, out, original_key=True)
    else:
        write(sheet, out, original_key=True)
    return out, sheet
