"""`spanmix music fit|test|generate` end to end on the shipped chorales (tiny budget), and CLI errors."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CONFIG = ROOT / "apps/music/configs/melody_lm_chorales.yaml"


def _spanmix(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "spanmix.apps.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=900)


@pytest.mark.slow
def test_fit_test_export_generate(tmp_path):
    small = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1",
             "--trainer.limit_test_batches", "1", "--trainer.default_root_dir", tmp_path / "run",
             "--trainer.enable_progress_bar", "false", "--model.init_args.model_options",
             '{"dim": 32, "schedule": "local*3,full", "window": 16, "max_len": 256}']
    r = _spanmix("music", "fit", "--config", CONFIG, *small)
    assert r.returncode == 0, r.stderr[-2000:]
    ckpt = tmp_path / "run/checkpoints/last.ckpt"
    r = _spanmix("music", "test", "--config", CONFIG, *small, "--ckpt_path", ckpt)
    assert r.returncode == 0 and "test/nll" in r.stdout + r.stderr, r.stderr[-2000:]
    r = _spanmix("export", "--ckpt", ckpt, "--out", tmp_path / "lm")
    assert r.returncode == 0, r.stderr
    for suffix in (".mid", ".musicxml"):
        out = tmp_path / f"melody{suffix}"
        r = _spanmix("music", "generate", "--weights", tmp_path / "lm", "--chords", "Am Dm | E7 Am", "--bars", "4",
                     "--output", out, "--seed", "0", "--meter", "3/4")
        assert r.returncode == 0 and out.stat().st_size > 100, r.stderr[-2000:]
    from spanmix.apps.music.convert import read

    sheet = read(tmp_path / "melody.musicxml")
    assert sheet.meter == (3, 4) and sheet.length == 12 and sheet.key == "A minor"


def test_generate_errors_name_the_flag(tmp_path):
    r = _spanmix("music", "generate", "--weights", tmp_path / "none", "--chords", "C G", "--bars", "2",
                 "--output", tmp_path / "x.mid")
    assert r.returncode == 2 and "weights not found" in r.stderr and "Traceback" not in r.stderr
    r = _spanmix("music", "generate", "--weights", tmp_path, "--chords", "C Q", "--bars", "2", "--output", "x.mid")
    assert r.returncode == 2 and "unknown chord 'Q'" in r.stderr
    r = _spanmix("music", "generate", "--weights", tmp_path, "--chords", "C", "--bars", "2", "--output", "x.png")
    assert r.returncode == 2 and "--output" in r.stderr


@pytest.mark.slow
def test_adapter_experiment_configs_pretrain_then_adapt(tmp_path):
    """The issue #19 configs: the base (no O'Neill) trains, and the O'Neill config loads it and trains adapters."""
    tiny = ["--trainer.max_steps", "2", "--trainer.limit_val_batches", "1", "--trainer.enable_progress_bar", "false",
            "--model.init_args.model_options", '{"dim": 32, "schedule": "local*3,full", "window": 16, "max_len": 256}']
    configs = ROOT / "apps/music/configs"
    r = _spanmix("music", "fit", "--config", configs / "melody_lm_essen_chorales.yaml", *tiny,
                 "--trainer.default_root_dir", tmp_path / "base")
    assert r.returncode == 0, r.stderr[-2000:]
    base = tmp_path / "base/checkpoints/last.ckpt"
    r = _spanmix("music", "fit", "--config", configs / "melody_lm_oneill_adapt.yaml", *tiny,
                 "--trainer.default_root_dir", tmp_path / "adapt", "--model.init_args.pretrained", base,
                 "--model.init_args.adapters", '{"kind": "transformer", "size": 8}')
    assert r.returncode == 0 and f"weights from {base}" in r.stdout + r.stderr, r.stderr[-2000:]
    import torch

    state = torch.load(tmp_path / "adapt/checkpoints/last.ckpt", map_location="cpu", weights_only=True)["state_dict"]
    before = torch.load(base, map_location="cpu", weights_only=True)["state_dict"]
    assert any(k.startswith("net.adapters.") for k in state)
    for k, v in before.items():  # the base stayed frozen
        torch.testing.assert_close(state[k], v)
