"""Lead sheets to and from music21 streams, MusicXML, MIDI and ABC.

    sheet = from_stream(music21.converter.parse("tune.abc"))    # transposed to C / A minor, key kept
    score = to_stream(sheet)                                     # melody part with chord symbols
    write(sheet, "out.musicxml" | "out.mid" | "out.abc")          # by suffix
    sheet = read("in.musicxml" | "in.mid" | "in.abc" | "in.xml" | "in.mxl")

What round-trips exactly: the melody's pitches, rests, onsets and durations on the 16th-note grid,
the meter, the pickup, and chords of the four qualities (through MusicXML, ABC and music21 streams).
MIDI carries no chord symbols: its round trip is exact for the bar, duration and pitch columns, and
``write_midi`` adds the chords as a second, block-chord track for listening only.

What the representation cannot hold raises :class:`RepresentationError` naming the place: two notes
at once in the melody (chords, voices), onsets or durations off the 16th-note grid (triplets and
other tuplets, 32nd notes), meter changes. Grace notes (no duration) are dropped and counted in
``LeadSheet.dropped``; repeats are kept as written (not expanded); ornaments, dynamics, lyrics and
articulations are dropped.
"""
from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np

from spanmix.apps.music.chords import (
    NO_CHORD, QUALITIES, ROOTS, ChordError, chord_index, chord_name, chord_pitch_classes, chord_root_quality,
)
from spanmix.apps.music.events import (
    HOLD, MAX_DURATION, REST, STEP, LeadSheet, RepresentationError, duration_index,
)

__all__ = ["SUFFIXES", "chord_symbol_index", "encode", "from_stream", "read", "to_abc", "to_stream", "write"]

SUFFIXES = (".mid", ".midi", ".musicxml", ".xml", ".mxl", ".abc")
_KIND_QUALITY = [("half-diminished", "dim"), ("diminished", "dim"), ("minor", "min"), ("dominant", "7"),
                 ("augmented-seventh", "7"), ("augmented-ninth", "7"), ("major", "maj"), ("augmented", "maj"),
                 ("suspended", "maj"), ("power", "maj"), ("pedal", "maj"), ("Neapolitan", "maj"),
                 ("Italian", "7"), ("German", "7"), ("French", "7"), ("Tristan", "dim")]


def _grid(value, what: str) -> Fraction:
    v = Fraction(value).limit_denominator(10_000)
    if (v / STEP).denominator != 1:
        raise RepresentationError(f"{what} is {v} quarter lengths, off the 16th-note grid: tuplets (e.g. triplets) "
                                  "and notes shorter than a 16th cannot be represented")
    return v


def encode(notes, chords, meter=(4, 4), pickup=Fraction(0), length=None) -> np.ndarray:
    """Events ``(T, 4)`` from ``notes`` [(onset, duration, MIDI pitch or None)] and ``chords``
    [(onset, duration, chord index)], cut at bar lines, chord changes and whole-note lengths."""
    bar = Fraction(4 * meter[0], meter[1])
    notes = sorted((Fraction(o), Fraction(d), p) for o, d, p in notes)
    end = max([o + d for o, d, _ in notes] + [Fraction(length or 0)])
    cuts = {Fraction(0), end}
    t = Fraction(pickup) if pickup else bar
    while t < end:
        cuts.add(t)
        t += bar
    chord_spans: list[tuple[Fraction, Fraction, int]] = []
    for o, d, c in sorted((Fraction(o), Fraction(d), c) for o, d, c in chords):
        if chord_spans and chord_spans[-1][2] == c and chord_spans[-1][1] == o:  # a repeated symbol is no change
            chord_spans[-1] = (chord_spans[-1][0], o + d, c)
        else:
            chord_spans.append((o, o + d, c))
    cuts.update(o for o, _, _ in chord_spans if 0 < o < end)

    def chord_at(x):
        for a, b, c in chord_spans:
            if a <= x < b:
                return c
        return NO_CHORD

    spans, t = [], Fraction(0)  # fill gaps with rests
    for o, d, p in notes:
        if o < t:
            raise RepresentationError(f"two notes sound at once at {float(o)} quarter lengths: the melody must be "
                                      "monophonic (one note at a time)")
        if o > t:
            spans.append((t, o, None))
        spans.append((o, o + d, p))
        t = o + d
    if t < end:
        spans.append((t, end, None))
    cuts = sorted(cuts)
    rows = []
    for a, b, p in spans:
        first = True
        points = [a] + [c for c in cuts if a < c < b] + [b]
        for s, e in zip(points[:-1], points[1:]):
            while s < e:
                d = min(e - s, MAX_DURATION)
                pos = (s - pickup) % bar if pickup else s % bar
                pitch = REST if p is None else (p + 2 if first else HOLD)
                rows.append((int(pos == 0), chord_at(s), duration_index(d), pitch))
                first = False
                s += d
    return np.asarray(rows, dtype=np.int64).reshape(-1, 4)


def chord_symbol_index(cs) -> int:
    """Chord index of a music21 ``ChordSymbol`` (its root and kind; the bass of a slash chord is ignored)."""
    from music21 import harmony

    if isinstance(cs, harmony.NoChord):
        return NO_CHORD
    kind = cs.chordKind or "major"
    for prefix, quality in _KIND_QUALITY:
        if kind.startswith(prefix):
            return chord_index(cs.root().pitchClass, quality)
    raise ChordError(f"chord symbol {cs.figure!r} of kind {kind!r} has no match among {QUALITIES}")


def _key_of(score):
    from music21 import key

    keys = list(score.recurse().getElementsByClass(key.Key))
    if keys:
        k = keys[0]
    else:
        sigs = list(score.recurse().getElementsByClass(key.KeySignature))
        k = score.analyze("key") if not sigs else sigs[0].asKey("major")
    mode = "minor" if k.mode in ("minor", "dorian", "phrygian", "aeolian", "locrian") else "major"
    tonic = k.tonic.pitchClass
    target = 9 if mode == "minor" else 0
    shift = (target - tonic + 6) % 12 - 6
    return f"{k.tonic.name} {mode}", shift


def from_stream(score, *, transpose: bool = True, chords=None, part: int = 0) -> LeadSheet:
    """A lead sheet from a music21 Score/Part (its ``part``-th part is the melody).

    Chords come from the stream's chord symbols unless ``chords`` [(onset, duration, index)] is given
    (indices in the original key; they are transposed with the melody).
    """
    from music21 import harmony, meter, note, stream

    parts = list(score.parts) if isinstance(score, stream.Score) else [score]
    if not parts or part >= len(parts):
        raise RepresentationError(f"the score has {len(parts)} part(s); cannot take part {part} as the melody")
    melody = parts[part]
    sigs = {ts.ratioString for ts in melody.recurse().getElementsByClass(meter.TimeSignature)}
    if len(sigs) > 1:
        raise RepresentationError(f"meter changes ({sorted(sigs)}) are not supported; one meter per piece")
    ts = next(iter(melody.recurse().getElementsByClass(meter.TimeSignature)), None)
    beats, unit = (ts.numerator, ts.denominator) if ts else (4, 4)
    bar = Fraction(4 * beats, unit)
    key_name, shift = _key_of(score) if transpose else ("C major", 0)

    measures = list(melody.getElementsByClass(stream.Measure))
    pickup = Fraction(0)
    if measures:
        m0 = measures[0]
        if m0.paddingLeft:
            pickup = bar - Fraction(m0.paddingLeft).limit_denominator(10_000)
        elif len(measures) > 1 and Fraction(measures[1].offset).limit_denominator(10_000) < bar:
            pickup = Fraction(measures[1].offset).limit_denominator(10_000)
        pickup = _grid(pickup, "the pickup bar")

    flat = melody.stripTies(matchByPitch=True).flatten()
    notes, chord_list, dropped = [], [], {}
    for el in flat.notesAndRests:
        if isinstance(el, harmony.Harmony):
            continue
        off = Fraction(el.offset).limit_denominator(10_000)
        if el.duration.isGrace or el.duration.quarterLength == 0:
            dropped["grace notes"] = dropped.get("grace notes", 0) + 1
            continue
        where = f"the note at {float(off)} quarter lengths (measure {el.measureNumber})"
        dur = _grid(el.duration.quarterLength, f"the duration of {where}")
        _grid(off, f"the onset of {where}")
        if isinstance(el, note.Rest):
            continue
        if not isinstance(el, note.Note):
            raise RepresentationError(f"{where} is a chord of {len(el.pitches)} notes: the melody must be "
                                      "monophonic (one note at a time)")
        notes.append((off, dur, el.pitch.midi + shift))
    if chords is None:
        symbols = [cs for cs in flat.getElementsByClass(harmony.Harmony)]
        for i, cs in enumerate(symbols):
            on = _grid(cs.offset, f"the chord symbol {cs.figure!r}")
            nxt = (Fraction(symbols[i + 1].offset).limit_denominator(10_000) if i + 1 < len(symbols)
                   else max([o + d for o, d, _ in notes] + [on + STEP]))
            if nxt > on:
                chord_list.append((on, nxt - on, chord_symbol_index(cs)))
    else:
        chord_list = [(Fraction(o), Fraction(d), c) for o, d, c in chords]
    chord_list = [(o, d, _transpose_chord(c, shift)) for o, d, c in chord_list]
    for n in notes:
        if not 0 <= n[2] <= 127:
            raise RepresentationError(f"pitch {n[2]} after transposing by {shift} is outside MIDI 0..127")
    events = encode(notes, chord_list, (beats, unit), pickup)
    title = (score.metadata.title if getattr(score, "metadata", None) and score.metadata.title else "") or ""
    return LeadSheet(events, (beats, unit), pickup, key_name, shift, title, dropped)


def _transpose_chord(c: int, shift: int) -> int:
    rq = chord_root_quality(c)
    return NO_CHORD if rq is None else chord_index(rq[0] + shift, rq[1])


def to_stream(sheet: LeadSheet, *, original_key: bool = False, chord_part: bool = False,
              chord_symbols: bool = True):
    """A music21 Score: one melody part with chord symbols (and, with ``chord_part``, a second part of
    block chords for listening). ``original_key`` transposes back by ``-sheet.transposition``;
    ``chord_symbols=False`` leaves the symbols out of the melody part (MIDI writers sound them as notes)."""
    from music21 import chord, clef, harmony, key, meter, note, stream

    shift = -sheet.transposition if original_key else 0
    bar = sheet.bar_length
    score = stream.Score()
    part = stream.Part(id="melody")
    mode = "minor" if sheet.key.endswith("minor") else "major"
    tonic = ("a" if mode == "minor" else "C") if not original_key else sheet.key.split()[0]
    starts = [Fraction(0)] if not sheet.pickup else [Fraction(0), sheet.pickup]
    while starts[-1] + bar < sheet.length:
        starts.append(starts[-1] + (bar if starts[-1] or not sheet.pickup else sheet.pickup))
    starts = sorted(set(starts))
    measures = []
    for i, s in enumerate(starts):
        m = stream.Measure(number=i if sheet.pickup else i + 1)
        if i == 0:
            m.insert(0, clef.TrebleClef())
            m.insert(0, key.Key(tonic, mode))
            m.insert(0, meter.TimeSignature(f"{sheet.meter[0]}/{sheet.meter[1]}"))
            if sheet.pickup:
                m.paddingLeft = float(bar - sheet.pickup)
        measures.append(m)
    for on, dur, p in sheet.notes():
        pieces = _split(on, dur, starts, sheet.length)
        for j, (s, d) in enumerate(pieces):
            n = note.Rest(quarterLength=d) if p is None else note.Note(p + shift, quarterLength=d)
            if p is not None and len(pieces) > 1:
                from music21 import tie
                n.tie = tie.Tie("start" if j == 0 else "stop" if j == len(pieces) - 1 else "continue")
            k = max(i for i, st in enumerate(starts) if st <= s)
            measures[k].insert(float(s - starts[k]), n)
    for on, dur, c in sheet.chord_segments() if chord_symbols else ():
        k = max(i for i, st in enumerate(starts) if st <= on)
        sym = harmony.NoChord() if c == NO_CHORD else harmony.ChordSymbol(
            _chord_figure(c, shift))
        measures[k].insert(float(on - starts[k]), sym)
    for m in measures:
        part.append(m)
    score.insert(0, part)
    if chord_part:
        accomp = stream.Part(id="chords")
        for i, s in enumerate(starts):
            m = stream.Measure(number=i if sheet.pickup else i + 1)
            if i == 0:
                m.insert(0, meter.TimeSignature(f"{sheet.meter[0]}/{sheet.meter[1]}"))
                m.paddingLeft = measures[0].paddingLeft
            accomp.append(m)
        for on, dur, c in sheet.chord_segments():
            pcs = chord_pitch_classes(c)
            for s, d in _split(on, dur, starts, sheet.length):
                k = max(i for i, st in enumerate(starts) if st <= s)
                el = note.Rest(quarterLength=float(d)) if not pcs else chord.Chord(
                    [48 + (pc + shift) % 12 for pc in pcs], quarterLength=float(d))
                accomp.getElementsByClass(stream.Measure)[k].insert(float(s - starts[k]), el)
        score.insert(0, accomp)
    if sheet.title:
        from music21 import metadata
        score.metadata = metadata.Metadata(title=sheet.title)
    return score


def _chord_figure(c: int, shift: int) -> str:
    root, quality = chord_root_quality(c)
    name = ROOTS[(root + shift - 9) % 12]
    return name.replace("#", "#") + {"maj": "", "min": "m", "7": "7", "dim": "dim"}[quality]


def _split(on: Fraction, dur: Fraction, starts: list[Fraction], end: Fraction) -> list[tuple[Fraction, Fraction]]:
    cuts = [s for s in starts if on < s < on + dur]
    points = [on] + cuts + [on + dur]
    return [(a, b - a) for a, b in zip(points[:-1], points[1:])]


# ------------------------------------------------------------------------------------------- ABC
_ABC_LETTERS = {0: "C", 2: "D", 4: "E", 5: "F", 7: "G", 9: "A", 11: "B"}


def _abc_pitch(midi: int, sharp_key: bool) -> tuple[str, str]:
    pc, octave = midi % 12, midi // 12 - 1
    if pc in _ABC_LETTERS:
        letter, acc = _ABC_LETTERS[pc], "="
    elif sharp_key:
        letter, acc = _ABC_LETTERS[pc - 1], "^"
    else:
        letter, acc = _ABC_LETTERS[(pc + 1) % 12], "_"
        octave += pc == 11
    if octave >= 5:
        text = letter.lower() + "'" * (octave - 5)
    else:
        text = letter + "," * (4 - octave)
    return acc, text


def to_abc(sheet: LeadSheet) -> str:
    """ABC 2.1 text of the lead sheet (in C major / A minor; L:1/16, chords in quotes, ties with ``-``).
    Every note carries an explicit accidental (``=`` natural) so that no bar-long accidental rule applies."""
    bar = sheet.bar_length
    mode = "Am" if sheet.key.endswith("minor") else "C"
    lines = ["X:1", f"T:{sheet.title or 'spanmix melody'}", f"M:{sheet.meter[0]}/{sheet.meter[1]}", "L:1/16",
             f"K:{mode}"]
    body: list[str] = []
    prev_chord, sounding = None, None
    for t, (_, c, d, p) in zip(sheet.onsets(), sheet.events):
        pos = (t - sheet.pickup) % bar if sheet.pickup else t % bar
        if pos == 0 and t > 0:
            body.append("|")
        if p == HOLD:
            if sounding is None:
                raise RepresentationError(f"the hold at {t} follows no note")
            body[last_note] += "-"
        else:
            sounding = None if p == REST else int(p) - 2
        tok = f"z{int(d) + 1}" if sounding is None else "".join(_abc_pitch(sounding, True)) + str(int(d) + 1)
        if c != prev_chord:
            tok = f'"{chord_name(c)}"' + tok
            prev_chord = c
        body.append(tok)
        if sounding is not None:
            last_note = len(body) - 1
    body.append("|]")
    return "\n".join(lines + [" ".join(body)]) + "\n"


# ------------------------------------------------------------------------------------------- files
def write(sheet: LeadSheet, path: str | os.PathLike, *, original_key: bool = False) -> Path:
    """Write ``.mid``/``.midi`` (melody + chord track), ``.musicxml``/``.xml`` or ``.abc`` by suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES or suffix == ".mxl":
        raise ValueError(f"cannot write {path.name!r}: the suffix must be .mid, .midi, .musicxml, .xml or .abc")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".abc":
        path.write_text(to_abc(sheet), encoding="utf-8")
    elif suffix in (".mid", ".midi"):
        to_stream(sheet, original_key=original_key, chord_part=True, chord_symbols=False).write("midi", fp=str(path))
    else:
        to_stream(sheet, original_key=original_key).write("musicxml", fp=str(path))
    return path


def read(path: str | os.PathLike, *, transpose: bool = True) -> LeadSheet:
    """Read a MusicXML/MIDI/ABC file (the first part, or the first tune of an ABC book) as a lead sheet."""
    from music21 import converter, stream

    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise ValueError(f"cannot read {path.name!r}: expected one of {', '.join(SUFFIXES)}")
    if not path.is_file():
        raise ValueError(f"no such file: {path}")
    try:
        parsed = converter.parse(str(path), quantizePost=path.suffix.lower() in (".mid", ".midi"),
                                 quarterLengthDivisors=(4,)) if path.suffix.lower() in (".mid", ".midi") \
            else converter.parse(str(path))
    except Exception as e:  # music21 raises many types for a corrupt file
        raise ValueError(f"cannot parse {path.name}: {e}") from None
    if isinstance(parsed, stream.Opus):
        parsed = parsed.scores[0]
    return from_stream(parsed, transpose=transpose)
