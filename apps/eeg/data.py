"""LightningDataModule for epoch classification: shipped samples, BNCI2014001, EEGBCI or your own file.

    from spanmix.apps.eeg.data import EEGDataModule

    dm = EEGDataModule("simulated_mi", setting="loso", subject=4)      # SIMULATED MI, test on subject 4
    dm = EEGDataModule("mne_sample")                                   # real: auditory vs visual, CO 80/20
    dm = EEGDataModule("bnci2014001", subjects=[1], download=True)     # BCI IV 2a, 4 classes, 250 Hz
    dm = EEGDataModule("file", file="rec.edf", event_id=["T1", "T2"], tmin=0, tmax=4, channels=["C3", "Cz", "C4"])
    batch = next(iter(dm.train_dataloader()))                          # {"x": (B, C, T) float32, "y": (B,) int64}

Splits (``setting``; see :mod:`spanmix.apps.eeg.evaluation`): ``co`` (chronological 80/20 per class),
``cv`` (fold ``fold`` of ``n_folds``; ``cv_scheme`` ``kfold``, the official one, or ``blocks`` per class) and ``loso`` (test on ``subject``, train on the others). Within-subject
settings use ``subject`` only, or every subject's own split pooled when ``subject`` is None (LOSO then
holds out the last subject). ``val_fraction`` of the training epochs (the last ones of each class, in
recording order) are held out for validation; 0 gives no validation loop (the paper's fixed-epoch
protocol). Explicit ``train_index``/``test_index`` override the setting.

Scaling: signals are in microvolts; with ``align`` (default) each subject is Euclidean-aligned
(:func:`spanmix.datasets.eeg.euclidean_alignment`, He & Wu 2020). A subject's training (and validation)
epochs use the reference matrix ``R = mean X Xᵀ / T`` of those epochs; its held-out epochs depend on
``alignment``:

- ``online`` (default, DBConformer's official code): a subject with training epochs (CO, CV) aligns its
  held-out part with that part's own reference; a subject with none (the LOSO test subject) is aligned
  incrementally, trial by trial in recording order: trial ``i`` with ``R_i = mean_{j<=i} X_j X_jᵀ / T``,
  as a model deployed online would see it (the official ``EA_online``);
- ``offline``: every epoch of a subject uses the reference of its training epochs, or of all its own
  unlabelled epochs when it has none (the shipped weights were trained so).

Departure from the official code: the covariance is ``X Xᵀ / T`` (band-passed EEG, no per-trial
demeaning) where the official ``EA`` uses ``np.cov``; the reference is the same up to the tiny trial means.
"""
from __future__ import annotations

import math
from typing import Any, Literal

import lightning as L
import numpy as np
import torch
from spanmix.apps.eeg.evaluation import SETTINGS, cv_splits, splits
from spanmix.datasets import eeg
from torch.utils.data import DataLoader, Dataset

ALIGNMENTS = ("online", "offline")

__all__ = ["DATASETS", "EEGDataModule", "EpochDataset"]

DATASETS = ("simulated_mi", "mne_sample", "bnci2014001", "eegbci", "file")
_SAMPLES = {"simulated_mi": "eeg_simulated_mi", "mne_sample": "eeg_mne_sample"}


class EpochDataset(Dataset):
    """``{"x": (C, T) float32, "y": int64}`` per epoch."""

    def __init__(self, X: torch.Tensor, y: torch.Tensor):
        self.X, self.y = X, y

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.X[i], "y": self.y[i]}


def load_epochs(dataset: str, *, file: str | None = None, subjects: list[int] | None = None,
                event_id: Any = None, tmin: float | None = None, tmax: float | None = None,
                channels: list[str] | None = None, l_freq: float | None = None, h_freq: float | None = None,
                resample: float | None = None, standardize: bool = False, download: bool = False,
                cache_dir: str | None = None, sessions: list[str] | None = None,
                classes: list[str] | None = None) -> eeg.EEGEpochs:
    """The epochs of ``dataset`` (see :data:`DATASETS`), before any split or alignment.

    ``sessions`` and ``classes`` select BNCI2014001's sessions (``T``, ``E``) and classes; ``event_id``
    reaches every reader (for ``bnci2014001`` and ``eegbci`` it replaces their default classes).
    """
    if dataset not in DATASETS:
        raise ValueError(f"unknown EEG dataset {dataset!r}; expected one of {DATASETS}")
    if dataset != "bnci2014001" and (sessions is not None or classes is not None):
        raise ValueError(f"--data.sessions and --data.classes select BNCI2014001 sessions/classes; {dataset} has "
                         "none (use --data.event_id to choose its classes)")
    pipeline = {k: v for k, v in dict(l_freq=l_freq, h_freq=h_freq, sfreq=resample,
                                      standardize=standardize).items() if v}
    window = {k: v for k, v in dict(tmin=tmin, tmax=tmax).items() if v is not None}
    if dataset in _SAMPLES:
        ep = eeg.load_sample(_SAMPLES[dataset])
        if pipeline or window or event_id is not None:
            if "raw" not in ep.meta:
                raise ValueError(f"{dataset} ships epochs only: l_freq/h_freq/resample/standardize/tmin/tmax/"
                                 "event_id cannot be changed for it")
            raw = eeg.sample_raw(ep)
            ep = eeg.epochs_from_raw(raw, tmin=window.get("tmin", ep.tmin),
                                     tmax=window.get("tmax", ep.tmin + ep.n_times / ep.sfreq),
                                     event_id=event_id or {"auditory": ["auditory"], "visual": ["visual"]},
                                     subject=1, **pipeline)
    elif dataset == "bnci2014001":
        ep = eeg.load_bnci2014001(subjects or list(range(1, 10)), sessions=sessions or ["T", "E"], classes=classes,
                                  event_id=event_id, path=cache_dir, download=download, **window, **pipeline)
    elif dataset == "eegbci":
        ep = eeg.load_eegbci(subjects or [1], event_id=event_id, path=cache_dir, download=download, **window,
                             **pipeline)
    else:
        if not file:
            raise ValueError("dataset 'file' needs file=PATH (EDF/BDF/GDF/FIF/BrainVision)")
        if tmin is None or tmax is None:
            raise ValueError("dataset 'file' needs tmin and tmax (the epoch window around each event, s)")
        ep = eeg.epochs_from_raw(eeg.read_raw(file), tmin=tmin, tmax=tmax, event_id=event_id, subject=1,
                                 picks=channels, **pipeline)
    if channels:
        ep = ep.pick(channels)
    if subjects and dataset in _SAMPLES:
        keep = np.isin(ep.subject, subjects)
        if not keep.any():
            raise ValueError(f"{dataset} has subjects {ep.subjects}, none of {subjects}")
        ep = ep.subset(keep)
    if len(set(ep.y.tolist())) < 2:
        raise ValueError(f"{dataset}: the epochs hold fewer than two classes ({ep.classes}); check event_id")
    return ep


def _inverse_sqrt(R: np.ndarray, subject: int) -> np.ndarray:
    w, V = np.linalg.eigh(R)
    if w.min() <= 1e-10 * w.max():
        raise ValueError(f"subject {subject}: the reference covariance is singular; Euclidean alignment needs full-rank "
                         "data (drop a flat or duplicated channel; online alignment of a single trial needs more "
                         "samples than channels), or set --data.align false / --data.alignment offline")
    return (V / np.sqrt(w)) @ V.T


def _whiten(reference: np.ndarray, X: np.ndarray, subject: int) -> np.ndarray:
    """``X`` (N, C, T) multiplied by ``R^{-1/2}``, ``R`` the mean ``X Xᵀ / T`` of the ``reference`` epochs."""
    R = np.einsum("nct,ndt->cd", reference, reference) / (len(reference) * reference.shape[2])
    return np.einsum("cd,ndt->nct", _inverse_sqrt(R, subject), X)


class EEGDataModule(L.LightningDataModule):
    """Epochs of one dataset, split by an evaluation setting, aligned per subject (module docstring).

    Args:
        dataset: ``simulated_mi`` (SIMULATED, shipped), ``mne_sample`` (real, shipped), ``bnci2014001``,
            ``eegbci`` or ``file``.
        setting, subject, fold, n_folds, seed, cv_scheme: the split. val_fraction: validation share of the training epochs.
        subjects: which subjects to load (standard sets) / keep (samples).
        test_session: train on the other sessions, test on this one (BNCI2014001's ``E``: EEG Conformer's
            T -> E protocol), for ``subject`` or every subject; overrides ``setting``.
        sessions, classes: BNCI2014001 only: sessions ``["T"]``, ``["E"]`` or both (default) and the classes
            kept, in label order (default all four; DBConformer: ``["left_hand", "right_hand"]``).
        file, event_id, tmin, tmax, channels, l_freq, h_freq, resample, standardize: the reading pipeline
            (:func:`spanmix.datasets.eeg.epochs_from_raw`); for the samples they re-epoch the shipped
            continuous recording when there is one.
        align: Euclidean alignment per subject; alignment: ``online`` (official) or ``offline``, how held-out
            epochs are aligned (module docstring). batch_size, num_workers: loaders.
        download, cache_dir: standard datasets only.
        epochs, train_index, test_index: preloaded epochs and explicit splits (Python use).
    """

    def __init__(self, dataset: Literal["simulated_mi", "mne_sample", "bnci2014001", "eegbci", "file"] = "simulated_mi",
                 *, setting: Literal["co", "cv", "loso"] = "co", subject: int | None = None, fold: int = 0,
                 n_folds: int = 5, seed: int = 0, val_fraction: float = 0.2, subjects: list[int] | None = None,
                 file: str | None = None, event_id: Any = None, tmin: float | None = None,
                 tmax: float | None = None, channels: list[str] | None = None, l_freq: float | None = None,
                 h_freq: float | None = None, resample: float | None = None, standardize: bool = False,
                 align: bool = True, batch_size: int = 32, num_workers: int = 0, download: bool = False,
                 cache_dir: str | None = None, epochs: Any = None, train_index: list[int] | None = None,
                 test_index: list[int] | None = None, sessions: list[str] | None = None,
                 classes: list[str] | None = None, cv_scheme: Literal["kfold", "blocks"] = "kfold",
                 alignment: Literal["online", "offline"] = "online", test_session: str | None = None):
        super().__init__()
        if setting not in SETTINGS:
            raise ValueError(f"unknown setting {setting!r}; expected one of {SETTINGS}")
        if alignment not in ALIGNMENTS:
            raise ValueError(f"--data.alignment must be one of {ALIGNMENTS}, got {alignment!r}")
        if not 0 <= val_fraction < 1:
            raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
        self.dataset, self.setting, self.align, self.cv_scheme = dataset, setting, align, cv_scheme
        self.alignment = alignment
        self.batch_size, self.num_workers = batch_size, num_workers
        self.epochs: eeg.EEGEpochs = epochs if epochs is not None else load_epochs(
            dataset, file=file, subjects=subjects, event_id=event_id, tmin=tmin, tmax=tmax, channels=channels,
            l_freq=l_freq, h_freq=h_freq, resample=resample, standardize=standardize, download=download,
            cache_dir=cache_dir, sessions=sessions, classes=classes)
        ep = self.epochs
        if train_index is not None or test_index is not None:
            if train_index is None or test_index is None:
                raise ValueError("give both train_index and test_index, or neither")
            train, test = np.asarray(train_index, int), np.asarray(test_index, int)
        elif test_session is not None:
            train, test = self._session_split(test_session, subject)
        else:
            train, test = self._split(setting, subject, fold, n_folds, seed)
        train, val = self._hold_out(train, val_fraction)
        self.index = {"train": train, "val": val, "test": test}
        self._X = self._prepare(train)
        self._y = torch.as_tensor(ep.y)

    # ------------------------------------------------------------------ splits
    def _split(self, setting, subject, fold, n_folds, seed):
        ep = self.epochs
        if subject is not None and subject not in ep.subjects:
            raise ValueError(f"subject {subject} is not in {self.dataset}; its subjects are {ep.subjects}")
        if setting == "loso":
            held = ep.subjects[-1] if subject is None else subject
            sp = [s for s in splits("loso", ep.y, ep.subject) if s.subject == held][0]
            return sp.train, sp.test
        chosen = ep.subjects if subject is None else [subject]
        if setting == "co":
            parts = splits("co", ep.y, ep.subject, subjects=chosen)
        else:
            if not 0 <= fold < n_folds:
                raise ValueError(f"fold must be in [0, {n_folds}), got {fold}")
            parts = [cv_splits(ep.y, ep.subject, s, n_folds, seed=seed, scheme=self.cv_scheme)[fold] for s in chosen]
        return (np.sort(np.concatenate([p.train for p in parts])), np.sort(np.concatenate([p.test for p in parts])))

    def _session_split(self, test_session: str, subject: int | None) -> tuple[np.ndarray, np.ndarray]:
        ep = self.epochs
        if "session" not in ep.meta:
            raise ValueError(f"--data.test_session needs epochs that record their session (bnci2014001); "
                             f"{self.dataset} does not")
        session = np.asarray(ep.meta["session"])
        chosen = np.isin(ep.subject, ep.subjects if subject is None else [subject])
        test = chosen & (session == test_session)
        if not test.any() or not (chosen & ~test).any():
            raise ValueError(f"--data.test_session {test_session!r}: need epochs of that session and of another; "
                             f"the sessions loaded are {sorted(set(session.tolist()))} (see --data.sessions)")
        return np.flatnonzero(chosen & ~test), np.flatnonzero(test)

    def _hold_out(self, train: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
        if fraction == 0:
            return train, train[:0]
        ep, keep, val = self.epochs, [], []
        for s in np.unique(ep.subject[train]):
            for c in np.unique(ep.y[train]):
                idx = train[(ep.subject[train] == s) & (ep.y[train] == c)]
                k = min(len(idx) - 1, math.floor(fraction * len(idx)))
                keep.append(idx[:len(idx) - k]), val.append(idx[len(idx) - k:])
        return np.sort(np.concatenate(keep)), np.sort(np.concatenate(val))

    def _prepare(self, train: np.ndarray) -> torch.Tensor:
        ep = self.epochs
        X = ep.X.astype(np.float64) * 1e6  # volts -> microvolts
        if not self.align:
            return torch.as_tensor(X, dtype=torch.float32)
        known = np.concatenate([train, self.index["val"]])
        out = X.copy()
        for s in ep.subjects:
            rows = np.flatnonzero(ep.subject == s)
            ref = np.intersect1d(rows, known)
            held = np.intersect1d(np.setdiff1d(rows, known), self.index["test"])
            if self.alignment == "offline" or not len(held):
                out[rows] = _whiten(X[ref if len(ref) else rows], X[rows], s)
                continue
            if len(ref):
                out[ref] = _whiten(X[ref], X[ref], s)
                out[held] = _whiten(X[held], X[held], s)
            else:
                covs = np.einsum("nct,ndt->ncd", X[held], X[held]) / X.shape[2]
                running = np.cumsum(covs, axis=0) / np.arange(1, len(held) + 1)[:, None, None]
                for i, r in enumerate(held):
                    out[r] = _inverse_sqrt(running[i], s) @ X[r]
        return torch.as_tensor(out, dtype=torch.float32)

    # ------------------------------------------------------------------ shape (linked into the task)
    @property
    def n_chans(self) -> int:
        return self.epochs.n_chans

    @property
    def n_outputs(self) -> int:
        return len(self.epochs.classes)

    @property
    def n_times(self) -> int:
        return self.epochs.n_times

    @property
    def sfreq(self) -> float:
        return float(self.epochs.sfreq)

    @property
    def classes(self) -> list[str]:
        return list(self.epochs.classes)

    @property
    def ch_names(self) -> list[str]:
        return list(self.epochs.ch_names)

    # ------------------------------------------------------------------ loaders
    def split_tensors(self, stage: str) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.as_tensor(self.index[stage], dtype=torch.long)
        return self._X[idx], self._y[idx]

    def _loader(self, stage: str, shuffle: bool) -> DataLoader:
        X, y = self.split_tensors(stage)
        return DataLoader(EpochDataset(X, y), batch_size=self.batch_size, shuffle=shuffle,
                          num_workers=self.num_workers)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", True)

    def val_dataloader(self):
        return self._loader("val", False) if len(self.index["val"]) else []

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test", False)
