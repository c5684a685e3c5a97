"""EEG splits (CO / CV / LOSO) and the data module: no leaks, chronological order, alignment per subject."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from spanmix.apps.eeg.data import EEGDataModule
from spanmix.apps.eeg.evaluation import co_split, cv_splits, loso_splits, splits
from spanmix.datasets import eeg


def toy(n_subjects: int = 3, per_class: int = 10, n_chans: int = 4, n_times: int = 32, seed: int = 0):
    rng = np.random.default_rng(seed)
    n = n_subjects * 2 * per_class
    y = np.tile(np.repeat([0, 1], per_class), n_subjects)
    subject = np.repeat(np.arange(1, n_subjects + 1), 2 * per_class)
    mix = rng.standard_normal((n_subjects, n_chans, n_chans))
    X = np.einsum("ncd,ndt->nct", mix[subject - 1], rng.standard_normal((n, n_chans, n_times))) * 1e-5
    return eeg.EEGEpochs(X=X, y=y, subject=subject, ch_names=[f"E{i}" for i in range(n_chans)], sfreq=64.0,
                         classes=["a", "b"])


def test_loso_never_trains_on_the_tested_subject():
    ep = toy()
    parts = loso_splits(ep.subject)
    assert [p.subject for p in parts] == [1, 2, 3]
    for p in parts:
        assert set(ep.subject[p.test]) == {p.subject}
        assert p.subject not in set(ep.subject[p.train])
        assert len(p.train) + len(p.test) == len(ep) and not set(p.train) & set(p.test)
    with pytest.raises(ValueError, match="needs >= 2 subjects"):
        loso_splits(np.ones(5, int))


def test_co_is_chronological_per_class_and_within_the_subject():
    ep = toy()
    sp = co_split(ep.y, ep.subject, 2)
    assert set(ep.subject[sp.train]) == set(ep.subject[sp.test]) == {2}
    for c in (0, 1):
        train, test = sp.train[ep.y[sp.train] == c], sp.test[ep.y[sp.test] == c]
        assert len(train) == 8 and len(test) == 2  # ceil(0.8 * 10)
        assert train.max() < test.min()  # every test trial comes after every training trial


def test_cv_default_is_the_official_kfold_over_all_trials_in_order():
    ep = toy(n_subjects=2, per_class=11)  # 22 trials per subject, class 0 first: folds need not be stratified
    folds = cv_splits(ep.y, ep.subject, 2, n_folds=5)
    first = 22  # subject 2's first epoch
    # sklearn.model_selection.KFold(5, shuffle=False).split(range(22)) tests on these, in order:
    expected = [range(0, 5), range(5, 10), range(10, 14), range(14, 18), range(18, 22)]
    assert [f.test.tolist() for f in folds] == [[first + i for i in r] for r in expected]
    assert np.bincount(ep.y[folds[0].test], minlength=2).tolist() == [5, 0]  # in order, not per class
    for f in folds:
        assert sorted(f.train.tolist() + f.test.tolist()) == list(range(22, 44))
    dm = EEGDataModule(epochs=ep, setting="cv", subject=2, fold=1, val_fraction=0.0)
    assert dm.index["test"].tolist() == list(range(27, 32))
    blocks = EEGDataModule(epochs=ep, setting="cv", subject=2, fold=1, val_fraction=0.0, cv_scheme="blocks")
    assert np.bincount(ep.y[blocks.index["test"]]).tolist() == [2, 2]
    with pytest.raises(ValueError, match="unknown cross-validation scheme 'random'"):
        cv_splits(ep.y, ep.subject, 2, scheme="random")


def test_cv_blocks_partition_each_subject_and_stay_stratified():
    ep = toy()
    folds = cv_splits(ep.y, ep.subject, 1, n_folds=5, scheme="blocks")
    tests = np.concatenate([f.test for f in folds])
    assert sorted(tests.tolist()) == np.flatnonzero(ep.subject == 1).tolist()  # each epoch tested once
    for f in folds:
        assert np.bincount(ep.y[f.test]).tolist() == [2, 2] and not set(f.train) & set(f.test)
    shuffled = cv_splits(ep.y, ep.subject, 1, n_folds=5, shuffle=True, seed=3, scheme="blocks")
    assert any(not np.array_equal(a.test, b.test) for a, b in zip(folds, shuffled))
    assert len(splits("cv", ep.y, ep.subject)) == 15
    with pytest.raises(ValueError, match="unknown evaluation setting"):
        splits("holdout", ep.y, ep.subject)


def test_data_module_loso_aligns_each_subject_with_its_own_reference():
    ep = toy()
    dm = EEGDataModule(epochs=ep, setting="loso", subject=3, val_fraction=0.2, batch_size=8, alignment="offline")
    assert (dm.n_chans, dm.n_outputs, dm.n_times, dm.sfreq) == (4, 2, 32, 64.0)
    idx = dm.index
    assert set(ep.subject[idx["test"]]) == {3} and 3 not in set(ep.subject[idx["train"]]) | set(ep.subject[idx["val"]])
    assert not set(idx["train"]) & set(idx["val"])
    X = dm._X.double().numpy()
    for s in (1, 2, 3):  # the mean covariance of each subject's epochs is the identity after alignment
        Xs = X[ep.subject == s]
        assert np.allclose(np.einsum("nct,ndt->cd", Xs, Xs) / (Xs.shape[0] * Xs.shape[2]), np.eye(4), atol=1e-3)
    batch = next(iter(dm.train_dataloader()))
    assert batch["x"].shape == (8, 4, 32) and batch["x"].dtype == torch.float32 and batch["y"].dtype == torch.int64


def mean_cov(X) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    return np.einsum("nct,ndt->cd", X, X) / (X.shape[0] * X.shape[2])


def test_within_subject_alignment_uses_training_epochs_only():
    ep = toy(n_subjects=1, per_class=20)
    late = (np.arange(len(ep)) % 20) >= 16  # the chronological test part: the last 4 of each class's 20
    X = ep.X.copy()
    X[late] *= 50.0  # ... is much louder
    loud = eeg.EEGEpochs(X=X, y=ep.y, subject=ep.subject, ch_names=ep.ch_names, sfreq=64.0, classes=ep.classes)
    dm = EEGDataModule(epochs=loud, setting="co", val_fraction=0.0, alignment="offline")
    train, _ = dm.split_tensors("train")
    test, _ = dm.split_tensors("test")
    assert abs(float(train.pow(2).mean()) - 1.0) < 0.2  # identity covariance on the reference (training) part
    assert float(test.pow(2).mean()) > 100  # the test part did not enter the reference
    # online (the default, as the official code): the chronological test part gets its own reference
    dm = EEGDataModule(epochs=loud, setting="co", val_fraction=0.0)
    assert dm.alignment == "online"
    train, _ = dm.split_tensors("train")
    test, _ = dm.split_tensors("test")
    assert np.allclose(mean_cov(train), np.eye(4), atol=1e-4) and np.allclose(mean_cov(test), np.eye(4), atol=1e-4)
    with pytest.raises(ValueError, match="--data.alignment must be one of"):
        EEGDataModule(epochs=loud, alignment="batch")


def test_online_alignment_of_the_loso_subject_is_incremental_trial_by_trial():
    ep = toy()
    dm = EEGDataModule(epochs=ep, setting="loso", subject=3, val_fraction=0.0)
    X, _ = dm.split_tensors("test")
    raw = ep.X[ep.subject == 3].astype(np.float64) * 1e6
    # the official EA_online recursion: R <- (n R + cov(x)) / (n + 1), trial i aligned with R after it
    R = np.zeros((4, 4))
    for n, x in enumerate(raw):
        R = (n * R + x @ x.T / x.shape[1]) / (n + 1)
        w, V = np.linalg.eigh(R)
        assert np.allclose(X[n].double().numpy(), (V / np.sqrt(w)) @ V.T @ x, atol=1e-4), n
    assert np.allclose(mean_cov(X[:1]), np.eye(4), atol=1e-4)  # the first trial is its own reference
    offline, _ = EEGDataModule(epochs=ep, setting="loso", subject=3, val_fraction=0.0,
                               alignment="offline").split_tensors("test")
    assert not np.allclose(mean_cov(offline[:1]), np.eye(4), atol=1e-2)
    train, _ = dm.split_tensors("train")  # the training subjects: each with its own full reference
    for s in (1, 2):
        assert np.allclose(mean_cov(train[ep.subject[dm.index["train"]] == s]), np.eye(4), atol=1e-4)


def test_shipped_samples_through_the_data_module():
    dm = EEGDataModule("mne_sample")
    assert (dm.n_chans, dm.n_outputs, dm.n_times, dm.sfreq) == (60, 2, 140, 200.0)
    assert len(dm.index["train"]) + len(dm.index["val"]) + len(dm.index["test"]) == 28
    sim = EEGDataModule("simulated_mi", setting="loso", subject=4)
    assert dm.classes == ["auditory", "visual"] and sim.classes == ["left_hand", "right_hand"]
    assert set(sim.epochs.subject[sim.index["test"]]) == {4}
    rewindowed = EEGDataModule("mne_sample", tmin=0.0, tmax=0.5)
    assert rewindowed.n_times == 100
    with pytest.raises(ValueError, match="subject 7 is not in simulated_mi"):
        EEGDataModule("simulated_mi", subject=7)
    with pytest.raises(ValueError, match="unknown EEG dataset"):
        EEGDataModule("bci2a")
    with pytest.raises(ValueError, match="ships epochs only"):
        EEGDataModule("simulated_mi", l_freq=8.0)


def write_bnci_mat(path, trials: int, fs: int = 250) -> None:
    """One run of ``trials`` trials (labels cycling 1-4) in the BNCI Horizon .mat layout."""
    from scipy.io import savemat

    run = {"X": np.random.default_rng(trials).standard_normal((trials * 8 * fs, 25)), "fs": fs,
           "trial": (np.arange(trials) * 8 * fs + 1).reshape(-1, 1), "y": (np.arange(trials) % 4 + 1).reshape(-1, 1)}
    cell = np.empty((1, 1), dtype=object)
    cell[0, 0] = run
    savemat(path, {"data": cell})


def test_bnci2014001_sessions_and_classes_through_the_data_module(tmp_path):
    folder = tmp_path / "BNCI2014001"
    folder.mkdir()
    write_bnci_mat(folder / "A01T.mat", 16)
    write_bnci_mat(folder / "A01E.mat", 8)
    with pytest.warns(UserWarning):  # unverified files, recorded on first use
        both = EEGDataModule("bnci2014001", subjects=[1], cache_dir=str(tmp_path))
    assert len(both.epochs) == 16 + 8 and both.n_outputs == 4
    dm = EEGDataModule("bnci2014001", subjects=[1], sessions=["T"], classes=["left_hand", "right_hand"],
                       cache_dir=str(tmp_path))
    assert len(dm.epochs) == 8 and dm.classes == ["left_hand", "right_hand"]
    with pytest.raises(ValueError, match=r"--data.sessions and --data.classes select BNCI2014001"):
        EEGDataModule("simulated_mi", classes=["left_hand"])


def test_session_split_trains_on_t_and_tests_on_e(tmp_path):
    folder = tmp_path / "BNCI2014001"
    folder.mkdir()
    write_bnci_mat(folder / "A01T.mat", 16)
    write_bnci_mat(folder / "A01E.mat", 8)
    with pytest.warns(UserWarning):
        dm = EEGDataModule("bnci2014001", subjects=[1], cache_dir=str(tmp_path), test_session="E", val_fraction=0.0)
    session = dm.epochs.meta["session"]
    assert session.tolist() == ["T"] * 16 + ["E"] * 8
    assert dm.index["train"].tolist() == list(range(16)) and dm.index["test"].tolist() == list(range(16, 24))
    with pytest.raises(ValueError, match="need epochs of that session and of another"):
        EEGDataModule("bnci2014001", subjects=[1], sessions=["T"], cache_dir=str(tmp_path), test_session="E")
    with pytest.raises(ValueError, match="--data.test_session needs epochs that record their session"):
        EEGDataModule("simulated_mi", test_session="E")
