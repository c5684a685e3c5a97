"""Melody metrics and Markov baselines.

    pitch_class_histogram(sheet), interval_histogram(sheet), duration_histogram(sheet)  -> normalised np arrays
    histogram_distance(p, q)                     # total variation, 0 (same) .. 1 (disjoint)
    in_key_ratio(sheet), chord_tone_ratio(sheet) # fractions of sounding time
    compression_ratio(sheet)                     # repetition: raw / zlib-compressed size of the event stream
    MarkovBaseline(order=0|1).fit(sheets).nll(sheets)   # unigram / bigram event model, nats per event
    tonal_tension(sheet)                         # spiral-array tensile strain, cloud diameter, cloud momentum

Histograms count notes (holds merged into their note; rests excluded): pitch classes (12 bins),
melodic intervals between consecutive notes clipped to ±12 semitones (25 bins), and note durations on
the 16th grid clipped to 16 steps (16 bins). ``in_key_ratio`` is the share of sounding time on the C major
scale (A natural/harmonic minor for minor pieces); ``chord_tone_ratio`` the share of sounding time whose
pitch class belongs to the chord at that time (time under "no chord" is left out).

``compression_ratio`` is a proxy for CM-HRNN's measure, not the same: the paper compresses with
COSIATEC (Meredith 2013) over translatable point-set patterns; here zlib (LZ77) compresses the byte stream
of (duration, pitch) events, which also rewards literal repetition.

``tonal_tension`` re-derives Herremans & Chew's three tension measures ("Tension ribbons", TENOR 2016) in
Chew's spiral array (Chew 2000): pitch ``k`` on the line of fifths sits at ``(r sin kπ/2, r cos kπ/2, k h)``;
a triad's centre is the weighted sum (0.536, 0.274, 0.19) of its root, fifth and third, a major key's
the same sum of its tonic, dominant and subdominant triads, a minor key's mixes major/minor dominant and
subdominant triads with α = β = 0.75. At each 16th step the **cloud** is the sounding melody pitch plus
the tones of the sounding chord (the lead sheet played as melody + block chords); per window (a bar)
**tensile strain** is the distance from the window's centre of effect (the mean of the per-step cloud
centroids, silent steps counting as the origin) to the key, **cloud diameter** the mean per-step largest
distance between two cloud points, **cloud momentum** the distance between consecutive windows' centres.
Constants as the Herremans group's ``midi-miner`` (``tension_calculation.py``): r = 1, h = 0.4, the
pieces (already in C major / A minor) spelled on C major's line of fifths, minor pieces too (their relative
major's). Departures: pitch class 6 is F# (midi-miner: Gb; F# is the common one in these tunes, the leading
tone of G); one number per piece, the mean over its windows that sound (centre farther than 0.3 from the
origin, midi-miner's silence test), momentum over pairs of sounding windows; no key-change detection.

``MarkovBaseline`` models the whole event (bar, duration, pitch) as one symbol with add-``alpha``
smoothing over the 2·16·130 symbols, so its NLL is comparable with the LM's per-event NLL (the sum of its
three heads); chords are ignored.
"""
from __future__ import annotations

import math
import zlib
from collections import Counter
from fractions import Fraction

import numpy as np

from spanmix.apps.music.chords import NO_CHORD, chord_pitch_classes
from spanmix.apps.music.events import HOLD, REST, STEP, LeadSheet

__all__ = ["MarkovBaseline", "chord_tone_ratio", "compression_ratio", "duration_histogram", "histogram_distance",
           "in_key_ratio", "interval_histogram", "pitch_class_histogram", "spiral_position", "style_report",
           "tonal_tension"]

MAJOR = {0, 2, 4, 5, 7, 9, 11}
MINOR = {0, 2, 4, 5, 7, 8, 9, 11}
N_SYMBOLS = 2 * 16 * 130


def _norm(h: np.ndarray) -> np.ndarray:
    s = h.sum()
    return h / s if s > 0 else h


def _sheets(x) -> list[LeadSheet]:
    return [x] if isinstance(x, LeadSheet) else list(x)


def pitch_class_histogram(sheets) -> np.ndarray:
    h = np.zeros(12)
    for s in _sheets(sheets):
        for _, _, p in s.notes():
            if p is not None:
                h[p % 12] += 1
    return _norm(h)


def interval_histogram(sheets) -> np.ndarray:
    h = np.zeros(25)
    for s in _sheets(sheets):
        pitches = [p for _, _, p in s.notes() if p is not None]
        for a, b in zip(pitches[:-1], pitches[1:]):
            h[int(np.clip(b - a, -12, 12)) + 12] += 1
    return _norm(h)


def duration_histogram(sheets) -> np.ndarray:
    h = np.zeros(16)
    for s in _sheets(sheets):
        for _, d, p in s.notes():
            if p is not None:
                h[min(int(d / STEP), 16) - 1] += 1
    return _norm(h)


def histogram_distance(p: np.ndarray, q: np.ndarray) -> float:
    """Total variation distance ½·Σ|p - q| of two normalised histograms of the same length."""
    p, q = np.asarray(p, float), np.asarray(q, float)
    if p.shape != q.shape:
        raise ValueError(f"histograms must have the same bins, got {p.shape} and {q.shape}")
    return float(0.5 * np.abs(_norm(p) - _norm(q)).sum())


def _sounding_or_silent(sheet: LeadSheet):
    """(duration, MIDI pitch or None, chord) of every event, holds resolved to their note's pitch."""
    current = None
    for _, c, d, p in sheet.events:
        if p == REST:
            current = None
        elif p != HOLD:
            current = int(p) - 2
        yield Fraction(int(d) + 1, 4), current, int(c)


def _sounding(sheet: LeadSheet):
    return ((d, p, c) for d, p, c in _sounding_or_silent(sheet) if p is not None)


def in_key_ratio(sheets) -> float:
    num = den = Fraction(0)
    for s in _sheets(sheets):
        scale = MINOR if s.key.endswith("minor") else MAJOR
        for d, p, _ in _sounding(s):
            den += d
            num += d * (p % 12 in scale)
    return float(num / den) if den else float("nan")


def chord_tone_ratio(sheets) -> float:
    num = den = Fraction(0)
    for s in _sheets(sheets):
        for d, p, c in _sounding(s):
            if c != NO_CHORD:
                den += d
                num += d * (p % 12 in chord_pitch_classes(c))
    return float(num / den) if den else float("nan")


def compression_ratio(sheet: LeadSheet) -> float:
    raw = sheet.events[:, 2:].astype(np.uint8).tobytes()
    return len(raw) / len(zlib.compress(raw, 9)) if raw else float("nan")


def _symbols(sheet: LeadSheet) -> list[int]:
    e = sheet.events
    return ((e[:, 0] * 16 + e[:, 2]) * 130 + e[:, 3]).tolist()


class MarkovBaseline:
    """Unigram (``order=0``) or bigram (``order=1``) model of whole events with add-``alpha`` smoothing."""

    def __init__(self, order: int = 1, alpha: float = 0.1):
        if order not in (0, 1):
            raise ValueError(f"order must be 0 (unigram) or 1 (bigram), got {order}")
        self.order, self.alpha = order, alpha
        self.uni: Counter = Counter()
        self.bi: dict[int, Counter] = {}

    def fit(self, sheets) -> MarkovBaseline:
        for s in _sheets(sheets):
            sym = _symbols(s)
            self.uni.update(sym)
            for a, b in zip([-1] + sym[:-1], sym):
                self.bi.setdefault(a, Counter())[b] += 1
        return self

    def _logp(self, prev: int, x: int) -> float:
        total = sum(self.uni.values())
        p_uni = (self.uni[x] + self.alpha) / (total + self.alpha * N_SYMBOLS)
        if self.order == 0:
            return math.log(p_uni)
        ctx = self.bi.get(prev, Counter())
        n = sum(ctx.values())
        return math.log((ctx[x] + self.alpha * N_SYMBOLS * p_uni) / (n + self.alpha * N_SYMBOLS))

    def nll(self, sheets) -> float:
        """Mean negative log-likelihood per event, nats."""
        tot, n = 0.0, 0
        for s in _sheets(sheets):
            sym = _symbols(s)
            for a, b in zip([-1] + sym[:-1], sym):
                tot -= self._logp(a, b)
                n += 1
        return tot / max(n, 1)


def style_report(sheets, reference) -> dict[str, float]:
    """Histogram distances of ``sheets`` to a ``reference`` style, and their in-key / chord-tone / compression."""
    sheets = _sheets(sheets)
    return {
        "pitch_class_distance": histogram_distance(pitch_class_histogram(sheets), pitch_class_histogram(reference)),
        "interval_distance": histogram_distance(interval_histogram(sheets), interval_histogram(reference)),
        "duration_distance": histogram_distance(duration_histogram(sheets), duration_histogram(reference)),
        "in_key": in_key_ratio(sheets),
        "chord_tones": chord_tone_ratio(sheets),
        "compression_ratio": float(np.mean([compression_ratio(s) for s in sheets])),
    }


# ---------------------------------------------------------------------------------------------- tonal tension
SPIRAL_R, SPIRAL_H = 1.0, 0.4
SPIRAL_WEIGHTS = (0.536, 0.274, 0.19)
SPIRAL_ALPHA = SPIRAL_BETA = 0.75
FIFTHS = (0, -5, 2, -3, 4, -1, 6, 1, -4, 3, -2, 5)  # line-of-fifths index of each pitch class (C major spelling)


def spiral_position(k: int) -> np.ndarray:
    """Position of line-of-fifths index ``k`` (C = 0, G = 1, F = -1) in the spiral array."""
    quarter = int(k) % 4  # exact sin/cos of k*pi/2
    return np.array([(0, 1, 0, -1)[quarter] * SPIRAL_R, (1, 0, -1, 0)[quarter] * SPIRAL_R, k * SPIRAL_H])


def _triad(k: int, minor: bool) -> np.ndarray:
    w = SPIRAL_WEIGHTS
    return w[0] * spiral_position(k) + w[1] * spiral_position(k + 1) + w[2] * spiral_position(k - 3 if minor else k + 4)


def key_position(minor: bool) -> np.ndarray:
    """Centre of C major (tonic index 0) or A minor (index 3) in the spiral array."""
    w, a, b = SPIRAL_WEIGHTS, SPIRAL_ALPHA, SPIRAL_BETA
    if not minor:
        return w[0] * _triad(0, False) + w[1] * _triad(1, False) + w[2] * _triad(-1, False)
    return (w[0] * _triad(3, True) + w[1] * (a * _triad(4, False) + (1 - a) * _triad(4, True))
            + w[2] * (b * _triad(2, True) + (1 - b) * _triad(2, False)))


def _cloud_steps(sheet: LeadSheet) -> list[list[int]]:
    """Sounding pitch classes (melody note, then chord tones) at every 16th step."""
    steps: list[list[int]] = []
    for d, p, c in _sounding_or_silent(sheet):
        tones = ([] if p is None else [p % 12]) + ([] if c == NO_CHORD else list(chord_pitch_classes(c)))
        steps += [tones] * int(d / STEP)
    return steps


def tonal_tension(sheet: LeadSheet, window: Fraction | None = None) -> dict[str, float]:
    """Mean tensile strain, cloud diameter and cloud momentum of one piece (module docstring); windows are
    bars (``window`` in quarter lengths overrides), the first one the pickup when there is one."""
    steps = _cloud_steps(sheet)
    key = key_position(sheet.key.endswith("minor"))
    window = Fraction(window) if window else sheet.bar_length
    first = int((sheet.pickup % window) / STEP) or int(window / STEP)
    size = int(window / STEP)
    bounds = [0] + list(range(first, len(steps), size)) + [len(steps)]
    bounds = sorted(set(bounds))
    centres, diameters = [], []
    for a, b in zip(bounds[:-1], bounds[1:]):
        cents, diam = [], []
        for tones in steps[a:b]:
            pts = np.array([spiral_position(FIFTHS[t]) for t in tones]) if tones else np.zeros((0, 3))
            cents.append(pts.mean(0) if len(pts) else np.zeros(3))
            diam.append(max((float(np.linalg.norm(u - v)) for i, u in enumerate(pts) for v in pts[i + 1:]), default=0.0))
        centres.append(np.mean(cents, 0))
        diameters.append(float(np.mean(diam)))
    sounding = [float(np.linalg.norm(c)) >= 0.3 for c in centres]
    strain = [float(np.linalg.norm(c - key)) for c, s in zip(centres, sounding) if s]
    diam = [d for d, s in zip(diameters, sounding) if s]
    moves = [float(np.linalg.norm(c1 - c0)) for c0, c1, s0, s1 in zip(centres, centres[1:], sounding, sounding[1:])
             if s0 and s1]
    mean = lambda v: float(np.mean(v)) if v else float("nan")  # noqa: E731
    return {"tensile_strain": mean(strain), "cloud_diameter": mean(diam), "cloud_momentum": mean(moves)}
