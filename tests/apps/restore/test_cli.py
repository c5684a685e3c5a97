"""``spanmix restore``: fit / test / predict on the shipped images, export, ``apply``; clear CLI errors."""
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from spanmix.datasets.restore import load_samples

CFG = "apps/restore/configs/mair_sr_x2_samples.yaml"


def spanmix(*args, cwd):
    return subprocess.run([sys.executable, "-m", "spanmix.apps.cli", *args], cwd=cwd, capture_output=True, text=True)


@pytest.mark.slow
def test_fit_test_predict_export_apply(tmp_path, request):
    root = request.config.rootpath
    cfg = str(root / CFG)
    quick = ["--trainer.max_epochs", "1", "--data.steps_per_epoch", "2", "--data.batch_size", "2",
             "--trainer.enable_progress_bar", "false"]
    r = spanmix("restore", "fit", "--config", cfg, *quick, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    r = spanmix("restore", "test", "--config", cfg, "--ckpt_path", "best", "--trainer.enable_progress_bar", "false",
                cwd=tmp_path)
    assert r.returncode == 0 and "test/psnr" in r.stdout, r.stderr[-2000:]
    r = spanmix("restore", "predict", "--config", cfg, "--ckpt_path", "best", "--trainer.enable_progress_bar",
                "false", cwd=tmp_path)
    run = tmp_path / "runs" / "restore" / "mair_sr_x2_samples"
    assert r.returncode == 0 and (run / "predictions" / "chelsea.png").is_file(), r.stderr[-2000:]
    assert Image.open(run / "predictions" / "chelsea.png").size == (254, 254)  # 127 x 2: mod-crop then x2

    r = spanmix("export", "--ckpt", str(run / "checkpoints" / "last.ckpt"), "--out", "exp", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    Image.fromarray(load_samples("test")["chelsea"][:40, :50]).save(tmp_path / "in.png")
    r = spanmix("restore", "apply", "--weights", "exp", "--input", "in.png", "--output", "out.png", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert Image.open(tmp_path / "out.png").size == (100, 80)

    Image.fromarray(np.zeros((8, 8, 4), np.uint8), "RGBA").save(tmp_path / "alpha.png")
    r = spanmix("restore", "apply", "--weights", "exp", "--input", "alpha.png", "--output", "o.png", cwd=tmp_path)
    assert r.returncode == 2 and "alpha channel" in r.stderr and "Traceback" not in r.stderr
    r = spanmix("restore", "apply", "--weights", "exp", "--input", "in.png", "--output", "o.png", "--max-pixels",
                "100", cwd=tmp_path)
    assert r.returncode == 2 and "--tile" in r.stderr


def test_apply_errors_name_the_flag(tmp_path):
    r = spanmix("restore", "apply", "--weights", str(tmp_path), "--input", "x.png", "--output", "y.png", cwd=tmp_path)
    assert r.returncode == 2 and "--weights" in r.stderr and "Traceback" not in r.stderr


def test_scale_mismatch_is_one_clear_error(request, tmp_path):
    cfg = str(request.config.rootpath / CFG)
    r = spanmix("restore", "fit", "--config", cfg, "--data.scale", "3", cwd=tmp_path)
    assert r.returncode != 0 and "--data.scale" in r.stderr
