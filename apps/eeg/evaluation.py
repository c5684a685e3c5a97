"""The three evaluation settings of DBConformer (Wang et al. 2025, Sec. IV-B) and the runner that reports them.

- ``co``: within-subject **chronological order**: for each subject and class, the first 80 % of the
  trials (``ceil(0.8 n)``) train and the rest test (the official code's ``nsamples``);
- ``cv``: within-subject **5-fold cross-validation**. Default ``scheme="kfold"``, the official split
  (``KFold(n_splits=5, shuffle=False)`` over all of the subject's trials in recording order: fold ``k``
  tests on the ``k``-th contiguous fifth, the first ``n % 5`` folds one trial larger, as scikit-learn
  cuts them); ``scheme="blocks"`` cuts each class's trials into 5 contiguous blocks and fold ``k`` tests
  on block ``k`` of every class (stratified). ``shuffle=True`` shuffles first, with the seed;
- ``loso``: cross-subject **leave-one-subject-out**: train on every other subject, test on one;
- ``session``: within-subject **session transfer** (EEG Conformer's protocol on BCI IV 2a): each subject
  trains on its other sessions and tests on ``test_session`` (epochs that record their session only).

``spanmix eeg evaluate --config <the fit config>`` runs this from the command line (``apps/eeg/cli.py``).

    from spanmix.apps.eeg.evaluation import run_evaluation, format_report
    report = run_evaluation("dbconformer", dataset="simulated_mi", setting="loso", seeds=(0, 1), max_epochs=30)
    print(format_report(report))

Reported per subject (mean ± std over seeds) and overall (per seed, the mean over subjects; then
mean ± std over seeds, as the official scripts do): accuracy, balanced accuracy (macro recall,
``MulticlassAccuracy(average="macro")``) and Cohen's kappa. Training runs a fixed number of epochs
and the last model is scored (no model selection on the test split, as in the paper).
"""
from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["PROTOCOLS", "SETTINGS", "Split", "co_split", "cv_splits", "format_report", "loso_splits",
           "run_evaluation", "session_splits", "splits"]

SETTINGS = ("co", "cv", "loso")
PROTOCOLS = (*SETTINGS, "session")
METRICS = ("acc", "bal_acc", "kappa")


@dataclass(frozen=True)
class Split:
    """Indices into an :class:`~spanmix.datasets.eeg.EEGEpochs`; ``subject`` is the tested subject."""

    name: str
    subject: int
    train: np.ndarray
    test: np.ndarray


def _by_class(y: np.ndarray, index: np.ndarray) -> dict[int, np.ndarray]:
    return {int(c): index[y[index] == c] for c in np.unique(y[index])}


def co_split(y: np.ndarray, subject: np.ndarray, s: int, train_fraction: float = 0.8) -> Split:
    """Chronological within-subject split of subject ``s``: per class the first ``ceil(f·n)`` trials train."""
    if not 0 < train_fraction < 1:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction}")
    index = np.flatnonzero(subject == s)
    if index.size == 0:
        raise ValueError(f"subject {s} has no epochs; subjects are {sorted(set(subject.tolist()))}")
    train, test = [], []
    for idx in _by_class(y, index).values():
        k = min(len(idx) - 1, math.ceil(train_fraction * len(idx))) if len(idx) > 1 else 1
        train.append(idx[:k]), test.append(idx[k:])
    return Split(f"co/s{s}", s, np.sort(np.concatenate(train)), np.sort(np.concatenate(test)))


CV_SCHEMES = ("kfold", "blocks")


def cv_splits(y: np.ndarray, subject: np.ndarray, s: int, n_folds: int = 5, shuffle: bool = False,
              seed: int = 0, scheme: str = "kfold") -> list[Split]:
    """``n_folds``-fold split of subject ``s``: ``kfold`` (official: contiguous folds over all trials in
    order) or ``blocks`` (contiguous blocks per class, stratified); ``shuffle`` permutes first.

    The ``kfold`` folds equal ``sklearn.model_selection.KFold(n_folds)``'s (``np.array_split`` sizes);
    scikit-learn is not a dependency of the app for this one line."""
    if n_folds < 2:
        raise ValueError(f"n_folds must be >= 2, got {n_folds}")
    if scheme not in CV_SCHEMES:
        raise ValueError(f"unknown cross-validation scheme {scheme!r}; expected one of {CV_SCHEMES}")
    index = np.flatnonzero(subject == s)
    rng = np.random.default_rng(seed)
    if scheme == "kfold":
        if len(index) < n_folds:
            raise ValueError(f"subject {s} has {len(index)} trials, fewer than n_folds={n_folds}")
        order = rng.permutation(index) if shuffle else index
        return [Split(f"cv/s{s}/f{k}", s, np.setdiff1d(index, test), np.sort(test))
                for k, test in enumerate(np.array_split(order, n_folds))]
    groups = _by_class(y, index)
    if any(len(g) < n_folds for g in groups.values()):
        raise ValueError(f"subject {s} has a class with fewer than n_folds={n_folds} trials")
    folds: list[list[np.ndarray]] = [[] for _ in range(n_folds)]
    for idx in groups.values():
        idx = rng.permutation(idx) if shuffle else idx
        for k, block in enumerate(np.array_split(idx, n_folds)):
            folds[k].append(block)
    out = []
    for k in range(n_folds):
        test = np.sort(np.concatenate(folds[k]))
        out.append(Split(f"cv/s{s}/f{k}", s, np.setdiff1d(index, test), test))
    return out


def loso_splits(subject: np.ndarray) -> list[Split]:
    """One split per subject: train on all the others, test on it (no epoch of it is ever trained on)."""
    subjects = sorted(int(s) for s in np.unique(subject))
    if len(subjects) < 2:
        raise ValueError(f"leave-one-subject-out needs >= 2 subjects, got {subjects}")
    return [Split(f"loso/s{s}", s, np.flatnonzero(subject != s), np.flatnonzero(subject == s)) for s in subjects]


def session_splits(subject: np.ndarray, session: np.ndarray, test_session: str,
                   subjects: Sequence[int] | None = None) -> list[Split]:
    """One split per subject: train on its epochs of every other session, test on ``test_session``."""
    session = np.asarray(session).astype(str)
    chosen = sorted(int(s) for s in np.unique(subject)) if subjects is None else [int(s) for s in subjects]
    out = []
    for s in chosen:
        mine = subject == s
        test = mine & (session == str(test_session))
        if not test.any() or not (mine & ~test).any():
            raise ValueError(f"subject {s}: the session protocol needs epochs of session {test_session!r} and of "
                             f"another; its sessions are {sorted(set(session[mine].tolist()))}")
        out.append(Split(f"session/s{s}", s, np.flatnonzero(mine & ~test), np.flatnonzero(test)))
    return out


def splits(setting: str, y: np.ndarray, subject: np.ndarray, *, subjects: Sequence[int] | None = None,
           n_folds: int = 5, seed: int = 0, train_fraction: float = 0.8, cv_scheme: str = "kfold",
           session: np.ndarray | None = None, test_session: str | None = None) -> list[Split]:
    """Every split of ``setting`` (``co``, ``cv``, ``loso`` or ``session``), restricted to the tested
    ``subjects``; ``session`` needs each epoch's ``session`` and the ``test_session``."""
    if setting not in PROTOCOLS:
        raise ValueError(f"unknown evaluation setting {setting!r}; expected one of {PROTOCOLS}")
    chosen = sorted(int(s) for s in np.unique(subject)) if subjects is None else [int(s) for s in subjects]
    missing = sorted(set(chosen) - {int(s) for s in np.unique(subject)})
    if missing:
        raise ValueError(f"subjects {missing} are not in the data; its subjects are "
                         f"{sorted(int(s) for s in np.unique(subject))}")
    if setting == "session":
        if session is None or test_session is None:
            raise ValueError("the session protocol needs epochs that record their session (bnci2014001) and a "
                             "test session (--test-session, or data.test_session in the config)")
        return session_splits(subject, session, test_session, chosen)
    if setting == "co":
        return [co_split(y, subject, s, train_fraction) for s in chosen]
    if setting == "cv":
        return [sp for s in chosen for sp in cv_splits(y, subject, s, n_folds, seed=seed, scheme=cv_scheme)]
    return [sp for sp in loso_splits(subject) if sp.subject in chosen]


# ---------------------------------------------------------------------------------------------- runner
@dataclass
class Report:
    """Scores of one model under one setting: ``rows`` hold one dict per (seed, split)."""

    model: str
    dataset: str
    setting: str
    seeds: tuple[int, ...]
    rows: list[dict[str, Any]] = field(default_factory=list)
    n_parameters: int = 0
    seconds_per_epoch: float = float("nan")

    def per_subject(self) -> dict[int, dict[str, tuple[float, float]]]:
        """subject -> metric -> (mean, std) over seeds (CV folds are averaged within a seed first)."""
        out = {}
        for s in sorted({r["subject"] for r in self.rows}):
            per_seed = {m: [np.mean([r[m] for r in self.rows if r["subject"] == s and r["seed"] == seed])
                            for seed in self.seeds] for m in METRICS}
            out[s] = {m: (float(np.mean(v)), float(np.std(v))) for m, v in per_seed.items()}
        return out

    def overall(self) -> dict[str, tuple[float, float]]:
        """metric -> (mean, std over seeds) of the mean over subjects."""
        subjects = sorted({r["subject"] for r in self.rows})
        out = {}
        for m in METRICS:
            per_seed = [np.mean([np.mean([r[m] for r in self.rows if r["subject"] == s and r["seed"] == seed])
                                 for s in subjects]) for seed in self.seeds]
            out[m] = (float(np.mean(per_seed)), float(np.std(per_seed)))
        return out


def _score(pred: np.ndarray, y: np.ndarray, n_classes: int) -> dict[str, float]:
    import torch
    from torchmetrics.functional.classification import multiclass_accuracy, multiclass_cohen_kappa

    p, t = torch.as_tensor(pred), torch.as_tensor(y)
    return {"acc": float(multiclass_accuracy(p, t, n_classes, average="micro")),
            "bal_acc": float(multiclass_accuracy(p, t, n_classes, average="macro")),
            "kappa": float(multiclass_cohen_kappa(p, t, n_classes))}


class _EpochTimer:
    def __init__(self):
        import lightning as L

        class Timer(L.Callback):
            def __init__(cb):
                cb.times = []

            def on_train_epoch_start(cb, trainer, module):
                cb.start = time.perf_counter()

            def on_train_epoch_end(cb, trainer, module):
                cb.times.append(time.perf_counter() - cb.start)

        self.callback = Timer()


def run_evaluation(model: str = "dbconformer", model_options: dict[str, Any] | None = None, *,
                   dataset: str = "simulated_mi", setting: str = "co", seeds: Sequence[int] = (0,),
                   subjects: Sequence[int] | None = None, max_epochs: int = 50, lr: float = 1e-3,
                   batch_size: int = 32, align: bool = True, alignment: str = "online", n_folds: int = 5,
                   cv_scheme: str = "kfold", epochs=None, test_session: str | None = None,
                   task_options: dict[str, Any] | None = None,
                   data_options: dict[str, Any] | None = None, verbose: bool = False) -> Report:
    """Train ``model`` from scratch on every split of ``setting`` for each seed; score the last epoch.

    ``epochs``: an :class:`~spanmix.datasets.eeg.EEGEpochs` to use instead of loading ``dataset``.
    Euclidean alignment (``align``, ``alignment``) as :class:`~spanmix.apps.eeg.data.EEGDataModule` does it:
    ``online`` (official) aligns the held-out part with its own reference, the LOSO test subject trial by trial.
    ``task_options``: further :class:`~spanmix.apps.eeg.task.EEGTask` arguments (``weight_decay``, ``betas``,
    ``sr_segments``, ``label_smoothing``). ``test_session``: the held-out session of ``setting="session"``.
    """
    import lightning as L
    import torch
    from spanmix.apps.eeg.data import EEGDataModule
    from spanmix.apps.eeg.models import count_parameters
    from spanmix.apps.eeg.task import EEGTask

    base = EEGDataModule(dataset, epochs=epochs, align=False, **(data_options or {}))
    ep = base.epochs
    report = Report(model, dataset, setting, tuple(int(s) for s in seeds))
    times: list[float] = []
    for seed in report.seeds:
        for split in splits(setting, ep.y, ep.subject, subjects=subjects, n_folds=n_folds, seed=seed,
                            cv_scheme=cv_scheme, session=ep.meta.get("session"), test_session=test_session):
            L.seed_everything(seed, workers=True, verbose=False)
            dm = EEGDataModule(dataset, epochs=ep, align=align, alignment=alignment, batch_size=batch_size,
                               train_index=split.train.tolist(), test_index=split.test.tolist(), val_fraction=0.0)
            task = EEGTask(model, model_options, n_chans=dm.n_chans, n_outputs=dm.n_outputs, n_times=dm.n_times,
                           sfreq=dm.sfreq, lr=lr, **(task_options or {}))
            report.n_parameters = count_parameters(task.net)
            timer = _EpochTimer().callback
            trainer = L.Trainer(max_epochs=max_epochs, accelerator="cpu", devices=1, logger=False,
                                enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                                callbacks=[timer], num_sanity_val_steps=0, limit_val_batches=0)
            trainer.fit(task, datamodule=dm)
            times += timer.times[1:] or timer.times  # the first epoch pays for warm-up
            task.eval()
            with torch.no_grad():
                X, y = dm.split_tensors("test")
                pred = torch.cat([task(X[i:i + 256]).argmax(-1) for i in range(0, len(X), 256)]).numpy()
            row = {"seed": seed, "split": split.name, "subject": split.subject, **_score(pred, y.numpy(), dm.n_outputs)}
            report.rows.append(row)
            if verbose:
                print(f"{model} {setting} seed {seed} {split.name}: " +
                      ", ".join(f"{m} {row[m]:.3f}" for m in METRICS), flush=True)
    report.seconds_per_epoch = float(np.median(times)) if times else float("nan")
    return report


def format_report(report: Report) -> str:
    """A Markdown table: one row per subject and the overall row, ``mean ± std`` (%) over seeds."""
    def cell(v: tuple[float, float]) -> str:
        return f"{100 * v[0]:.1f} ± {100 * v[1]:.1f}"

    lines = [f"{report.model} · {report.dataset} · {report.setting.upper()} · seeds {list(report.seeds)}", "",
             "| subject | accuracy (%) | balanced accuracy (%) | kappa (×100) |", "|---|---|---|---|"]
    for s, m in report.per_subject().items():
        lines.append(f"| {s} | {cell(m['acc'])} | {cell(m['bal_acc'])} | {cell(m['kappa'])} |")
    o = report.overall()
    lines.append(f"| **overall** | **{cell(o['acc'])}** | **{cell(o['bal_acc'])}** | **{cell(o['kappa'])}** |")
    return "\n".join(lines)

