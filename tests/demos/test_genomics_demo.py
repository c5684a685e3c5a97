"""The Genomics tab's functions (demos/genomics_tab.py) and the weights shipped in pretrained/genomics/: the
shipped classifier gives probabilities and a saliency map, the shipped LM streams a continuation, its
recorded metrics are real (bits/nt below 2.0, fine-tuned accuracy above chance), and bad input becomes one
message on the page, never an exception."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "demos"))  # demos/ is a folder of scripts, not a package

import genomics_tab as gt

SHIPPED = gt.WEIGHTS_DIR


def test_shipped_weights_and_their_metrics():
    assert gt.weights_available() == [gt.LM_NAME, gt.CLASSIFIER_NAME]
    lm = json.loads((SHIPPED / gt.LM_NAME / "config.json").read_text())["metadata"]["demo"]
    assert lm["test"]["test/bits_per_nt"] < 2.0  # better than a uniform guess over A/C/G/T
    clf = json.loads((SHIPPED / gt.CLASSIFIER_NAME / "config.json").read_text())["metadata"]["demo"]
    assert clf["test"]["test/accuracy"] > 0.6 and clf["test"]["test/mcc"] > 0.2


def test_classify_real_peak():
    probs, html = gt.on_classify(gt.EXAMPLE, None)
    assert set(probs) == set(gt.CLASSES) and sum(probs.values()) == pytest.approx(1.0, abs=1e-5)
    assert html.count("<span title=") == len(gt.EXAMPLE) and "spanmix-error" not in html
    _, saliency = gt.classify(gt.EXAMPLE)
    assert len(saliency) == len(gt.EXAMPLE) and max(saliency) == pytest.approx(1.0) and min(saliency) >= 0


def test_classify_fasta_upload(tmp_path):
    f = tmp_path / "x.fa"
    f.write_text(">peak1 test\n" + gt.EXAMPLE[:100].lower() + "\n" + gt.EXAMPLE[100:] + "\n>peak2\nACGT\n")
    assert gt.parse_sequence(None, str(f)) == gt.EXAMPLE
    probs, html = gt.on_classify(None, str(f))
    assert probs and "spanmix-error" not in html


@pytest.mark.parametrize(
    "text, message",
    [
        ("ACGTXACGT", "'X' at position 4"),
        ("", "no sequence"),
        ("A" * (gt.MAX_CLASSIFY_LEN + 1), "at most"),
    ],
)
def test_bad_input_is_a_message(text, message):
    probs, html = gt.on_classify(text, None)
    assert probs == {} and "spanmix-error" in html and message in html.replace("&#x27;", "'")


def test_binary_upload_is_a_message(tmp_path):
    f = tmp_path / "x.fa"
    f.write_bytes(b"\xff\xfe\x00binary")
    probs, html = gt.on_classify(None, str(f))
    assert probs == {} and "UTF-8" in html


def test_generate_streams_probabilities():
    chunks = list(gt.on_generate("ATGAAACGCATTAGC", 60, 0.8, 0, 0))
    assert len(chunks) == 3  # every 25 bases, then the end
    assert "done" in chunks[-1] and chunks[-1].count('title="p=') == 60
    assert list(gt.on_generate("ATGAAACGCATTAGC", 60, 0.8, 0, 0))[-1] == chunks[-1]  # seeded: reproducible
    bad = list(gt.on_generate("ATGU", 10, 1.0, 0, 0))
    assert len(bad) == 1 and "spanmix-error" in bad[0] and "position 3" in bad[0]
    assert "between 1 and" in next(iter(gt.on_generate("ACGT", 0, 1.0, 0, 0)))
