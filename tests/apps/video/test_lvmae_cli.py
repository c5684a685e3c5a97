"""``spanmix video lvmae fit|probe`` end to end, offline, on the shipped composited videos and on precomputed
embeddings in the official layout; bad options are one line, exit 2."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[3]
CONFIGS = ROOT / "apps" / "video" / "lvmae" / "configs"
QUICK = ["--trainer.max_epochs", "1", "--data.videos_per_split", "2", "--trainer.enable_progress_bar", "false"]


def _cli(tmp_path, *args):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "SPANMIX_CACHE": str(tmp_path / "cache")}
    return subprocess.run([sys.executable, "-m", "spanmix.apps.cli", "video", "lvmae", *args], cwd=tmp_path,
                          capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.slow
def test_fit_then_probe_on_the_shipped_videos(tmp_path):
    r = _cli(tmp_path, "fit", "--config", str(CONFIGS / "lvmae_composite_tiny.yaml"), *QUICK)
    assert r.returncode == 0, r.stderr[-2000:]
    ckpt = tmp_path / "runs" / "video_lvmae" / "lvmae_composite_tiny" / "checkpoints" / "last.ckpt"
    assert ckpt.is_file()
    assert len(list((tmp_path / "cache" / "video" / "lvmae").glob("*.safetensors"))) == 6  # 2 videos x 3 splits
    r = _cli(tmp_path, "probe", "--config", str(CONFIGS / "probe_composite_tiny.yaml"), *QUICK)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "test/acc" in r.stdout + r.stderr


@pytest.mark.slow
def test_fit_on_precomputed_embeddings_in_the_official_layout(tmp_path):
    root = tmp_path / "emb"
    for split in ("train", "val", "test"):
        rows = []
        for v in range(2):
            d = root / split / f"vid{v}"
            d.mkdir(parents=True)
            paths = []
            for s in range(6):
                torch.save({"embedding": torch.randn(16)}, d / f"{s:05d}_langbind_output.pt")
                paths.append(f"{split}/vid{v}/{s:05d}_langbind_output.pt")
            rows.append(f'"{paths}",6,{v},class{v}')
        (root / f"{split}.csv").write_text("segment_paths,number_of_segments,label,label_name\n" + "\n".join(rows) + "\n")
    r = _cli(tmp_path, "fit", "--config", str(CONFIGS / "lvmae_composite_tiny.yaml"), "--data.source", "precomputed",
             "--data.root", str(root), "--model.model_options.input_dim", "16", *QUICK)
    assert r.returncode == 0, r.stderr[-2000:]
