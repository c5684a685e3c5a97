"""Multi-process training is Lightning's: 2-process DDP on CPU (gloo) through the harness CLI."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TOY_APP = Path(__file__).with_name("toy.py")


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_two_process_ddp_on_cpu(write_config, tmp_path):
    cfg = write_config("ddp", max_steps=3, strategy="ddp", devices=2, val_check_interval=3)
    reports = tmp_path / "reports"
    reports.mkdir()
    env = {**os.environ, "TOY_REPORT_DIR": str(reports), "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    # Run as a script, the way users launch DDP: Lightning re-executes the same command for rank 1.
    proc = subprocess.run([sys.executable, str(TOY_APP), "fit", "--config", str(cfg)], cwd=tmp_path, env=env,
                          check=False, capture_output=True, text=True, timeout=110)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ranks = [json.loads((reports / f"rank{r}.json").read_text()) for r in (0, 1)]
    for rank, report in enumerate(ranks):
        assert report["rank"] == rank and report["world_size"] == 2 and report["strategy"] == "DDPStrategy"
        assert report["global_step"] == 3
    assert ranks[0]["params"] == ranks[1]["params"]  # gradients were all-reduced: replicas stayed identical
    root = tmp_path / "runs" / "toy" / "ddp"
    assert (root / "checkpoints" / "last.ckpt").is_file()
    assert sorted(p.name for p in (root / "csv").iterdir()) == ["version_0"]  # one run, logged by rank 0
