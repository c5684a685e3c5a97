"""Exact resume for LV-MAE pretraining: a fit SIGKILLed mid-epoch and resumed with ``--ckpt_path last`` ends
with the same weights, bit for bit, as a run never interrupted (random windows and random masking included).
Uses the harness's own runner and killer (tests/apps/harness/cli_cases.py, killer.py)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

HARNESS = Path(__file__).resolve().parents[1] / "harness"
CONFIG = Path(__file__).resolve().parents[3] / "apps" / "video" / "lvmae" / "configs" / "lvmae_composite_tiny.yaml"
COMMON = ["--trainer.max_epochs", "2", "--resume_every_n_steps", "3", "--trainer.num_sanity_val_steps", "0",
          "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
          "--data.videos_per_split", "2", "--data.windows_per_video", "4", "--data.batch_size", "2",
          "--model.model_options.masking", "random"]


@pytest.mark.slow
def test_killed_pretraining_resumes_bit_for_bit(tmp_path, lvmae_cache):
    env = {"PYTHONPATH": str(HARNESS), "SPANMIX_CACHE": str(lvmae_cache)}

    def argv(name, *extra):
        return ["video", "lvmae", "fit", "--config", str(CONFIG), *COMMON, "--experiment", name, *extra]

    cases = {"straight": {"argv": argv("a"), "env": env},
             "killed": {"argv": argv("b", "--trainer.callbacks+=killer.KillAt", "--trainer.callbacks.step=5"),
                        "env": env},
             "resumed": {"argv": argv("b", "--ckpt_path", "last"), "env": env}}
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    subprocess.run([sys.executable, str(HARNESS / "cli_cases.py"), str(tmp_path / "cases.json"),
                    str(tmp_path / "out.json")], cwd=tmp_path, check=True, timeout=600)
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["straight"]["code"] == 0, out["straight"]["stderr"][-3000:]
    assert out["killed"]["code"] == -9, out["killed"]["stderr"][-3000:]
    assert out["resumed"]["code"] == 0, out["resumed"]["stderr"][-3000:]
    runs = tmp_path / "runs" / "video_lvmae"
    a = torch.load(runs / "a/checkpoints/last.ckpt", weights_only=True)
    b = torch.load(runs / "b/checkpoints/last.ckpt", weights_only=True)
    assert a["global_step"] == b["global_step"] == 8
    for name, tensor in a["state_dict"].items():
        assert torch.equal(tensor, b["state_dict"][name]), f"{name} differs after the resume"
