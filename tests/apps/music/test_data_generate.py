"""Model inputs from lead sheets, windows, the piece split, and constrained streaming generation."""
from fractions import Fraction

import numpy as np
import pytest
import torch
from spanmix.apps.music.chords import ChordError, parse_chord
from spanmix.apps.music.data import chord_track, collate, featurize, sheet_windows
from spanmix.apps.music.events import HOLD, REST, LeadSheet
from spanmix.apps.music.generate import MAJOR, generate, prepare_progression
from spanmix.apps.music.models import MelodyLM

C, G = parse_chord("C"), parse_chord("G")


def test_chord_track_merges_then_cuts_at_bar_lines():
    segs = chord_track([(0, 2, C), (2, 4, C), (6, 2, G)], Fraction(4), Fraction(0), Fraction(8))
    assert segs == [(0, 4, C), (4, 2, C), (6, 2, G)]


def test_featurize_positions_and_segments():
    sheet = LeadSheet([[0, C, 3, 62], [1, C, 7, 64], [0, G, 7, 67], [1, G, 15, HOLD]], pickup=Fraction(1))
    sheet.check_bars()
    f = featurize(sheet)
    assert f["bar_pos"].tolist() == [12, 0, 8, 0]
    assert f["chords"].tolist() == [C, C, G, G] and f["segment"].tolist() == [0, 1, 2, 3]
    assert f["chord_len"].tolist() == [4, 8, 8, 16] and f["chord_pos"].tolist() == [12, 0, 8, 0]
    windows = sheet_windows(f, 3, 3)
    assert [len(w["events"]) for w in windows] == [3, 1]  # nothing dropped
    assert windows[1]["segment"].tolist() == [0] and windows[1]["chords"].tolist() == [G]
    batch = collate(windows)
    assert batch["events"].shape == (2, 3, 4) and batch["mask"].sum() == 4


def test_split_is_by_piece():
    from spanmix.datasets.music import split_pieces

    sheets = [LeadSheet([[1, 0, 3, i + 2]]) for i in range(50)]
    parts = split_pieces(sheets, 0.1, 0.1, seed=0)
    ids = {k: {int(s.events[0, 3]) for s in v} for k, v in parts.items()}
    assert sum(map(len, ids.values())) == 50 and not (ids["train"] & ids["test"]) and len(ids["test"]) == 5
    with pytest.raises(ValueError, match="fractions"):
        split_pieces(sheets, 0.6, 0.5)


def test_prepare_progression_moves_to_c():
    prog, shift, key = prepare_progression("G D Em C", 3, "4/4")
    assert key == "G major" and shift == 5 and prog.chords[:4] == tuple(parse_chord(c) for c in "C G Am F".split())
    assert prog.length == 12
    with pytest.raises(ChordError, match="empty"):
        prepare_progression(" ", 4)
    with pytest.raises(ValueError, match="--bars"):
        prepare_progression("C", 0)


@pytest.fixture(scope="module")
def lm():
    torch.manual_seed(0)
    return MelodyLM(32, "local*3,full", window=8, max_len=256, dropout=0.0).eval()


@pytest.mark.parametrize("meter", ["4/4", "3/4", "6/8"])
def test_generation_fills_bars_in_key_and_range(lm, meter):
    prog, _, _ = prepare_progression("C G | Am F", 3, meter)
    sheet = generate(lm, prog, seed=1, pitch_range=(60, 72))
    sheet.check_bars()  # bar flags agree with the meter; no event crosses a bar line
    assert sheet.length == prog.length
    pitches = [p for _, _, p in sheet.notes() if p is not None]
    assert pitches and all(60 <= p <= 72 and p % 12 in MAJOR for p in pitches)
    onsets = sheet.onsets()
    for t, (_, c, d, _) in zip(onsets, sheet.events):
        assert prog.chord_at(t) == c  # every event carries the chord sounding at its onset
    assert not any(sheet.events[i, 3] == HOLD and sheet.events[i - 1, 3] == REST for i in range(1, len(sheet)))


def test_step_generation_equals_full_forward_generation(lm):
    prog, _, _ = prepare_progression("C Am | F G7", 2)
    a = generate(lm, prog, seed=3, temperature=0.9, top_k=10, top_p=0.95)
    b = generate(lm, prog, seed=3, temperature=0.9, top_k=10, top_p=0.95, use_step=False)
    assert np.array_equal(a.events, b.events)
    assert not np.array_equal(a.events, generate(lm, prog, seed=4).events)


def test_chords_change_the_generated_melody(lm):
    a = generate(lm, prepare_progression("C F | G C", 4)[0], seed=0)
    b = generate(lm, prepare_progression("C Dm | Em Am", 4)[0], seed=0)
    assert not np.array_equal(a.events[:, 3], b.events[:, 3])


def test_bad_sampling_options(lm):
    prog = prepare_progression("C", 1)[0]
    with pytest.raises(ValueError, match="temperature"):
        generate(lm, prog, temperature=0)
    with pytest.raises(ValueError, match="top_p"):
        generate(lm, prog, top_p=1.5)
    with pytest.raises(ValueError, match="range"):
        generate(lm, prog, pitch_range=(80, 60))
