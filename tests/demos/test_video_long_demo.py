"""The Video tab's "Long video" panel (demos/video_long_panel.py): a shipped composited long video gives a
segment timeline (error when masked, importance-masking choice), nearest segments with thumbnails and the
probe's prediction; bad input is one message on the page."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "demos"))  # demos/ is a folder of scripts, not a package

import video_long_panel as lp

from spanmix.apps.harness.export import save_pretrained, update_pretrained_metadata
from spanmix.apps.video.lvmae.task import LVMAETask, ProbeTask
from spanmix.datasets.video import write_clip

OPTS = dict(input_dim=96, dim=16, depth=1, heads=2, decoder_dim=8, decoder_depth=1, decoder_heads=2)


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("weights")
    save_pretrained(LVMAETask(OPTS), root / "pre")
    update_pretrained_metadata(root / "pre", demo={"task": "LV-MAE", "kind": "pretrain"})
    save_pretrained(ProbeTask(OPTS, num_classes=4), root / "probe")
    update_pretrained_metadata(root / "probe", demo={"task": "LV-MAE", "kind": "probe"})
    return root


def test_shipped_long_video_through_the_panel(weights_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("SPANMIX_CACHE", str(tmp_path / "cache"))
    choices = lp.shipped_videos()
    assert len(choices) == 36 and "lv_030.mp4 (test" in choices[30]
    fig, gallery, status = lp.analyse(None, choices[30], 3, weights_dir)
    assert "spanmix-error" not in status and "COMPOSITED" in status and "Truth (from the composition)" in status
    n = int(status.split("<b>")[1].split(" segments")[0])
    bars = fig.axes[0].patches
    assert len(bars) >= n and all(np.isfinite(b.get_height()) for b in bars[:n])
    assert sum(b.get_height() > 0 for b in bars[:n]) == n  # every segment was masked once and scored
    assert len(gallery) == 6 and gallery[0][1].startswith("query: segment 3")
    assert gallery[0][0].ndim == 3 and "cos " in gallery[1][1]
    assert sum(name in status for name in ("pedestrians", "tree", "box", "megamind")) >= 4


def test_bad_inputs_are_one_message_each(weights_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("SPANMIX_CACHE", str(tmp_path / "cache"))
    short = write_clip(tmp_path / "short.mp4", np.zeros((20, 32, 32, 3), np.uint8), 10)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00garbage" * 100)
    for upload, message in ((short, "shorter than one segment"), (str(junk), "junk.mp4")):
        fig, gallery, status = lp.analyse(str(upload), None, 0, weights_dir)
        assert fig is None and gallery == [] and "spanmix-error" in status and message in status
    _, _, status = lp.analyse(None, lp.shipped_videos()[0], 0, tmp_path / "empty")
    assert "no shipped LV-MAE weights" in status
