"""``spanmix eeg evaluate``: the paper's per-subject protocol from a fit config, with per-subject and overall results.

    spanmix eeg evaluate --config apps/eeg/configs/dbconformer_bnci2014001.yaml               # CO, every subject
    spanmix eeg evaluate --config apps/eeg/configs/dbconformer_bnci2014001_cv.yaml --seeds 0 1 2
    spanmix eeg evaluate --config apps/eeg/configs/eeg_conformer_bnci2014001.yaml              # T -> E per subject
    spanmix eeg evaluate --config apps/eeg/configs/eegnet_simulated_mi.yaml --setting loso --max-epochs 5

``spanmix eeg fit`` trains one model (all subjects pooled, or one with ``--data.subject``); the papers train
one model per subject (CO, CV; one per held-out subject in LOSO) for a fixed number of epochs and score the
last one. This command reads the same YAML config (``model``, ``data``, ``trainer.max_epochs``) and runs
:func:`spanmix.apps.eeg.evaluation.run_evaluation` over every subject (or ``--subjects``) and seed. The
protocol is the config's ``data.setting`` (``co``/``cv``/``loso``), or ``session`` when the config sets
``data.test_session`` (EEG Conformer's T -> E); ``--setting`` overrides it. The validation share of the
config is not used (the protocol has no model selection).

Writes to ``--out`` (default ``runs/eeg/<config stem>/evaluate_<setting>``): ``rows.csv`` (one row per seed
and split), ``per_subject.csv`` (mean and std over seeds), ``overall.json`` and ``report.md`` (the table that
is also printed).
"""
from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from spanmix.apps.harness.errors import SpanmixError

__all__ = ["main"]

#: data options of the config that choose the split: the protocol sets them per split instead
SPLIT_OPTIONS = {"setting", "subject", "fold", "n_folds", "seed", "val_fraction", "test_session", "align", "alignment",
                 "cv_scheme", "batch_size", "num_workers", "train_index", "test_index", "epochs"}
TASK_OPTIONS = ("weight_decay", "betas", "sr_segments", "label_smoothing")


def _read_config(path: str) -> dict[str, Any]:
    try:
        with open(path) as f:
            config = yaml.safe_load(f)
    except FileNotFoundError:
        raise SpanmixError(f"--config {path}: no such file; expected an EEG fit config such as "
                           "apps/eeg/configs/eegnet_simulated_mi.yaml") from None
    except yaml.YAMLError as e:
        raise SpanmixError(f"--config {path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(config, dict) or not isinstance(config.get("model"), dict) or "model" not in config["model"]:
        raise SpanmixError(f"--config {path}: expected an EEG fit config with model.model (and data.dataset)")
    return config


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="spanmix eeg evaluate",
                                description="Per-subject evaluation (CO / CV / LOSO / session) of an EEG config.")
    p.add_argument("--config", required=True, help="the YAML config of `spanmix eeg fit`")
    p.add_argument("--setting", choices=("co", "cv", "loso", "session"), default=None,
                   help="protocol (default: session if the config sets data.test_session, else data.setting)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--subjects", type=int, nargs="+", default=None, help="tested subjects (default: all)")
    p.add_argument("--max-epochs", type=int, default=None, help="epochs per split (default: trainer.max_epochs)")
    p.add_argument("--test-session", default=None, help="held-out session of --setting session (default: the config's)")
    p.add_argument("--out", default=None, help="output folder (default: runs/eeg/<config stem>/evaluate_<setting>)")
    p.add_argument("--quiet", action="store_true", help="no line per split")
    return p


def _write(report, out: Path) -> str:
    from spanmix.apps.eeg.evaluation import METRICS, format_report

    out.mkdir(parents=True, exist_ok=True)
    with open(out / "rows.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["seed", "split", "subject", *METRICS])
        w.writeheader()
        w.writerows(report.rows)
    with open(out / "per_subject.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["subject", *(f"{m}_{s}" for m in METRICS for s in ("mean", "std"))])
        for subject, m in report.per_subject().items():
            w.writerow([subject, *(v for k in METRICS for v in m[k])])
    overall = {"model": report.model, "dataset": report.dataset, "setting": report.setting,
               "seeds": list(report.seeds), "n_parameters": report.n_parameters,
               "seconds_per_epoch": report.seconds_per_epoch,
               **{m: {"mean": v[0], "std": v[1]} for m, v in report.overall().items()}}
    (out / "overall.json").write_text(json.dumps(overall, indent=1) + "\n")
    table = format_report(report)
    (out / "report.md").write_text(table + "\n")
    return table


def main(argv: Sequence[str]) -> int:
    """Run ``spanmix eeg evaluate ...`` (module docstring); errors reach the dispatcher (one line, exit 2)."""
    ns = _parser().parse_args(list(argv))
    config = _read_config(ns.config)
    model, data = config["model"], dict(config.get("data") or {})
    test_session = ns.test_session or data.get("test_session")
    setting = ns.setting or ("session" if test_session else data.get("setting", "co"))
    max_epochs = ns.max_epochs or (config.get("trainer") or {}).get("max_epochs") or 50
    if max_epochs < 1:
        raise SpanmixError(f"--max-epochs must be >= 1, got {max_epochs}")
    from spanmix.apps.eeg.evaluation import run_evaluation

    report = run_evaluation(
        model["model"], model.get("model_options"), dataset=data.pop("dataset", "simulated_mi"), setting=setting,
        seeds=ns.seeds, subjects=ns.subjects, max_epochs=max_epochs, lr=model.get("lr", 1e-3),
        batch_size=data.get("batch_size", 32), align=data.get("align", True),
        alignment=data.get("alignment", "online"), n_folds=data.get("n_folds", 5),
        cv_scheme=data.get("cv_scheme", "kfold"), test_session=test_session,
        task_options={k: model[k] for k in TASK_OPTIONS if k in model},
        data_options={k: v for k, v in data.items() if k not in SPLIT_OPTIONS}, verbose=not ns.quiet)
    out = Path(ns.out) if ns.out else Path("runs/eeg") / Path(ns.config).stem / f"evaluate_{setting}"
    print(_write(report, out))
    print(f"written to {out}/ (rows.csv, per_subject.csv, overall.json, report.md)")
    return 0
