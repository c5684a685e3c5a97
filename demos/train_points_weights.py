"""Regenerate the points weights shipped in ``pretrained/points/`` (used by the Points tab and
``spanmix points classify``) and ``pretrained/points/METRICS.md``.

    python demos/train_points_weights.py                     # every entry of ENTRIES (about an hour on 2 shared cores)
    python demos/train_points_weights.py --skip-fit          # export + test the runs already in runs/points/<entry>

Each entry of ``ENTRIES`` is one of our configs plus command-line overrides (the shape of the shared
weights builder's table): ``spanmix points fit --config <config> <overrides> --experiment <entry>``; the best
checkpoint (lowest ``val/loss``) is exported to ``pretrained/points/<entry>`` and scored on the test split
(with and without voting) by Lightning's test loop.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "pretrained" / "points"

#: entry -> (config, overrides, task); the demo uses the first "cls" entry (and a "partseg" one if present)
ENTRIES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "gpsformer_kicad": ("apps/points/configs/gpsformer_kicad.yaml", (), "cls"),
}


def _fit(name: str, config: str, overrides: tuple[str, ...]) -> tuple[list[str], float]:
    cmd = ["spanmix", "points", "fit", "--config", config, *overrides, "--experiment", name,
           "--trainer.enable_progress_bar", "false"]
    print("$", " ".join(cmd), flush=True)
    started = time.time()
    subprocess.run([sys.executable, "-m", "spanmix.apps.cli", *cmd[1:]], cwd=ROOT, check=True)
    return cmd, round(time.time() - started, 1)


def _test(task, config: str, overrides: tuple[str, ...]) -> dict[str, float]:
    import lightning as L
    import yaml
    from spanmix.apps.points.data import PointDataModule

    data = dict(yaml.safe_load((ROOT / config).read_text())["data"])
    dm = PointDataModule(**data)
    trainer = L.Trainer(accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False)
    return {k: round(float(v), 4) for k, v in trainer.test(task, datamodule=dm, verbose=False)[0].items()}


def main() -> int:
    from spanmix.apps.harness.checkpoint import find_best_checkpoint
    from spanmix.apps.harness.export import export_checkpoint, load_pretrained, update_pretrained_metadata

    rows = []
    for name, (config, overrides, task_kind) in ENTRIES.items():
        if "--skip-fit" in sys.argv:
            cmd = ["spanmix", "points", "fit", "--config", config, *overrides]
            seconds = None
        else:
            cmd, seconds = _fit(name, config, overrides)
        run = ROOT / "runs" / "points" / (name if "--skip-fit" not in sys.argv else Path(config).stem)
        best = find_best_checkpoint(str(run / "checkpoints"))
        out = export_checkpoint(best, OUT / name)
        task = load_pretrained(out)
        test = _test(task, config, overrides)
        params = sum(p.numel() for p in task.net.parameters())
        update_pretrained_metadata(out, demo={"command": " ".join(cmd), "train_seconds": seconds, "test": test,
                                              "parameters": params}, points_task=task_kind)
        rows.append((name, config, cmd, seconds, test, params, Path(best).name))
        print(name, json.dumps(test), flush=True)
    lines = ["# Shipped points weights", "",
             "Trained on this machine's CPU (2 cores shared with up to 7 other jobs; load average 15-20) by "
             "`python demos/train_points_weights.py`, on the shipped KiCad set (`datasets/samples/points_kicad.npz`: "
             "10 classes, 240 train / 40 val / 80 test models, split by model). Test split, best checkpoint by "
             "`val/loss`; `_vote`: softmax averaged over the cloud and 4 copies scaled by U(0.85, 1.15) per axis.", "",
             "| entry | parameters | test OA | test mAcc | OA (vote) | mAcc (vote) | train s | checkpoint | command |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, config, cmd, seconds, test, params, ckpt in rows:
        lines.append(f"| `{name}` | {params:,} | {test.get('test/oa', float('nan')):.4f} | "
                     f"{test.get('test/macc', float('nan')):.4f} | {test.get('test/oa_vote', float('nan')):.4f} | "
                     f"{test.get('test/macc_vote', float('nan')):.4f} | {seconds} | `{ckpt}` | `{' '.join(cmd)}` |")
    (OUT / "METRICS.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
