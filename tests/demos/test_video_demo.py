"""The Video tab's functions (demos/video_tab.py): the shipped composited clip through the whole pipeline gives
an annotated video, a timeline and one thumbnail per track; each bad input is one message on the page."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "demos"))  # demos/ is a folder of scripts, not a package

import video_tab as vt

from spanmix.apps.harness.export import save_pretrained, update_pretrained_metadata
from spanmix.apps.video.asd.task import ASDTask
from spanmix.datasets.video import read_clip, write_clip

TINY = {"layers": 1, "dim": 16, "heads": 2, "widths": [4, 4, 8, 8], "audio_widths": [4, 4, 8, 8], "tcn_blocks": 1,
        "max_len": 64}


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("weights")
    save_pretrained(ASDTask(model_options=TINY, face_size=32), root / "tiny")
    update_pretrained_metadata(root / "tiny", demo={"test": {}})
    return root


def test_shipped_clip_through_the_tab(weights_dir):
    assert vt.weights_choices(weights_dir) == ["tiny"]
    video, figure, thumbs, status = vt.detect_speakers(None, True, "tiny", weights_dir)
    assert "spanmix-error" not in status and "COMPOSITED" in status
    assert "3 face track(s)" in status  # the shipped clip has three composited faces, all tracked
    clip = read_clip(video)
    assert clip.frames.shape[0] == 150 and clip.audio is not None
    assert len(figure.axes[0].lines) == 3 + 1  # one line per track + the 0.5 guide
    assert len(thumbs) == 3 and thumbs[0][0].shape == (112, 112) and "#0" in thumbs[0][1]


def test_bad_inputs_are_one_message_each(weights_dir, tmp_path):
    silent = write_clip(tmp_path / "silent.mp4", np.zeros((10, 64, 64, 3), np.uint8), 25)
    blank = write_clip(tmp_path / "blank.mp4", np.full((20, 64, 64, 3), 128, np.uint8), 25,
                       np.zeros(20 * 640, np.float32))
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00garbage" * 100)
    long = write_clip(tmp_path / "long.mp4", np.zeros((int(vt.MAX_SECONDS * 25) + 50, 32, 32, 3), np.uint8), 25,
                      np.zeros((int(vt.MAX_SECONDS * 25) + 50) * 640, np.float32))
    for path, message in [(silent, "no audio track"), (blank, "no face found"),
                          (junk, "not a readable video container"), (long, "the limit is")]:
        video, figure, thumbs, status = vt.detect_speakers(str(path), False, "tiny", weights_dir)
        assert video is None and thumbs == [] and "spanmix-error" in status, path
        assert message in status and str(tmp_path) not in status
    _, _, _, status = vt.detect_speakers(None, True, None, weights_dir)
    assert "no shipped weights" in status


def test_shipped_weights_beat_their_own_audio_only_and_visual_only_heads():
    import json

    assert vt.weights_choices() == ["loconet_composite_tiny"]
    demo = json.loads((vt.WEIGHTS_DIR / "loconet_composite_tiny" / "config.json").read_text())["metadata"]["demo"]
    test = demo["test"]
    assert test["test/map"] > max(test["test/map_audio"], test["test/map_visual"])
    assert "COMPOSITED" in demo["data"]
