"""HookTheory lead sheets: TheoryTab annotations (melody, chords, key, meter) as released with Sheet Sage.

    from spanmix.datasets.hooktheory import download, load_hooktheory
    path = download()                                   # once, on request (needs network); sha256-checked
    parts, skipped = load_hooktheory(path)              # {"train": [LeadSheet], "valid": [...], "test": [...]}

The file is ``Hooktheory.json.gz`` of the Sheet Sage release (Donahue, Thickstun & Liang, ISMIR 2022;
``chrisdonahue/sheetsage-data``): one entry per song, ``annotations`` holding ``meters`` (``beat``,
``beats_per_bar``, ``beat_unit``), ``keys`` (``beat``, ``tonic_pitch_class``, ``scale_degree_intervals``),
``melody`` (``onset``/``offset`` in beats, ``pitch_class``, ``octave``: MIDI = 60 + 12 * octave + pitch class,
as Sheet Sage's own reader) and ``harmony`` (``onset``/``offset``, ``root_pitch_class``,
``root_position_intervals``, ``inversion``); ``split`` is ``TRAIN``/``VALID``/``TEST``. CM-HRNN's lead sheets
came from the same TheoryTab source. The data is the release's, under its terms; spanmix ships none of it.

Conversion to CM-HRNN events (``apps.music.convert.encode``): beats become quarter lengths by the meter's beat
unit; the chord vocabulary has major, minor, dominant seventh and diminished triads per root, so other
chords are mapped by their triad (root-position intervals starting 4-3 major, 3-4 minor, 3-3 diminished; a
4-3-3 seventh is dominant; suspended and other chords without a third count as major: said by ``skipped``
counts); pieces are transposed to C major / A minor by their first key (a major third above the tonic
means major). A song with a meter change, notes off the 16th grid, overlapping melody notes or no melody is
skipped with its reason counted; one clear error names a file that is not this layout.
"""
from __future__ import annotations

import gzip
import json
import os
import urllib.request
from collections import Counter
from fractions import Fraction
from pathlib import Path
from typing import Any

from spanmix.datasets.cache import cache_dir
from spanmix.datasets.checksums import check

__all__ = ["SHA256", "URL", "download", "load_hooktheory", "read_hooktheory", "song_to_leadsheet"]

URL = "https://github.com/chrisdonahue/sheetsage-data/raw/refs/heads/main/hooktheory/Hooktheory.json.gz"
#: the checksum Sheet Sage's asset table pins for this file
SHA256 = "37d75cf1130aa361d5fd2c2e51c8f2ded0873b59ff9f07b4c32750488f8ff1b6"
SPLITS = {"TRAIN": "train", "VALID": "valid", "TEST": "test"}


def download(root: str | os.PathLike | None = None, *, url: str = URL) -> Path:
    """``Hooktheory.json.gz`` in ``cache_dir("music", root)``, fetched once and checked against ``SHA256``."""
    folder = cache_dir("music", root)
    path = folder / "Hooktheory.json.gz"
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        try:
            urllib.request.urlretrieve(url, tmp)
        except OSError as e:
            raise FileNotFoundError(f"cannot download {url} ({e}); offline, put Hooktheory.json.gz from the Sheet "
                                    f"Sage release into {folder}") from None
        os.replace(tmp, path)
    check(path, source=url, pinned=SHA256 if url == URL else None)
    return path


def read_hooktheory(path: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """The songs of a ``Hooktheory.json(.gz)`` file, by id (the layout is checked, not the content)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; `spanmix.datasets.hooktheory.download()` fetches it")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            songs = json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError(f"{path} is not a (gzipped) JSON file: {e}") from None
    if not isinstance(songs, dict) or not all(isinstance(s, dict) and "annotations" in s for s in songs.values()):
        raise ValueError(f"{path} is not in the Sheet Sage HookTheory layout: expected an object of songs, each "
                         "with 'annotations' (melody, harmony, keys, meters) and 'split'")
    return songs


def _quality(intervals: list[int]) -> tuple[str, str | None]:
    """Our chord quality for root-position ``intervals``, and why it is approximate (None if exact)."""
    iv = tuple(intervals)
    if iv[:2] == (4, 3):
        return ("7", None) if iv == (4, 3, 3) else ("maj", None if len(iv) == 2 else "other chord as its triad")
    if iv[:2] == (3, 4):
        return "min", None if len(iv) == 2 else "other chord as its triad"
    if iv[:2] == (3, 3):
        return "dim", None if len(iv) == 2 else "other chord as its triad"
    return "maj", "chord without a major/minor third counted as major"


def song_to_leadsheet(song: dict[str, Any], *, title: str = "", notes_out: Counter | None = None):
    """One song as a ``LeadSheet`` transposed to C major / A minor (module docstring); ``notes_out`` counts the
    approximate chord mappings. Raises ``RepresentationError`` when the song cannot be represented."""
    from spanmix.apps.music.chords import chord_index
    from spanmix.apps.music.convert import encode
    from spanmix.apps.music.events import LeadSheet, RepresentationError

    ann = song["annotations"]
    meters = ann.get("meters") or [{"beat": 0, "beats_per_bar": 4, "beat_unit": 4}]
    if len({(m["beats_per_bar"], m["beat_unit"]) for m in meters}) > 1:
        raise RepresentationError("meter changes are not supported; one meter per piece")
    beats, unit = int(meters[0]["beats_per_bar"]), int(meters[0]["beat_unit"])
    q = Fraction(4, unit)  # quarter lengths per annotated beat
    melody = ann.get("melody") or []
    if not melody:
        raise RepresentationError("the song has no melody")
    keys = ann.get("keys") or [{"tonic_pitch_class": 0, "scale_degree_intervals": [2, 2, 1, 2, 2, 2]}]
    tonic, steps = int(keys[0]["tonic_pitch_class"]), list(keys[0]["scale_degree_intervals"])
    mode = "major" if sum(steps[:2]) == 4 else "minor"
    shift = ((9 if mode == "minor" else 0) - tonic + 6) % 12 - 6

    def ql(beat) -> Fraction:
        return Fraction(beat).limit_denominator(10_000) * q

    notes = [(ql(n["onset"]), ql(n["offset"]) - ql(n["onset"]), 60 + 12 * int(n["octave"]) + int(n["pitch_class"]) + shift)
             for n in melody]
    chords = []
    for h in ann.get("harmony") or []:
        quality, approx = _quality(h["root_position_intervals"])
        if approx and notes_out is not None:
            notes_out[approx] += 1
        chords.append((ql(h["onset"]), ql(h["offset"]) - ql(h["onset"]),
                       chord_index((int(h["root_pitch_class"]) + shift) % 12, quality)))
    for _, d, p in notes:
        if d <= 0 or not 0 <= p <= 127:
            raise RepresentationError(f"a melody note has duration {d} or pitch {p} outside MIDI 0..127")
    events = encode(notes, chords, (beats, unit), length=ql(ann.get("num_beats", 0)))
    names = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
    return LeadSheet(events, (beats, unit), Fraction(0), f"{names[tonic]} {mode}", shift, title)


def load_hooktheory(path: str | os.PathLike, *, splits=("train", "valid", "test")):
    """``({split: [LeadSheet]}, skipped)`` from a Sheet Sage ``Hooktheory.json(.gz)``; ``skipped`` counts the
    songs left out by reason and the approximate chord mappings."""
    from spanmix.apps.music.events import RepresentationError

    out = {s: [] for s in splits}
    skipped: Counter = Counter()
    for uid, song in read_hooktheory(path).items():
        split = SPLITS.get(str(song.get("split", "")).upper())
        if split not in out:
            continue
        meta = song.get("hooktheory") or {}
        title = " - ".join(x for x in (meta.get("artist"), meta.get("song")) if x) or uid
        try:
            sheet = song_to_leadsheet(song, title=title, notes_out=skipped)
        except RepresentationError as e:
            skipped[str(e).split(":")[0]] += 1
            continue
        sheet.source = f"hooktheory/{uid}"
        out[split].append(sheet)
    return out, dict(skipped)
