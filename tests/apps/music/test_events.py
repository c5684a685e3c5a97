"""CM-HRNN's event representation: the official one-hot layout, tokens, and the official demo as oracle."""
from fractions import Fraction

import numpy as np
import pytest
from spanmix.apps.music.events import EVENT_DIM, HOLD, REST, LeadSheet, RepresentationError

# The first 16 events of the official demo array result_demo/2t/1/...alela-diane_take-us-back_intro_verse.npy
# (AMAAI-Lab/CM-HRNN; argmax of each one-hot group) and the first notes of the official decoder's MIDI for it
# (..._eva.mid, written by generation_w_mode_switch_v2.generate_midi; beats at 120 bpm). All 27 demo arrays
# (2,242 events) decoded by LeadSheet.notes() equal their official _eva.mid notes (checked 2026-12-03).
DEMO = [[1, 42, 7, 0], [0, 22, 7, 1], [1, 13, 3, 0], [0, 13, 2, 50], [0, 13, 0, 52], [0, 13, 1, 54],
        [0, 13, 1, 57], [0, 13, 1, 62], [0, 13, 0, 64], [0, 13, 0, 66], [1, 42, 6, 67], [0, 42, 0, 67],
        [0, 22, 3, 66], [0, 22, 1, 64], [0, 22, 1, 62], [1, 13, 3, 57]]
OFFICIAL_NOTES = [(5.0, 5.75, 48), (5.75, 6.0, 50), (6.0, 6.5, 52), (6.5, 7.0, 55), (7.0, 7.5, 60),
                  (7.5, 7.75, 62), (7.75, 8.0, 64), (8.0, 9.75, 65)]


def _demo_onehot():
    a = np.zeros((len(DEMO), EVENT_DIM), np.float32)
    for i, (b, c, d, p) in enumerate(DEMO):
        a[i, [b, 2 + c, 51 + d, 67 + p]] = 1
    return a[None]


def test_decodes_official_demo_like_official_decoder():
    sheet = LeadSheet.from_onehot(_demo_onehot())
    notes = [(float(o), float(o + d), p) for o, d, p in sheet.notes() if p is not None]
    assert notes[:8] == OFFICIAL_NOTES
    assert sheet.notes()[0] == (0, 5, None)  # rest, hold-after-rest, rest merge into one 5-beat rest


def test_onehot_and_tokens_round_trip():
    a = _demo_onehot()
    sheet = LeadSheet.from_onehot(a)
    assert np.array_equal(sheet.onehot(), a[0])
    tokens = sheet.to_tokens()
    assert tokens.shape == (4 * len(DEMO),) and tokens.max() < EVENT_DIM
    assert np.array_equal(LeadSheet.from_tokens(tokens).events, sheet.events)


def test_bad_arrays_and_tokens():
    with pytest.raises(RepresentationError, match="197"):
        LeadSheet.from_onehot(np.zeros((3, 196)))
    a = _demo_onehot()
    a[0, 0, 5] = 1  # two chords in one event
    with pytest.raises(RepresentationError, match="not one-hot"):
        LeadSheet.from_onehot(a)
    with pytest.raises(RepresentationError, match="group 1"):
        LeadSheet.from_tokens([1, 0, 51, 67])
    with pytest.raises(RepresentationError, match="shape"):
        LeadSheet(np.zeros((2, 3), int))
    with pytest.raises(RepresentationError, match="0..129"):
        LeadSheet([[1, 0, 0, 130]])


def test_bar_check():
    ok = LeadSheet([[1, 13, 15, 62], [1, 13, 7, 64], [0, 13, 7, HOLD]])
    ok.check_bars()
    assert ok.length == 8 and ok.notes() == [(0, 4, 60), (4, 4, 62)]
    with pytest.raises(RepresentationError, match="bar flag"):
        LeadSheet([[1, 13, 3, 62], [1, 13, 3, REST]]).check_bars()
    pickup = LeadSheet([[0, 0, 3, 62], [1, 13, 15, 64]], pickup=Fraction(1))
    pickup.check_bars()
