"""Prepare the shipped music samples from the corpus inside the music21 wheel (offline, BSD-3).

    python -m spanmix.datasets.prepare_music_samples            # rewrites datasets/samples/music_*.npz

Writes three caches of CM-HRNN events (see ``spanmix.apps.music.events``), each piece transposed to
C major / A minor:

- ``music_leadsheets.npz``: tunes with chord symbols — Ryan's Mammoth Collection (1883) tunes whose ABC has
  chord annotations, the Nottingham Music Database sample and music21's two lead sheets;
- ``music_chorales.npz``: Bach chorales (``corpus.chorales.Iterator``): the soprano as melody, a chord per
  beat named from the lower three voices (chordify, then root + triad/seventh quality; a beat whose
  sonority is no triad or seventh keeps the previous chord);
- ``music_folk.npz``: Essen folk songs and O'Neill's 1850 tunes (files named in ``FOLK_FILES``), which have
  no chords: a chord per bar is **inferred** from the melody (``infer_bar_chords``: the triad or dominant
  seventh whose tones cover most of the bar's duration-weighted pitch classes, diatonic chords of C / A minor
  preferred on ties) so that the pretraining corpus is chord-conditioned too. Say "inferred" wherever shown.

Pieces the representation cannot hold (tuplets, polyphony, meter changes, ...) are skipped; the count per
reason is printed and stored in each file's ``skipped`` entry.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "samples"
FOLK_FILES = ("essenFolksong/han1.abc", "essenFolksong/kinder0.abc", "oneills1850/0001-0050.abc",
              "oneills1850/0051-0100.abc", "oneills1850/0101-0200.abc")
LEADSHEET_FILES = ("nottingham-dataset/reelsa-c.abc", "leadSheet/berlinAlexandersRagtime.mxl",
                   "leadSheet/fosterBrownHair.mxl")
MAX_EVENTS = 1024
FOLK_PER_FILE = 250  # tunes per folk file: keeps the shipped cache small


def _scores(parsed):
    from music21 import stream

    return list(parsed.scores) if isinstance(parsed, stream.Opus) else [parsed]


def _convert(score, source: str, rows: list, skipped: Counter, **kwargs) -> None:
    from spanmix.apps.music.convert import from_stream

    try:
        sheet = from_stream(score, **kwargs)
        sheet.check_bars()
    except ValueError as e:
        reason = str(e)
        key = ("off-grid durations (tuplets/32nds)" if "grid" in reason else "polyphony" if "monophonic" in reason
               else "meter changes" if "meter" in reason else "other: " + reason[:60])
        skipped[key] += 1
        return
    except Exception as e:  # music21 parser failures on a malformed tune
        skipped[f"music21: {type(e).__name__}"] += 1
        return
    if len(sheet) < 8 or len(sheet) > MAX_EVENTS:
        skipped["fewer than 8 or more than 1024 events"] += 1
        return
    rows.append((sheet, source))


def _chorale_chords(score):
    """(onset, duration, chord index) per beat from the alto, tenor and bass (chordify)."""
    from fractions import Fraction

    from music21 import stream

    from spanmix.apps.music.chords import chord_index

    lower = stream.Score([p for p in score.parts[1:]])
    slices = list(lower.chordify().flatten().notes)
    ts = score.parts[0].recurse().getElementsByClass("TimeSignature").first()
    beat = Fraction(4, ts.denominator) if ts else Fraction(1)
    end = Fraction(score.highestTime).limit_denominator(1000)
    out, prev, t, i = [], 0, Fraction(0), 0
    while t < end:
        while i + 1 < len(slices) and Fraction(slices[i + 1].offset).limit_denominator(1000) <= t:
            i += 1
        c = slices[i] if slices else None
        idx = prev
        if c is not None and len(c.pitches) >= 2:
            if c.isDominantSeventh():
                idx = chord_index(c.root().pitchClass, "7")
            elif c.isMajorTriad() or c.isAugmentedTriad():
                idx = chord_index(c.root().pitchClass, "maj")
            elif c.isMinorTriad():
                idx = chord_index(c.root().pitchClass, "min")
            elif c.isDiminishedTriad() or c.isHalfDiminishedSeventh() or c.isDiminishedSeventh():
                idx = chord_index(c.root().pitchClass, "dim")
        out.append((t, min(beat, end - t), idx))
        prev, t = idx, t + beat
    return out


def infer_bar_chords(sheet) -> list:
    """(onset, duration, chord) per bar of a melody: among the diatonic chords of C major (I, V, IV, vi,
    ii, V7, iii, vii°) or A minor (i, V, V7, iv, III, VI, VII, ii°), the one whose tones hold the most of
    the bar's duration-weighted pitch classes minus half of the rest; ties go to the earlier in that order.
    A bar of rests keeps the previous chord."""
    from fractions import Fraction

    from spanmix.apps.music.chords import chord_pitch_classes, parse_chord

    names = ("Am E E7 Dm C F G Bdim" if sheet.key.endswith("minor") else "C G F Am Dm G7 Em Bdim").split()
    candidates = [parse_chord(c) for c in names]
    bar = sheet.bar_length
    if sheet.pickup:
        starts = [Fraction(0)] + [sheet.pickup + k * bar for k in range(int(sheet.length // bar) + 2)
                                  if sheet.pickup + k * bar < sheet.length]
    else:
        starts = [k * bar for k in range(int(-(-sheet.length // bar)))]
    ends = starts[1:] + [sheet.length]
    notes = [n for n in sheet.notes() if n[2] is not None]
    out, prev = [], candidates[0]
    for a, b in zip(starts, ends):
        weight = np.zeros(12)
        for on, d, p in notes:
            overlap = min(on + d, b) - max(on, a)
            if overlap > 0:
                weight[p % 12] += float(overlap)
        if weight.sum() > 0:
            covered = [weight[list(chord_pitch_classes(c))].sum() for c in candidates]
            scores = [c - 0.5 * (weight.sum() - c) for c in covered]
            prev = candidates[int(np.argmax(scores))]
        out.append((a, b - a, prev))
    return out


def _has_chords(path: Path) -> bool:
    import re

    return bool(re.search(r'"[A-G][b#]?(m|7|dim|maj7|m7)?"', path.read_text(errors="ignore")))


def _with_inferred_chords(sheet):
    from spanmix.apps.music.convert import encode
    from spanmix.apps.music.events import LeadSheet

    notes = sheet.notes()
    events = encode([n for n in notes if n[2] is not None], infer_bar_chords(sheet), sheet.meter, sheet.pickup,
                    sheet.length)
    return LeadSheet(events, sheet.meter, sheet.pickup, sheet.key, sheet.transposition, sheet.title)


def collect(name: str, limit: int | None = None) -> tuple[list, Counter]:
    from music21 import corpus

    rows, skipped = [], Counter()
    if name == "leadsheets":
        files = [p for p in sorted(corpus.getComposer("ryansMammoth")) if _has_chords(Path(p))]
        files += [corpus.getWork(f) for f in LEADSHEET_FILES]
        for f in files[:limit]:
            for score in _scores(corpus.parse(str(f))):
                _convert(score, Path(f).parent.name + "/" + Path(f).name, rows, skipped)
    elif name == "chorales":
        for i, score in enumerate(corpus.chorales.Iterator(returnType="stream")):
            if limit and i >= limit:
                break
            if len(score.parts) != 4:
                skipped["not four parts"] += 1
                continue
            _convert(score, f"bach/{score.metadata.title if score.metadata else i}", rows, skipped,
                     chords=_chorale_chords(score))
    elif name == "folk":
        from music21 import converter

        for f in FOLK_FILES:
            # Parse tune by tune (the books hold hundreds; music21 would parse a whole book first).
            text = Path(corpus.getWork(f)).read_text(encoding="utf-8", errors="replace")
            tunes = ["X:" + t for t in text.split("\nX:")[1:]]
            for tune in tunes[:limit or FOLK_PER_FILE]:
                try:
                    score = converter.parse(tune, format="abc")
                except Exception as e:  # a malformed tune in the book
                    skipped[f"music21: {type(e).__name__}"] += 1
                    continue
                _convert(score, f, rows, skipped)
        rows = [(_with_inferred_chords(s), src) for s, src in rows]
    else:
        raise ValueError(f"unknown sample {name!r}; expected leadsheets, chorales or folk")
    return rows, skipped


def save(rows: list, skipped: Counter, path: Path) -> None:
    events = np.concatenate([s.events for s, _ in rows]).astype(np.int16)
    offsets = np.cumsum([0] + [len(s) for s, _ in rows]).astype(np.int64)
    np.savez_compressed(
        path, events=events, offsets=offsets,
        meter=np.array([s.meter for s, _ in rows], np.int16),
        pickup16=np.array([int(s.pickup * 4) for s, _ in rows], np.int16),
        transposition=np.array([s.transposition for s, _ in rows], np.int8),
        key=np.array([s.key for s, _ in rows]), title=np.array([s.title[:80] for s, _ in rows]),
        source=np.array([src for _, src in rows]), skipped=np.array(json.dumps(dict(skipped))))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("leadsheets", "chorales", "folk"), nargs="*")
    parser.add_argument("--limit", type=int, default=None, help="at most N files/pieces per source (quick runs)")
    parser.add_argument("--out", default=str(OUT))
    ns = parser.parse_args(argv)
    for name in ns.only or ("leadsheets", "chorales", "folk"):
        rows, skipped = collect(name, ns.limit)
        path = Path(ns.out) / f"music_{name}.npz"
        save(rows, skipped, path)
        print(f"{path}: {len(rows)} pieces, {sum(len(s) for s, _ in rows)} events; skipped {dict(skipped)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
