"""Regenerate the genomics weights shipped in ``pretrained/genomics/`` (used by the demo tab), and the
Oct4-vs-Mafk comparison of pretrained+fine-tuned vs from-scratch HyenaDNA vs the CNN baseline.

    python demos/train_genomics_weights.py                   # ~30 min on 2 shared CPU cores
    python demos/train_genomics_weights.py --skip-pretrain   # reuse the shipped LM, redo the classifiers

Steps (each a ``spanmix genomics`` command on our configs, runs in ``runs/genomics/<name>``, removed first):

1. ``hyenadna_tiny_ecoli``: ``fit --config apps/genomics/configs/pretrain_ecoli_tiny1k.yaml`` (HyenaDNA tiny-1k,
   E. coli MG1655, warm-up 256 -> 1024); the best checkpoint (lowest ``val/loss``) is exported to
   ``pretrained/genomics/hyenadna_tiny_ecoli`` and its held-out **test** bits/nt measured;
2. ``hyenadna_tiny_oct4_mafk``: ``fit --config finetune_oct4_mafk.yaml --model.init_args.pretrained
   pretrained/genomics/hyenadna_tiny_ecoli``, exported to ``pretrained/genomics/hyenadna_tiny_oct4_mafk``;
3. ``scratch_oct4_mafk`` (same config, no pretrained weights) and ``cnn_oct4_mafk`` (``cnn_oct4_mafk.yaml``):
   trained and tested, not shipped.

Test metrics come from loading each export/best checkpoint and Lightning's test loop on the test split;
``pretrained/genomics/METRICS.md`` and ``pretrained/genomics/results.json`` are rewritten at the end.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "pretrained" / "genomics"
CFG = "apps/genomics/configs"
LM_NAME = "hyenadna_tiny_ecoli"


def _fit(name: str, config: str, *extra: str) -> tuple[Path, list[str], float]:
    run = ROOT / "runs" / "genomics" / name
    shutil.rmtree(run, ignore_errors=True)
    cmd = [
        "spanmix",
        "genomics",
        "fit",
        "--config",
        f"{CFG}/{config}",
        *extra,
        "--experiment",
        name,
        "--trainer.enable_progress_bar",
        "false",
    ]
    print("$", " ".join(cmd), flush=True)
    started = time.time()
    subprocess.run([sys.executable, "-m", "spanmix.apps.cli", *cmd[1:]], cwd=ROOT, check=True)
    from spanmix.apps.harness.checkpoint import find_best_checkpoint

    return Path(find_best_checkpoint(str(run / "checkpoints"))), cmd, round(time.time() - started, 1)


def _test(task, dm) -> dict[str, float]:
    import lightning as L

    trainer = L.Trainer(
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    return {k: float(v) for k, v in trainer.test(task, datamodule=dm, verbose=False)[0].items()}


def main() -> int:
    import yaml
    from spanmix.apps.genomics.data import ClassificationDataModule, PretrainDataModule
    from spanmix.apps.genomics.task import ClassifyTask
    from spanmix.apps.harness.export import export_checkpoint, load_pretrained, update_pretrained_metadata

    results: dict[str, dict] = {}
    # 1. pretraining (``--skip-pretrain``: reuse the existing export and its recorded test metrics)
    if "--skip-pretrain" in sys.argv and (OUT / LM_NAME / "config.json").is_file():
        demo = json.loads((OUT / LM_NAME / "config.json").read_text())["metadata"]["demo"]
        results[LM_NAME] = {k: demo[k] for k in ("command", "train_seconds", "test")}
        test = demo["test"]
    else:
        best, cmd, secs = _fit(LM_NAME, "pretrain_ecoli_tiny1k.yaml")
        lm_dir = export_checkpoint(best, OUT / LM_NAME)
        data = yaml.safe_load((ROOT / CFG / "pretrain_ecoli_tiny1k.yaml").read_text())["data"]["init_args"]
        test = _test(load_pretrained(lm_dir), PretrainDataModule(**data))
        results[LM_NAME] = {"command": " ".join(cmd), "train_seconds": secs, "test": test}
        update_pretrained_metadata(lm_dir, demo={
            "task": "pretrain",
            "data": "E. coli MG1655 test region (last 5% of the genome), 64 evenly spaced 1,024-bp windows",
            **results[LM_NAME],
        })
    print(LM_NAME, test, flush=True)

    # 2./3. classification
    cls_data = yaml.safe_load((ROOT / CFG / "finetune_oct4_mafk.yaml").read_text())["data"]["init_args"]
    dm = ClassificationDataModule(**cls_data)
    runs = {
        "hyenadna_tiny_oct4_mafk": (
            "finetune_oct4_mafk.yaml",
            "--model.init_args.pretrained",
            str((OUT / LM_NAME).relative_to(ROOT)),
        ),
        "scratch_oct4_mafk": ("finetune_oct4_mafk.yaml",),
        "cnn_oct4_mafk": ("cnn_oct4_mafk.yaml",),
    }
    for name, (config, *extra) in runs.items():
        best, cmd, secs = _fit(name, config, *extra)
        if name == "hyenadna_tiny_oct4_mafk":
            out = export_checkpoint(best, OUT / name)
            task = load_pretrained(out)
        else:
            out, task = None, None
            ckpt = __import__("torch").load(best, map_location="cpu", weights_only=True)
            task = ClassifyTask(
                **{k: v for k, v in ckpt["hyper_parameters"].items() if not k.startswith("_")}
            )
            task.load_state_dict(ckpt["state_dict"])
        test = _test(task, dm)
        results[name] = {"command": " ".join(cmd), "train_seconds": secs, "test": test}
        if out is not None:
            update_pretrained_metadata(out, demo={"task": "classify", "classes": ["Oct4", "Mafk"], **results[name]})
        print(name, test, flush=True)

    (OUT / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    write_metrics(results)
    return 0


def write_metrics(results: dict) -> None:
    lm = results[LM_NAME]
    rows = [
        f"| `{n}` | {r['test']['test/accuracy']:.4f} | {r['test']['test/mcc']:.4f} | {r['train_seconds']:.0f} | "
        f"`{r['command']}` |"
        for n, r in results.items()
        if n != LM_NAME
    ]
    text = (
        "# Shipped genomics weights\n\n"
        "Trained on this machine's CPU (2 cores shared with other jobs) by `python demos/train_genomics_weights.py`.\n\n"
        f"## `{LM_NAME}`: HyenaDNA tiny-1k LM on E. coli MG1655\n\n"
        f"`{lm['command']}` ({lm['train_seconds']:.0f} s). Held-out test region (last 5% of the genome, never in a "
        f"training window), 64 evenly spaced 1,024-bp windows: **{lm['test']['test/bits_per_nt']:.4f} bits/nt** (uniform over "
        f"A/C/G/T = 2.0), next-base accuracy {lm['test']['test/accuracy']:.4f}.\n\n"
        "## Oct4 vs Mafk ChIP-seq peaks (200 bp; seeded stratified 80/10/10 split; test split)\n\n"
        "`hyenadna_tiny_oct4_mafk` is shipped (fine-tuned from the LM above); the other rows are the comparison "
        "(same split, same 40 optimiser steps of 64 peaks).\n\n"
        "| run | test accuracy | test MCC | train s | command |\n|---|---|---|---|---|\n"
        + "\n".join(rows)
        + "\n"
    )
    (OUT / "METRICS.md").write_text(text)


if __name__ == "__main__":
    sys.exit(main())
