"""Regenerate the small DBConformer weights shipped in ``pretrained/eeg/`` (used by the EEG tab of the hub).

    python demos/train_eeg_weights.py                              # both entries
    python demos/train_eeg_weights.py dbconformer_mne_sample       # only these
    python demos/train_eeg_weights.py --list

Each entry is one of our configs trained unchanged (seed 0):

1. ``spanmix eeg fit --config apps/eeg/configs/<entry>.yaml --experiment <entry>`` (in ``runs/eeg/<entry>``,
   removed first): the chronological 80/20 split of every subject, 20 % of the training part for validation;
2. the best checkpoint (lowest ``val/loss``) exported to ``pretrained/eeg/<entry>/`` (safetensors + JSON);
3. the export loaded back with ``load_pretrained`` and scored on the test split with Lightning's test loop;
   ``config.json``'s ``metadata.demo`` records the command, the data (channels, rate, window, classes,
   events) and the test accuracy / balanced accuracy / kappa. ``pretrained/eeg/METRICS.md`` is rewritten.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "pretrained" / "eeg"
CONFIGS = "apps/eeg/configs"
ENTRIES = {
    "dbconformer_mne_sample": "dbconformer_mne_sample.yaml",
    "dbconformer_simulated_mi": "dbconformer_simulated_mi.yaml",
}
LABELS = {
    "dbconformer_mne_sample": "DBConformer · MNE sample EEG (real): auditory vs visual",
    "dbconformer_simulated_mi": "DBConformer · motor imagery (SIMULATED): left vs right hand",
}


def _config(name: str) -> dict:
    return yaml.safe_load((ROOT / CONFIGS / ENTRIES[name]).read_text(encoding="utf-8"))


def _command(name: str) -> list[str]:
    return ["spanmix", "eeg", "fit", "--config", f"{CONFIGS}/{ENTRIES[name]}", "--experiment", name]


def train(name: str) -> Path:
    import lightning as L
    from spanmix.apps.eeg.data import EEGDataModule
    from spanmix.apps.harness.checkpoint import find_best_checkpoint
    from spanmix.apps.harness.export import export_checkpoint, load_pretrained, update_pretrained_metadata

    run_dir = ROOT / "runs" / "eeg" / name
    shutil.rmtree(run_dir, ignore_errors=True)
    command = _command(name)
    print("$", " ".join(command), flush=True)
    started = time.time()
    subprocess.run([sys.executable, "-m", "spanmix.apps.cli", *command[1:]], cwd=ROOT, check=True)
    seconds = round(time.time() - started, 1)
    out = OUT_DIR / name
    export_checkpoint(find_best_checkpoint(str(run_dir / "checkpoints")), out)

    data = _config(name)["data"]
    dm = EEGDataModule(**data)
    task = load_pretrained(out)
    trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    result = trainer.test(task, datamodule=dm, verbose=False)[0]
    metrics = {k.split("/", 1)[1]: float(v) for k, v in result.items() if k.split("/", 1)[1] in ("acc", "bal_acc", "kappa")}
    ep = dm.epochs
    update_pretrained_metadata(out, demo={
        "label": LABELS[name],
        "model": _config(name)["model"]["model"],
        "dataset": data["dataset"],
        "simulated": bool(ep.meta.get("simulated")),
        "ch_names": list(ep.ch_names),
        "ch_pos": [[float(v) for v in p] for p in ep.ch_pos] if ep.ch_pos is not None else None,
        "sfreq": ep.sfreq,
        "tmin": ep.tmin,
        "tmax": ep.tmin + ep.n_times / ep.sfreq,
        "classes": list(ep.classes),
        "align": bool(data.get("align", True)),
        "split": "chronological 80/20 per subject and class (CO); 20 % of the training part validates",
        "test_epochs": len(dm.index["test"]),
        "test_metrics": metrics,
        "config_file": f"{CONFIGS}/{ENTRIES[name]}",
        "command": " ".join(command),
        "regenerate": f"python demos/train_eeg_weights.py {name}",
        "train_seconds": seconds,
        "trained_on": "cpu",
    })
    print(f"{name}: test {metrics}", flush=True)
    return out


def write_metrics_table() -> Path:
    from tab_common import demo_exports

    rows = []
    for folder, metadata in demo_exports(OUT_DIR):
        demo = metadata["demo"]
        t = demo["test_metrics"]
        size = (folder / "model.safetensors").stat().st_size
        rows.append(f"| `{folder.name}` | {demo['label']} | {demo['test_epochs']} | {100 * t['acc']:.1f} | "
                    f"{100 * t['bal_acc']:.1f} | {t['kappa']:.3f} | {size / 1024:.0f} KiB | `{demo['command']}` |")
    text = ("# Shipped EEG weights\n\n"
            "Small DBConformer weights trained by our configs (seed 0) for the EEG tab of the demo hub, on the shipped "
            "real MNE sample EEG (auditory vs visual; one subject, 28 epochs: its test split holds only 5 epochs, so "
            "read its score as a smoke test) and on the shipped SIMULATED motor-imagery set (4 subjects). Test scores "
            "are on the chronological 20 % of each subject and class, computed by loading the export with "
            "`load_pretrained` and Lightning's test loop. Regenerate with `python demos/train_eeg_weights.py`.\n\n"
            "| weights | what | test epochs | accuracy (%) | balanced accuracy (%) | kappa | size | command |\n"
            "|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n")
    path = OUT_DIR / "METRICS.md"
    path.write_text(text, encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help=f"entries (default: all): {', '.join(ENTRIES)}")
    parser.add_argument("--list", action="store_true")
    ns = parser.parse_args(argv)
    if ns.list:
        for name in ENTRIES:
            print(f"{name:28s} {' '.join(_command(name))}")
        return 0
    unknown = sorted(set(ns.names) - set(ENTRIES))
    if unknown:
        parser.error(f"unknown entries {unknown}; choose from {list(ENTRIES)}")
    for name in ns.names or list(ENTRIES):
        train(name)
    print("wrote", write_metrics_table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
