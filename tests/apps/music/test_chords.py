"""Chord vocabulary (the official CM-HRNN order) and progression parsing."""
from fractions import Fraction

import pytest
from spanmix.apps.music.chords import (
    N_CHORDS, NO_CHORD, ChordError, chord_name, chord_pitch_classes, estimate_key, parse_chord, parse_progression,
)


def test_official_index_order():
    # model/lookup_table.py: SHARPS_WORDS starts at A, MODES = maj, min, 7, dim, 0 = rest.
    assert N_CHORDS == 49
    assert parse_chord("A") == 1 and parse_chord("Am") == 2 and parse_chord("A7") == 3 and parse_chord("Adim") == 4
    assert parse_chord("C") == 13 and parse_chord("Gm") == 42 and parse_chord("G#dim") == 48
    assert parse_chord("N.C.") == NO_CHORD


@pytest.mark.parametrize("symbol,name", [("Bb", "A#"), ("F#m7", "F#m"), ("Cmaj7", "C"), ("Dm7b5", "Ddim"),
                                         ("G9", "G7"), ("Esus4", "E"), ("Am/C", "Am"), ("Db7", "C#7")])
def test_rich_symbols_fold_into_four_qualities(symbol, name):
    assert chord_name(parse_chord(symbol)) == name


def test_every_index_names_itself():
    for i in range(N_CHORDS):
        assert parse_chord(chord_name(i)) == i


def test_pitch_classes():
    assert chord_pitch_classes(parse_chord("G7")) == (7, 11, 2, 5)
    assert chord_pitch_classes(NO_CHORD) == ()


def test_progression_shares_bars_evenly():
    p = parse_progression("C G Am F | Dm7 G7", "4/4")
    assert p.chords == tuple(parse_chord(c) for c in "C G Am F Dm G7".split())
    assert p.onsets == (0, 1, 2, 3, 4, 6) and p.durations[-1] == 2 and p.n_bars == 2
    three = parse_progression("C | G", "3/4")
    assert three.bar_length == 3 and three.length == 6
    assert parse_progression("C F", "6/8").durations == (Fraction(3, 2), Fraction(3, 2))


def test_repeat_fills_bars():
    p = parse_progression("C G | Am F").repeat_to(5)
    assert p.length == 20 and p.chord_at(16) == parse_chord("C") and p.chord_at(19.5) == parse_chord("G")


@pytest.mark.parametrize("text,needle", [("", "empty"), ("  | ", "empty"), ("C H Am F", "'H'"), ("C || G", "bar 2"),
                                         ("C G Am", "cannot be shared"), ("Cxyz", "'Cxyz'")])
def test_bad_progressions_raise_one_clear_error(text, needle):
    with pytest.raises(ChordError, match=needle):
        parse_progression(text)


def test_bad_meter():
    with pytest.raises(ChordError, match="meter"):
        parse_progression("C", "4/3")


def test_estimate_key():
    assert estimate_key([parse_chord(c) for c in "C G Am F".split()]) == (0, "major")
    assert estimate_key([parse_chord(c) for c in "G D Em C".split()]) == (7, "major")
    assert estimate_key([parse_chord(c) for c in "Am Dm E7 Am".split()]) == (9, "minor")
