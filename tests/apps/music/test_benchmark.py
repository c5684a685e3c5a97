"""The pieces of benchmarks/music.py (issue #19 experiments): sampled continuations keep the piece's grid and
chords, and each sampler gives exactly its model's next-event distribution."""
import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from spanmix.apps.music.data import featurize
from spanmix.apps.music.metrics import MarkovBaseline
from spanmix.apps.music.models import MelodyLM
from spanmix.apps.music.models.cm_hrnn import CMHRNN, cm_hrnn_inputs
from spanmix.datasets.music import load_sample

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("music_bench", ROOT / "benchmarks" / "music.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def pieces():
    return [s for s in load_sample("oneill")[:20] if len(s) >= 48][:3]


def test_continuation_fills_the_piece_on_its_grid_and_chords(bench, pieces):
    markov = MarkovBaseline(1).fit(pieces)
    for sheet in pieces:
        cont = bench.continue_piece(bench.MarkovSampler(markov), sheet, seed=1, max_events=10_000)
        whole = sheet.with_events(np.concatenate([sheet.events[:bench.PRIME], cont.events]))
        assert whole.length == sheet.length
        whole.check_bars()  # bar flags agree with the meter and pickup, no event crosses a bar line
        cont.check_bars()  # the continuation alone keeps the bar grid (its pickup is set)
        for t, (_, c, _, _) in zip(whole.onsets(), whole.events):
            assert c == next(int(e[1]) for u, e in zip(sheet.onsets()[::-1], sheet.events[::-1]) if u <= t)


def test_markov_sampler_is_the_fitted_bigram(bench, pieces):
    markov = MarkovBaseline(1).fit(pieces)
    prev = pieces[0].events[5]
    logits = bench.MarkovSampler(markov)([prev.tolist(), [0, 0, 0, 0]], [0, 0], [0, 0])
    sym = int((prev[0] * 16 + prev[2]) * 130 + prev[3])
    for d in (0, 3, 7):
        p = sum(math.exp(markov._logp(sym, (b * 16 + d) * 130 + q)) for b in range(2) for q in range(130))
        assert math.isclose(math.exp(float(logits["duration"][d])), p, rel_tol=1e-6)


def test_lm_and_cmhrnn_samplers_equal_their_forward_on_the_real_piece(bench, pieces):
    torch.manual_seed(0)
    sheet, T = pieces[0], 21
    feats = featurize(sheet)
    lm = MelodyLM(32, "local,full", window=8, max_len=256).eval()
    ev = sheet.events[:T].tolist()
    got = bench.LMSampler(lm, feats)(ev, feats["bar_pos"][:T].tolist(), feats["segment"][:T].tolist())
    args = [torch.from_numpy(feats[k])[None] for k in ("events", "bar_pos", "segment", "chords", "chord_pos", "chord_len")]
    with torch.no_grad():
        full = lm(*args)
    for h in full:
        torch.testing.assert_close(got[h], full[h][0, T - 1])
    net = CMHRNN(tiers=3, dim=16, chord_rnn_dim=8, remaining_time=True).eval()
    got = bench.CMHRNNSampler(net, sheet)(ev, feats["bar_pos"][:T].tolist(), None)
    events = torch.from_numpy(sheet.events[:32])[None].clone()
    events[0, T:, [0, 2, 3]] = 0  # the melody after the predicted event is unknown: it must not matter
    bar_pos = torch.from_numpy(feats["bar_pos"][:32])[None].clone()
    bar_pos[0, T:] = 1
    with torch.no_grad():
        full = net(cm_hrnn_inputs(events), (bar_pos[:, 16:] - 1) % 16)
    for h in full:
        torch.testing.assert_close(got[h], full[h][0, T - 1 - 16])
