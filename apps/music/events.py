"""CM-HRNN's event-based lead-sheet representation (Guo, Makris, Herremans, IJCNN 2021, Sec. III-A).

A melody is a sequence of events; each event is four one-hot groups, 197 dims in the official order
(checked against the official demo arrays ``result_demo/*.npy``, shape (1, T, 197)):

    [0:2]    bar      1 if the event starts a bar
    [2:51]   chord    the chord sounding at the event's onset (see ``chords``: 0 = no chord)
    [51:67]  duration (d + 1) / 4 quarter lengths, d = 0..15: a 16th note up to a whole note
    [67:197] pitch    0 = rest, 1 = hold (continues the previous note), 2 + MIDI pitch (0..127)

Events are cut at every bar line and chord change (a note crossing one becomes a note event and hold
events), which keeps each note's position within the bar. Durations longer than a whole note are cut
into holds too. The melody is transposed to C major / A minor; the original key and the shift are kept.

``LeadSheet.events`` is an ``(T, 4)`` int64 array of the four class indices (bar, chord, duration,
pitch). Its flat token form for a language model uses the one-hot positions as token ids, four tokens
per event (``to_tokens``/``from_tokens``, vocabulary 197).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from fractions import Fraction

import numpy as np

from spanmix.apps.music.chords import N_CHORDS, chord_name

__all__ = [
    "BAR", "CHORD", "DURATION", "EVENT_DIM", "GROUPS", "HOLD", "MAX_DURATION", "N_DURATIONS", "N_PITCHES",
    "OFFSETS", "REST", "STEP", "LeadSheet", "RepresentationError", "duration_index", "duration_of",
]

N_BAR, N_DURATIONS, N_PITCHES = 2, 16, 130
GROUPS = (N_BAR, N_CHORDS, N_DURATIONS, N_PITCHES)
OFFSETS = (0, N_BAR, N_BAR + N_CHORDS, N_BAR + N_CHORDS + N_DURATIONS)
EVENT_DIM = sum(GROUPS)  # 197
BAR, CHORD, DURATION, PITCH = range(4)  # columns of LeadSheet.events
REST, HOLD = 0, 1
STEP = Fraction(1, 4)  # the duration grid: a 16th note, in quarter lengths
MAX_DURATION = N_DURATIONS * STEP


class RepresentationError(ValueError):
    """Music that the event representation cannot hold (polyphony, off-grid durations, ...)."""


def duration_of(index: int) -> Fraction:
    return (int(index) + 1) * STEP


def duration_index(quarter_length: Fraction) -> int:
    q = Fraction(quarter_length) / STEP
    if q.denominator != 1 or not 1 <= q <= N_DURATIONS:
        raise RepresentationError(f"duration {quarter_length} quarter lengths is not a multiple of a 16th note "
                                  f"between 1/4 and {MAX_DURATION}")
    return int(q) - 1


@dataclass
class LeadSheet:
    """A monophonic melody with chords, as CM-HRNN events.

    Attributes:
        events: (T, 4) int64 — bar flag, chord index, duration index, pitch index per event.
        meter: ``(beats, beat unit)``, e.g. ``(4, 4)``.
        pickup: length of the anacrusis in quarter lengths (0 if the first event starts a bar).
        key: the original key, e.g. ``"G major"``; ``transposition``: semitones added to reach C / A minor.
        title: free text.
    """

    events: np.ndarray
    meter: tuple[int, int] = (4, 4)
    pickup: Fraction = Fraction(0)
    key: str = "C major"
    transposition: int = 0
    title: str = ""
    dropped: dict[str, int] = field(default_factory=dict)

    def __post_init__(self):
        ev = np.asarray(self.events, dtype=np.int64)
        if ev.ndim != 2 or ev.shape[1] != 4:
            raise RepresentationError(f"events must have shape (T, 4) (bar, chord, duration, pitch), got {ev.shape}")
        for col, n in enumerate(GROUPS):
            if len(ev) and (ev[:, col].min() < 0 or ev[:, col].max() >= n):
                raise RepresentationError(f"events column {col} must hold class indices in 0..{n - 1}")
        self.events = ev
        self.pickup = Fraction(self.pickup)
        self.meter = tuple(self.meter)

    def __len__(self) -> int:
        return len(self.events)

    @property
    def bar_length(self) -> Fraction:
        return Fraction(4 * self.meter[0], self.meter[1])

    def onsets(self) -> list[Fraction]:
        """Onset of every event in quarter lengths (the first event at 0)."""
        out, t = [], Fraction(0)
        for d in self.events[:, DURATION]:
            out.append(t)
            t += duration_of(d)
        return out

    @property
    def length(self) -> Fraction:
        return sum((duration_of(d) for d in self.events[:, DURATION]), Fraction(0))

    def check_bars(self) -> None:
        """Raise if a bar flag disagrees with the meter and pickup, or an event crosses a bar line."""
        bar = self.bar_length
        for i, t in enumerate(self.onsets()):
            pos = (t - self.pickup) % bar if self.pickup else t % bar
            if bool(self.events[i, BAR]) != (pos == 0):
                raise RepresentationError(f"event {i} at {t} has bar flag {self.events[i, BAR]}, "
                                          f"but the meter {self.meter} with pickup {self.pickup} says {int(pos == 0)}")
            if pos + duration_of(self.events[i, DURATION]) > bar:
                raise RepresentationError(f"event {i} at {t} crosses a bar line")

    def notes(self) -> list[tuple[Fraction, Fraction, int | None]]:
        """``(onset, duration, MIDI pitch or None for a rest)`` with holds merged into their note."""
        out: list[list] = []
        for t, (_, _, d, p) in zip(self.onsets(), self.events):
            dur = duration_of(d)
            if p == HOLD:
                if not out:
                    raise RepresentationError("the first event is a hold; a hold must follow a note or a rest")
                out[-1][1] += dur
            elif p == REST and out and out[-1][2] is None:
                out[-1][1] += dur
            else:
                out.append([t, dur, None if p == REST else int(p) - 2])
        return [tuple(n) for n in out]

    def chord_segments(self) -> list[tuple[Fraction, Fraction, int]]:
        """``(onset, duration, chord)`` with consecutive events of one chord merged (chord changes at bar
        lines are kept when the chord repeats: a new segment starts only when the chord changes)."""
        out: list[list] = []
        for t, (_, c, d, _) in zip(self.onsets(), self.events):
            if out and out[-1][2] == c:
                out[-1][1] += duration_of(d)
            else:
                out.append([t, duration_of(d), int(c)])
        return [tuple(s) for s in out]

    def chord_names(self) -> list[str]:
        return [chord_name(c) for _, _, c in self.chord_segments()]

    # ------------------------------------------------------------------ array forms
    def onehot(self) -> np.ndarray:
        """(T, 197) float32, the official layout ``[bar 2 | chord 49 | duration 16 | pitch 130]``."""
        out = np.zeros((len(self.events), EVENT_DIM), dtype=np.float32)
        rows = np.arange(len(self.events))
        for col, off in enumerate(OFFSETS):
            out[rows, off + self.events[:, col]] = 1.0
        return out

    @classmethod
    def from_onehot(cls, array: np.ndarray, **kwargs) -> LeadSheet:
        """Events from a (T, 197) or (1, T, 197) one-hot array (e.g. an official demo ``.npy``)."""
        a = np.asarray(array)
        if a.ndim == 3 and a.shape[0] == 1:
            a = a[0]
        if a.ndim != 2 or a.shape[1] != EVENT_DIM:
            raise RepresentationError(f"expected a (T, {EVENT_DIM}) one-hot event array, got shape {a.shape}")
        events = np.stack([a[:, off:off + n].argmax(1) for off, n in zip(OFFSETS, GROUPS)], axis=1)
        for col, (off, n) in enumerate(zip(OFFSETS, GROUPS)):
            if not np.array_equal(a[:, off:off + n].sum(1), np.ones(len(a))):
                raise RepresentationError(f"group {col} of the event array is not one-hot in every row")
        return cls(events, **kwargs)

    def to_tokens(self) -> np.ndarray:
        """Flat token ids (4 per event, vocabulary 197): the one-hot position of each group."""
        return (self.events + np.asarray(OFFSETS)).reshape(-1)

    @classmethod
    def from_tokens(cls, tokens, **kwargs) -> LeadSheet:
        t = np.asarray(tokens, dtype=np.int64)
        if t.ndim != 1 or len(t) % 4:
            raise RepresentationError(f"a token sequence holds 4 tokens per event; got shape {t.shape}")
        ev = t.reshape(-1, 4) - np.asarray(OFFSETS)
        for col, n in enumerate(GROUPS):
            bad = np.flatnonzero((ev[:, col] < 0) | (ev[:, col] >= n))
            if len(bad):
                i = int(bad[0])
                raise RepresentationError(f"token {4 * i + col} ({t[4 * i + col]}) is not a token of group {col} "
                                          f"(ids {OFFSETS[col]}..{OFFSETS[col] + n - 1})")
        return cls(ev, **kwargs)

    def with_events(self, events: np.ndarray) -> LeadSheet:
        return replace(self, events=events)
