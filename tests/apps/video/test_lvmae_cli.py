"""``spanmix video lvmae fit|probe`` end to end, offline, on the shipped composited videos and on precomputed
embeddings in the official layout (bad options: test_lvmae_commands.py)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[3]
CONFIGS = ROOT / "apps" / "video" / "lvmae" / "configs"
QUICK = ["--trainer.max_epochs", "1", "--data.videos_per_split", "2", "--trainer.enable_progress_bar", "false"]
HARNESS = Path(__file__).resolve().parents[1] / "harness"


def _official_layout(root: Path) -> None:
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


@pytest.mark.slow
def test_fit_probe_and_precomputed_fit_offline(tmp_path, lvmae_cache):
    """One process imports once and forks per command (tests/apps/harness/cli_cases.py); the commands run in order."""
    _official_layout(tmp_path / "emb")
    env = {"OMP_NUM_THREADS": "1", "SPANMIX_CACHE": str(lvmae_cache)}
    pre, probe = str(CONFIGS / "lvmae_composite_tiny.yaml"), str(CONFIGS / "probe_composite_tiny.yaml")
    cases = {
        "fit": ["fit", "--config", pre, *QUICK],
        "probe_fit": ["probe", "fit", "--config", probe, *QUICK],
        "probe_test": ["probe", "test", "--config", probe, *QUICK, "--ckpt_path", "best"],
        "precomputed": ["fit", "--config", pre, "--data.source", "precomputed", "--data.root", str(tmp_path / "emb"),
                        "--model.model_options.input_dim", "16", "--experiment", "pre", *QUICK],
    }
    (tmp_path / "cases.json").write_text(json.dumps({k: {"argv": ["video", "lvmae", *v], "env": env}
                                                     for k, v in cases.items()}))
    subprocess.run([sys.executable, str(HARNESS / "cli_cases.py"), str(tmp_path / "cases.json"),
                    str(tmp_path / "out.json")], cwd=tmp_path, check=True, timeout=600)
    out = json.loads((tmp_path / "out.json").read_text())
    for name in cases:
        assert out[name]["code"] == 0, (name, out[name]["stderr"][-2000:])
    assert (tmp_path / "runs/video_lvmae/lvmae_composite_tiny/checkpoints/last.ckpt").is_file()
    best = list((tmp_path / "runs/video_lvmae_probe/probe_composite_tiny/checkpoints").glob("best-*.ckpt"))
    assert len(best) == 1
    metrics = (tmp_path / "runs/video_lvmae_probe/probe_composite_tiny/csv").rglob("metrics.csv")
    assert any("test/acc" in p.read_text() for p in metrics)
    assert (tmp_path / "runs/video_lvmae/pre/checkpoints/last.ckpt").is_file()
