"""Melody metrics on hand-made melodies, and the Markov baselines."""
import math

import numpy as np
import pytest
from spanmix.apps.music.chords import parse_chord
from spanmix.apps.music.events import HOLD, REST, LeadSheet
from spanmix.apps.music.metrics import (
    MarkovBaseline, chord_tone_ratio, compression_ratio, duration_histogram, histogram_distance, in_key_ratio,
    interval_histogram, pitch_class_histogram,
)

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
