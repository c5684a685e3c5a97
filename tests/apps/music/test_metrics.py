"""Melody metrics on hand-made melodies, and the Markov baselines."""
import math

import numpy as np
import pytest
from spanmix.apps.music.chords import parse_chord
from spanmix.apps.music.events import HOLD, REST, LeadSheet
from spanmix.apps.music.metrics import (
    MarkovBaseline, chord_tone_ratio, compression_ratio, duration_histogram, histogram_distance, in_key_ratio,
    interval_histogram, pitch_class_histogram, spiral_position, tonal_tension,
)
from spanmix.apps.music.metrics import key_position

C, G7 = parse_chord("C"), parse_chord("G7")
# C E G C' (quarters) over C, then B(half, held across the bar) F# over G7
SCALE = LeadSheet([[1, C, 3, 62], [0, C, 3, 66], [0, C, 3, 69], [0, C, 3, 74],
                   [1, G7, 7, 73], [0, G7, 3, 68], [0, G7, 3, REST]])


def test_histograms():
    pc = pitch_class_histogram(SCALE)
    assert pc[0] == pytest.approx(2 / 6) and pc[6] == pytest.approx(1 / 6) and pc.sum() == pytest.approx(1)
    iv = interval_histogram(SCALE)
    assert iv[12 + 4] == pytest.approx(1 / 5) and iv[12 - 1] == pytest.approx(1 / 5) and iv[12 - 5] == pytest.approx(1 / 5)
    dur = duration_histogram(SCALE)
    assert dur[3] == pytest.approx(5 / 6) and dur[7] == pytest.approx(1 / 6)


def test_in_key_and_chord_tones():
    # sounding time: 4 quarters of C-chord tones, B (2 quarters, a G7 tone), F# (1 quarter, neither)
    assert in_key_ratio(SCALE) == pytest.approx(6 / 7)
    assert chord_tone_ratio(SCALE) == pytest.approx(6 / 7)
    held = LeadSheet([[1, C, 3, 62], [0, G7, 3, HOLD]])  # C held into a G7 bar: a non-chord tone there
    assert chord_tone_ratio(held) == pytest.approx(0.5)


def test_histogram_distance():
    assert histogram_distance([1, 0], [0, 1]) == 1.0 and histogram_distance([1, 1], [2, 2]) == 0.0
    with pytest.raises(ValueError, match="same bins"):
        histogram_distance([1, 0], [1, 0, 0])


def test_compression_rewards_repetition():
    rng = np.random.default_rng(0)
    motif = [[0, C, 1, 62], [0, C, 1, 66], [0, C, 3, 69]]
    repeated = LeadSheet(motif * 20)
    random = LeadSheet(np.column_stack([np.zeros(60, int), np.full(60, C), rng.integers(0, 16, 60),
                                        rng.integers(50, 90, 60)]))
    assert compression_ratio(repeated) > 3 * compression_ratio(random)


def test_markov_baselines():
    train = [LeadSheet([[1, C, 3, 62], [0, C, 3, 64], [0, C, 3, 66], [0, C, 3, 67]] * 4)]
    uni, bi = MarkovBaseline(0).fit(train), MarkovBaseline(1).fit(train)
    assert bi.nll(train) < uni.nll(train) < math.log(2 * 16 * 130)
    with pytest.raises(ValueError, match="order"):
        MarkovBaseline(2)


def test_spiral_array_geometry():
    # C (0) on top of the helix, G (1) a quarter turn on, E (4) a full turn above C: h = 0.4 per fifth
    np.testing.assert_allclose(spiral_position(0), [0, 1, 0])
    np.testing.assert_allclose(spiral_position(1), [1, 0, 0.4])
    np.testing.assert_allclose(spiral_position(4) - spiral_position(0), [0, 0, 1.6])
    np.testing.assert_allclose(spiral_position(-1), [-1, 0, -0.4])  # F
    c_major = 0.536 * spiral_position(0) + 0.274 * spiral_position(1) + 0.19 * spiral_position(4)
    key = key_position(minor=False)  # the weighted C, G and F triads
    g_major = 0.536 * spiral_position(1) + 0.274 * spiral_position(2) + 0.19 * spiral_position(5)
    f_major = 0.536 * spiral_position(-1) + 0.274 * spiral_position(0) + 0.19 * spiral_position(3)
    np.testing.assert_allclose(key, 0.536 * c_major + 0.274 * g_major + 0.19 * f_major)
    assert key_position(minor=True)[2] > key[2]  # A minor sits higher on the line of fifths (A = 3)


def _bars(*bars, meter=(4, 4), key="C major"):
    """One whole-bar melody note (MIDI) over one chord per bar."""
    return LeadSheet([[1, parse_chord(c), 15, 2 + m] for m, c in bars], meter, key=key)


def test_tension_of_hand_made_clouds():
    # a lone C (no chord): strain = |P(C) - key|, one point so diameter 0, one bar so no momentum
    t = tonal_tension(LeadSheet([[1, 0, 15, 62]]))
    assert t["tensile_strain"] == pytest.approx(np.linalg.norm(spiral_position(0) - key_position(False)))
    assert t["cloud_diameter"] == 0 and math.isnan(t["cloud_momentum"])
    # C over a C chord: points C, C, E, G; the farthest pair is G-E (|C-E| = 1.6, |C-G| = sqrt(2.16))
    assert tonal_tension(_bars((60, "C")))["cloud_diameter"] == pytest.approx(math.sqrt(1 + 1 + 1.2 ** 2))
    # the tonic is less tense than a far chord (F# major: F# C# A#), and two equal bars do not move
    home, far = tonal_tension(_bars((60, "C"), (60, "C"))), tonal_tension(_bars((66, "F#"), (66, "F#")))
    assert home["tensile_strain"] < far["tensile_strain"] and home["cloud_momentum"] == 0
    # moving C -> G bars: momentum is the distance between the two bars' centres
    moved = tonal_tension(_bars((60, "C"), (67, "G")))
    c = np.mean([spiral_position(k) for k in (0, 0, 1, 4)], 0)
    g = np.mean([spiral_position(k) for k in (1, 1, 2, 5)], 0)
    assert moved["cloud_momentum"] == pytest.approx(np.linalg.norm(g - c))


def test_tension_windows_follow_bars_and_silence():
    # a half-bar of rest then C held: the window's centre is the mean over steps, silent ones at the origin
    sheet = LeadSheet([[1, 0, 7, REST], [0, 0, 7, 62]])
    strain = tonal_tension(sheet)["tensile_strain"]
    assert strain == pytest.approx(np.linalg.norm(spiral_position(0) / 2 - key_position(False)))
    # a pickup of one quarter makes its own first window
    pickup = LeadSheet([[0, C, 3, 62], [1, C, 15, 62]], pickup=1)
    assert tonal_tension(pickup)["cloud_momentum"] == 0
    assert math.isnan(tonal_tension(LeadSheet([[1, 0, 15, REST]]))["tensile_strain"])  # silence only
