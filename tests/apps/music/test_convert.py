"""Lead sheets to and from music21 streams, MusicXML, ABC and MIDI; what cannot be held raises."""
from fractions import Fraction

import numpy as np
import pytest

music21 = pytest.importorskip("music21")
from spanmix.apps.music.convert import from_stream, read, to_abc, to_stream, write  # noqa: E402
from spanmix.apps.music.events import HOLD, RepresentationError  # noqa: E402

TUNE = """X:1
T:test tune
M:3/4
L:1/8
K:G
D|"G"G2 B2 d2|"D7"c3 B A2|"Em"B4- "C"B2|"D"A6|"G"G3/2A/2 B2 z2|"G"G4|]
"""


@pytest.fixture(scope="module")
def tune():
    return from_stream(music21.converter.parse(TUNE, format="abc"))


def test_reads_key_pickup_chords_and_ties(tune):
    assert tune.key == "G major" and tune.transposition == 5 and tune.pickup == Fraction(1, 2)
    assert tune.meter == (3, 4)
    tune.check_bars()
    notes = tune.notes()
    assert notes[0] == (0, Fraction(1, 2), 62 + 5)  # the pickup D, moved to C major
    assert (Fraction(13, 2), Fraction(3), 71 + 5) in notes  # B4- B2 tied across a chord change: one note
    assert HOLD in tune.events[:, 3]  # ... stored as a note event + a hold at the chord change
    assert tune.chord_names() == ["N.C.", "C", "G7", "Am", "F", "G", "C"]


@pytest.mark.parametrize("suffix", [".musicxml", ".abc"])
def test_file_round_trips_are_exact(tune, tmp_path, suffix):
    back = read(write(tune, tmp_path / f"t{suffix}"))
    assert np.array_equal(back.events, tune.events) and back.pickup == tune.pickup and back.meter == tune.meter


def test_stream_round_trip_and_original_key(tune):
    assert np.array_equal(from_stream(to_stream(tune)).events, tune.events)
    again = from_stream(to_stream(tune, original_key=True))
    assert np.array_equal(again.events, tune.events) and again.key == "G major"


def test_midi_round_trip_keeps_melody(tmp_path):
    sheet = from_stream(music21.converter.parse(TUNE.replace("D|", ""), format="abc"))  # MIDI has no pickup
    back = read(write(sheet, tmp_path / "t.mid"))
    assert back.notes() == sheet.notes() and back.meter == sheet.meter  # MIDI holds no chord symbols
    back.check_bars()


def test_abc_text(tune):
    text = to_abc(tune)
    assert "M:3/4" in text and "L:1/16" in text and '"G7"' in text and "-" in text


@pytest.mark.parametrize("abc,needle", [
    ("X:1\nM:4/4\nL:1/4\nK:C\n[CEG] D E F|]\n", "monophonic"),
    ("X:1\nM:4/4\nL:1/4\nK:C\n(3CDE F G A|]\n", "16th-note grid"),
    ("X:1\nM:4/4\nL:1/4\nK:C\nC D E F|M:3/4\nG A B|]\n", "meter changes"),
])
def test_unrepresentable_music_raises(abc, needle):
    with pytest.raises(RepresentationError, match=needle):
        from_stream(music21.converter.parse(abc, format="abc"))


def test_grace_notes_are_dropped_and_counted():
    sheet = from_stream(music21.converter.parse("X:1\nM:4/4\nL:1/4\nK:C\n{B}C D E F|]\n", format="abc"))
    assert sheet.dropped == {"grace notes": 1} and [n[2] for n in sheet.notes()] == [60, 62, 64, 65]


def test_bad_files(tmp_path):
    with pytest.raises(ValueError, match="suffix"):
        write(None, tmp_path / "x.wav")
    bad = tmp_path / "x.musicxml"
    bad.write_text("<not xml")
    with pytest.raises(ValueError, match="cannot parse"):
        read(bad)
