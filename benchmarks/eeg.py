"""DBConformer vs EEGNet vs EEG Conformer: accuracy under CO / CV / LOSO, parameter counts, seconds per epoch.

    python benchmarks/eeg.py                                   # the default budget (below)
    python benchmarks/eeg.py --epochs 60 --seeds 0 1 2         # closer to the paper (200 epochs, 5 seeds)
    python benchmarks/eeg.py --models dbconformer --settings loso --quick

Data: the shipped **SIMULATED** motor-imagery set (4 subjects x 60 trials, 13 channels, 128 Hz, 3 s; left
vs right hand) under the paper's three settings (chronological 80/20 per subject, 5-fold CV within subject,
leave-one-subject-out), and the shipped **real** MNE sample EEG (one subject, 28 epochs, 60 channels,
200 Hz; auditory vs visual) under CO and 5-fold CV (LOSO needs several subjects). Each model uses its
config in ``apps/eeg/configs/<model>_<dataset>.yaml`` (the paper's architecture, kernel and pooling lengths
scaled to the sampling rate), Euclidean alignment per subject, AdamW at the config's learning rate, a fixed
number of epochs and the last model scored (no selection on the test split), every split from scratch.
Results: mean ± std over seeds of the mean over subjects (per-subject tables too), accuracy, balanced
accuracy and Cohen's kappa; parameter counts at the data's shape and at the BCI IV 2a shape (22 channels,
4 classes, 1000 samples); seconds per training epoch (median over epochs after the first).

Writes ``benchmarks/results/eeg.md``. The default budget (20 epochs, 1 seed) is far below the paper's (200
epochs, 5 seeds) so that it fits a shared 2-core CPU; the header of the table says which budget was run.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "eeg.md"
MODELS = ("dbconformer", "eegnet", "eeg_conformer")
LABELS = {"dbconformer": "DBConformer", "eegnet": "EEGNet-8,2", "eeg_conformer": "EEG Conformer"}
PLAN = {"simulated_mi": ("co", "loso", "cv"), "mne_sample": ("co", "cv")}


def _config(model: str, dataset: str) -> dict:
    return yaml.safe_load((ROOT / "apps" / "eeg" / "configs" / f"{model}_{dataset}.yaml").read_text())


def main(argv: list[str] | None = None) -> int:
    from spanmix.apps.eeg.evaluation import format_report, run_evaluation
    from spanmix.apps.eeg.models import build_eeg_model, count_parameters

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--datasets", nargs="+", default=list(PLAN), choices=list(PLAN))
    parser.add_argument("--settings", nargs="+", default=["co", "cv", "loso"], choices=["co", "cv", "loso"])
    parser.add_argument("--cv-scheme", default="kfold", choices=["kfold", "blocks"],
                        help="kfold: the official KFold(5) over all trials in order; blocks: per-class blocks "
                             "(the scheme of tables written before 2026-12-03)")
    parser.add_argument("--alignment", default="online", choices=["online", "offline"],
                        help="how held-out epochs are Euclidean-aligned (offline: tables written before 2026-12-03)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--quick", action="store_true", help="2 epochs: a smoke run of the whole table")
    parser.add_argument("--out", type=Path, default=OUT)
    ns = parser.parse_args(argv)
    epochs = 2 if ns.quick else ns.epochs
    started = time.time()
    load = os.getloadavg()[0]
    summary, details, counts = [], [], []
    for model in ns.models:
        bci = count_parameters(build_eeg_model(model, n_chans=22, n_outputs=4, n_times=1000, sfreq=250.0))
        counts.append((model, bci))
    for dataset in ns.datasets:
        for setting in [s for s in PLAN[dataset] if s in ns.settings]:
            for model in ns.models:
                cfg = _config(model, dataset)
                report = run_evaluation(model, cfg["model"].get("model_options"), dataset=dataset, setting=setting,
                                        seeds=ns.seeds, max_epochs=epochs, lr=cfg["model"].get("lr", 1e-3),
                                        batch_size=cfg["data"].get("batch_size", 32), cv_scheme=ns.cv_scheme,
                                        alignment=ns.alignment, verbose=True)
                o = report.overall()
                summary.append(f"| {dataset} | {setting.upper()} | {LABELS[model]} | {report.n_parameters:,} | "
                               f"{100 * o['acc'][0]:.1f} ± {100 * o['acc'][1]:.1f} | "
                               f"{100 * o['bal_acc'][0]:.1f} ± {100 * o['bal_acc'][1]:.1f} | "
                               f"{o['kappa'][0]:.3f} ± {o['kappa'][1]:.3f} | {report.seconds_per_epoch:.2f} |")
                details.append(format_report(report))
                print(summary[-1], flush=True)
                _write(ns, epochs, load, started, summary, details, counts)
    _write(ns, epochs, load, started, summary, details, counts, done=True)
    print("wrote", ns.out)
    return 0


def _write(ns, epochs, load, started, summary, details, counts, done: bool = False) -> None:
    db = dict(counts).get("dbconformer")
    conf = dict(counts).get("eeg_conformer")
    ratio = f" EEG Conformer / DBConformer = **{conf / db:.2f}x**." if db and conf else ""
    text = [
        "# EEG decoding: DBConformer vs EEGNet vs EEG Conformer",
        "",
        f"`python benchmarks/eeg.py {' '.join(sys.argv[1:])}`".replace("  ", " "),
        "",
        f"**Budget: {epochs} epochs per split, seeds {ns.seeds}** (the paper: 200 epochs, 5 seeds, lr 1e-4) on a "
        f"shared {os.cpu_count()}-core CPU ({platform.processor() or platform.machine()}, torch "
        f"{torch.__version__}, load average {load:.1f} at the start); "
        f"{'complete' if done else 'PARTIAL (still running)'}, {(time.time() - started) / 60:.0f} min. "
        "`simulated_mi` is SIMULATED motor imagery (mne.simulation), `mne_sample` is real EEG (one subject, "
        "28 epochs: its numbers are very noisy). Accuracy and balanced accuracy in %, mean ± std over seeds "
        "of the mean over subjects; seconds per training epoch are wall time on the loaded CPU.",
        "",
        "## Parameters at the BCI IV 2a shape (22 channels, 4 classes, 1000 samples at 250 Hz)",
        "",
        "| model | parameters |",
        "|---|---|",
        *[f"| {LABELS[m]} | {n:,} |" for m, n in counts],
        "",
        f"braindecode's EEGConformer has 789,572 at this shape.{ratio}",
        "",
        "## Accuracy",
        "",
        "| data | setting | model | parameters | accuracy | balanced accuracy | kappa | s / epoch |",
        "|---|---|---|---|---|---|---|---|",
        *summary,
        "",
        "## Per subject",
        "",
        *[d + "\n" for d in details],
    ]
    ns.out.parent.mkdir(parents=True, exist_ok=True)
    ns.out.write_text("\n".join(text) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
