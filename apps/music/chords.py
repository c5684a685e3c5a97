"""Chord vocabulary of CM-HRNN and chord-progression parsing.

CM-HRNN (Guo, Makris, Herremans, IJCNN 2021, Sec. III-A) encodes a chord as one of 49 classes:
index 0 is "no chord", then 12 roots × 4 qualities. The official lookup table
(AMAAI-Lab/CM-HRNN ``model/lookup_table.py``) orders the roots from A (``A, A#, B, C, ...``) and the
qualities ``maj, min, 7, dim``, so ``index = 1 + 4·root + quality``; we keep that order so its one-hot
arrays read the same here (e.g. index 13 is C major, 42 is G minor).

    parse_chord("F#m7")                      # -> 38  (F# minor; the 7th is dropped, see below)
    parse_progression("C G Am F | Dm G C")   # -> Progression of 2 bars in 4/4
    chord_name(13)                           # -> "C"

Richer chords fold into the four qualities as the official data set does: major 6/7/9/sus/aug ->
``maj``, minor 6/7/9 -> ``min``, dominant 7/9/11/13 -> ``7``, diminished and half-diminished -> ``dim``.
A slash bass is ignored. Anything else is a :class:`ChordError` naming the symbol and the accepted form.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction

__all__ = [
    "N_CHORDS", "NO_CHORD", "QUALITIES", "ROOTS", "ChordError", "Progression", "chord_index", "chord_name",
    "chord_pitch_classes", "chord_root_quality", "estimate_key", "parse_chord", "parse_meter",
    "parse_progression", "transpose_chord",
]

ROOTS = ("A", "A#", "B", "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#")
QUALITIES = ("maj", "min", "7", "dim")
N_CHORDS = 1 + len(ROOTS) * len(QUALITIES)
NO_CHORD = 0
_NAME_SUFFIX = {"maj": "", "min": "m", "7": "7", "dim": "dim"}
_INTERVALS = {"maj": (0, 4, 7), "min": (0, 3, 7), "7": (0, 4, 7, 10), "dim": (0, 3, 6)}
_LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_NO_CHORD_NAMES = {"N.C.", "NC", "N", "X"}

# Root, accidental, quality text, optional slash bass.
_CHORD_RE = re.compile(r"^([A-Ga-g])([#b♯♭]?)([^/]*)(?:/([A-Ga-g][#b♯♭]?))?$")
# Quality text -> one of QUALITIES (longest forms first; matched on the whole suffix).
_QUALITY_FORMS: list[tuple[str, str]] = [
    (r"(m7b5|ø7?|min7b5|-7b5)", "dim"),
    (r"(dim7?|o7?|°7?)", "dim"),
    (r"(maj7|maj9|maj|M7|M9|M|Δ7?|6|69|6/9|add9|add2|sus2|sus4|sus|aug|\+|5|9sus4|7sus4)?", "maj"),
    (r"(m|min|-|mi)(6|7|9|11|maj7|M7|add9)?", "min"),
    (r"(7|9|11|13|7b9|7#9|7b5|7#5|7#11|9#11|13b9|dom7?|aug7|\+7)", "7"),
]


class ChordError(ValueError):
    """A chord symbol or progression that the 49-class chord vocabulary cannot hold."""


def chord_index(root_pc: int, quality: str) -> int:
    """Index of a chord with root pitch class ``root_pc`` (C = 0) and one of :data:`QUALITIES`."""
    if quality not in QUALITIES:
        raise ChordError(f"unknown chord quality {quality!r}; expected one of {QUALITIES}")
    root = (int(root_pc) - 9) % 12  # ROOTS starts at A (pitch class 9)
    return 1 + 4 * root + QUALITIES.index(quality)


def chord_root_quality(index: int) -> tuple[int, str] | None:
    """``(root pitch class, quality)`` of a chord index, or None for :data:`NO_CHORD`."""
    _check_index(index)
    if index == NO_CHORD:
        return None
    root, quality = divmod(index - 1, 4)
    return (root + 9) % 12, QUALITIES[quality]


def chord_name(index: int) -> str:
    """Lead-sheet name of a chord index: ``C``, ``Am``, ``G7``, ``Bdim``, ``N.C.``."""
    rq = chord_root_quality(index)
    if rq is None:
        return "N.C."
    return ROOTS[(rq[0] - 9) % 12] + _NAME_SUFFIX[rq[1]]


def chord_pitch_classes(index: int) -> tuple[int, ...]:
    """Pitch classes of a chord index's triad (or dominant seventh); empty for no chord."""
    rq = chord_root_quality(index)
    return () if rq is None else tuple((rq[0] + i) % 12 for i in _INTERVALS[rq[1]])


def transpose_chord(index: int, semitones: int) -> int:
    rq = chord_root_quality(index)
    return NO_CHORD if rq is None else chord_index(rq[0] + semitones, rq[1])


def _check_index(index: int) -> None:
    if not 0 <= int(index) < N_CHORDS:
        raise ChordError(f"chord index {index} is out of range; expected 0..{N_CHORDS - 1}")


def parse_chord(symbol: str) -> int:
    """Chord index of a lead-sheet symbol (``C``, ``Am``, ``G7``, ``Bdim``, ``F#m7``, ``Bbmaj7``, ``N.C.``)."""
    text = symbol.strip() if isinstance(symbol, str) else ""
    if text.upper() in _NO_CHORD_NAMES:
        return NO_CHORD
    m = _CHORD_RE.match(text)
    if m:
        letter, accidental, suffix, _bass = m.groups()
        pc = _LETTER_PC[letter.upper()] + {"#": 1, "♯": 1, "b": -1, "♭": -1}.get(accidental, 0)
        for pattern, quality in _QUALITY_FORMS:
            if re.fullmatch(pattern, suffix):
                return chord_index(pc % 12, quality)
    raise ChordError(
        f"unknown chord {symbol!r}; expected a root A-G with optional #/b and a quality such as "
        "'' (major), m, 7, dim, maj7, m7, m7b5, sus4 (e.g. 'C', 'F#m', 'Bb7', 'Bdim'), or N.C. for no chord")


def parse_meter(meter: str) -> tuple[int, int]:
    """``"3/4"`` -> ``(3, 4)``; the denominator must be 1, 2, 4, 8 or 16."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(meter))
    if not m or int(m.group(1)) < 1 or int(m.group(2)) not in (1, 2, 4, 8, 16):
        raise ChordError(f"bad meter {meter!r}; expected N/D such as 4/4, 3/4 or 6/8 (D in 1, 2, 4, 8, 16)")
    return int(m.group(1)), int(m.group(2))


@dataclass(frozen=True)
class Progression:
    """Chords on a time line, in quarter lengths.

    Attributes:
        chords: chord index per segment; onsets/durations: each segment's start and length
            (``Fraction`` quarter lengths, on the 16th-note grid); meter: ``(beats, beat unit)``.
    """

    chords: tuple[int, ...]
    onsets: tuple[Fraction, ...]
    durations: tuple[Fraction, ...]
    meter: tuple[int, int] = (4, 4)
    names: tuple[str, ...] = field(default=(), compare=False)

    @property
    def bar_length(self) -> Fraction:
        return Fraction(4 * self.meter[0], self.meter[1])

    @property
    def length(self) -> Fraction:
        return self.onsets[-1] + self.durations[-1] if self.chords else Fraction(0)

    @property
    def n_bars(self) -> int:
        return int(-(-self.length // self.bar_length))

    def chord_at(self, t: Fraction | float) -> int:
        """Chord sounding at time ``t`` (NO_CHORD outside the progression)."""
        t = Fraction(t)
        for c, on, d in zip(self.chords, self.onsets, self.durations):
            if on <= t < on + d:
                return c
        return NO_CHORD

    def repeat_to(self, bars: int) -> Progression:
        """The progression repeated (and cut) to fill exactly ``bars`` bars."""
        if bars < 1:
            raise ChordError(f"bars must be >= 1, got {bars}")
        total, span = bars * self.bar_length, self.n_bars * self.bar_length
        chords, onsets, durations = [], [], []
        shift = Fraction(0)
        while shift < total:
            for c, on, d in zip(self.chords, self.onsets, self.durations):
                start = shift + on
                if start >= total:
                    break
                chords.append(c)
                onsets.append(start)
                durations.append(min(d, total - start))
            shift += span
        return Progression(tuple(chords), tuple(onsets), tuple(durations), self.meter)

    def transpose(self, semitones: int) -> Progression:
        return Progression(tuple(transpose_chord(c, semitones) for c in self.chords), self.onsets,
                           self.durations, self.meter)

    def boundaries(self) -> list[Fraction]:
        return sorted({*self.onsets, self.length})


def parse_progression(text: str, meter: str | tuple[int, int] = "4/4") -> Progression:
    """Parse ``"C G Am F | Dm G7 C"``: bars split by ``|``, chords within a bar share it evenly.

    Each chord must start on the 16th-note grid of the representation (three chords in a 4/4 bar
    cannot). Empty input, an empty bar or an unknown chord raise one :class:`ChordError`.
    """
    beats, unit = parse_meter(meter) if isinstance(meter, str) else meter
    bar = Fraction(4 * beats, unit)
    if not isinstance(text, str) or not text.strip().strip("|").strip():
        raise ChordError("the chord progression is empty; expected chords separated by spaces and bars by '|', "
                         "e.g. 'C G Am F | Dm G C C'")
    bars = [b.split() for b in text.strip().strip("|").split("|")]
    chords, onsets, durations, names = [], [], [], []
    for i, symbols in enumerate(bars):
        if not symbols:
            raise ChordError(f"bar {i + 1} of the progression is empty; write a chord (or N.C.) in every bar")
        share = bar / len(symbols)
        if (share * 4).denominator != 1:
            raise ChordError(f"bar {i + 1} has {len(symbols)} chords: a {beats}/{unit} bar cannot be shared evenly "
                             "on the 16th-note grid; use fewer chords in that bar")
        for j, s in enumerate(symbols):
            chords.append(parse_chord(s))
            onsets.append(i * bar + j * share)
            durations.append(share)
            names.append(s)
    return Progression(tuple(chords), tuple(onsets), tuple(durations), (beats, unit), tuple(names))


_MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)


def estimate_key(chords: list[int] | tuple[int, ...]) -> tuple[int, str]:
    """``(tonic pitch class, "major" | "minor")`` that best fits the chords: the major scale holding the
    most chord tones (ties: the key whose tonic chord appears most, then first), minor when its relative
    minor's tonic chord opens or closes the progression more often than the major tonic."""
    pcs = [pc for c in chords for pc in chord_pitch_classes(c)]
    if not pcs:
        return 0, "major"

    def score(tonic: int) -> tuple[int, int]:
        fits = sum((pc - tonic) % 12 in _MAJOR_SCALE for pc in pcs)
        tonic_chords = sum(c == chord_index(tonic, "maj") for c in chords)
        return fits, tonic_chords

    tonic = max(range(12), key=lambda t: (score(t), -((t - pcs[0]) % 12)))
    minor = chord_index(tonic + 9, "min")
    ends = [c for c in (chords[0], chords[-1])]
    if ends.count(minor) > ends.count(chord_index(tonic, "maj")):
        return (tonic + 9) % 12, "minor"
    return tonic, "major"
