"""The Restore tab's functions (demos/restore_tab.py): every task's model restores a shipped image and scores it
against the clean reference, uploads work with and without a reference, and bad input becomes one message on
the page. The exports are made here (untrained, the builder's metadata layout), so the test does not depend
on the shipped weights; the browser test uses the shipped ones."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "demos"))  # demos/ is a folder of scripts, not a package

import restore_tab as rt

TINY = {"embed_dim": 8, "depths": [1], "d_state": 2, "ssm_ratio": 1.0, "scan_len": 4}
UNET = {"dim": 8, "num_blocks": [1, 1, 1, 1], "num_refinement_blocks": 1, "ssm_ratio": 1.0, "scan_len": 4}
TASKS = {"sr": ("mair", {**TINY, "upscale": 2}), "denoise": ("mair", {**TINY, "upscale": 1, "upsampler": "none"}),
         "deblur": ("mair_unet", UNET), "dehaze": ("mair_unet", UNET)}


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    import torch
    from spanmix.apps.harness.export import save_pretrained
    from spanmix.apps.restore.task import RestoreTask

    out = tmp_path_factory.mktemp("restore_weights")
    for task, (model, options) in TASKS.items():
        torch.manual_seed(0)
        module = RestoreTask(model, options, task=task, scale=2)
        demo = {"task": task, "scale": 2 if task == "sr" else 1, "sigma": 25.0, "label": f"tiny {task}"}
        save_pretrained(module, out / task, metadata={"demo": demo})
    return out


@pytest.fixture(scope="module")
def models(weights):
    return rt._models(weights)


def test_the_tab_lists_every_task(models):
    assert sorted(m["task"] for _, m in models.values()) == ["deblur", "dehaze", "denoise", "sr"]


@pytest.mark.parametrize("task", list(TASKS))
def test_shipped_image_with_scores(weights, task):
    label = f"tiny {task}"
    before, after, report = rt.run_restore(label, "chelsea", None, False, False, weights)
    want = (256, 256, 3)
    assert after.shape == want and before.shape == want
    assert "PSNR" in report and "synthetic degradation of a real image" in report


def test_upload_with_and_without_reference(weights, tmp_path):
    path = tmp_path / "me.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(path)
    before, after, report = rt.run_restore("tiny sr", "upload", str(path), False, False, weights)
    assert after.shape == (80, 100, 3) and "no clean reference" in report
    _, _, report = rt.run_restore("tiny sr", "upload", str(path), True, True, weights)
    assert "PSNR" in report


@pytest.mark.parametrize("kind, msg", [("none", "choose an image"), ("alpha", "alpha channel"),
                                       ("big", "above the cap"), ("text", "not an image")])
def test_bad_uploads_are_messages(weights, tmp_path, kind, msg):
    path = tmp_path / "x.png"
    if kind == "alpha":
        Image.fromarray(np.zeros((32, 32, 4), np.uint8), "RGBA").save(path)
    elif kind == "big":
        Image.fromarray(np.zeros((600, 600, 3), np.uint8)).save(path)
    elif kind == "text":
        path.write_text("not a picture")
    value, html = rt.on_restore("tiny sr", "upload", None if kind == "none" else str(path), False, False, weights)
    assert value is None and "spanmix-error" in html and msg in html and str(tmp_path) not in html


def test_no_weights_is_a_message(tmp_path):
    value, html = rt.on_restore("tiny sr", "chelsea", None, False, False, tmp_path)
    assert value is None and "spanmix weights build restore" in html
