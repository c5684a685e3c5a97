"""The Music tab's functions (demos/music_tab.py) with the weights shipped in pretrained/music/: a melody is
generated over a preset, engraved, rendered to audio and scored; its recorded test NLL beats the Markov
baselines; bad progressions become one message on the page."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "demos"))  # demos/ is a folder of scripts, not a package

import music_tab as mt  # noqa: E402

LM = "melody_lm_folk_chorales"


def test_shipped_weights_beat_markov_baselines():
    assert LM in mt.styles()
    record = json.loads((mt.WEIGHTS_DIR / LM / "config.json").read_text())["metadata"]["demo"]
    from spanmix.apps.music.metrics import MarkovBaseline
    from spanmix.datasets.music import load_sample, split_pieces

    parts = [split_pieces(load_sample(n)) for n in ("folk", "chorales")]
    train = [s for p in parts for s in p["train"]]
    test = [s for p in parts for s in p["test"]]
    bigram = MarkovBaseline(1).fit(train).nll(test)
    assert record["test"]["test/nll"] < bigram < MarkovBaseline(0).fit(train).nll(test)


def test_generate_preset():
    score, wav, fig, table, status = mt.on_generate(LM, "Minor (Am)", "", 4, "4/4", 0.9, 0)
    assert "<svg" in score and Path(wav).stat().st_size > 1000 and fig is not None
    assert "chord-tone ratio" in table and "A minor" in status


@pytest.mark.parametrize("text,needle", [("C Hm", "unknown chord 'Hm'"), ("C G Am", "cannot be shared"),
                                         ("|", "empty")])
def test_bad_progressions_are_messages(text, needle):
    *_, status = mt.on_generate(LM, "Folk (G)", text, 4, "4/4", 0.9, 0)
    assert "spanmix-error" in status and needle in status


def test_score_engraves_on_every_request_thread():
    """verovio loads its fonts for the first thread that uses it only, and Gradio runs each request on a thread of
    its own: two requests from two fresh threads must both get an engraved score (the second got an empty one)."""
    import threading

    scores = []
    for seed in (1, 2):
        worker = threading.Thread(target=lambda s=seed: scores.append(
            mt.on_generate(LM, "Minor (Am)", "", 2, "4/4", 0.9, s)[0]))
        worker.start()
        worker.join()
    assert len(scores) == 2 and all("<svg" in score for score in scores)
