"""EEGTask: training lowers the loss, the metrics are accuracy / balanced accuracy / kappa, options are checked."""
from __future__ import annotations

import lightning as L
import numpy as np
import pytest
import torch
from spanmix.apps.eeg.data import EEGDataModule
from spanmix.apps.eeg.evaluation import _score, format_report, run_evaluation
from spanmix.apps.eeg.task import EEGTask
from spanmix.datasets import eeg

TINY = {"emb": 8, "heads": 2, "patch_size": 8, "kernel_size": 5, "dropout": 0.0}


def separable(n_subjects: int = 2, per_class: int = 12, seed: int = 0) -> eeg.EEGEpochs:
    """Class 1 has a 10 Hz rhythm on channel 0, class 0 on channel 2 (unit-test data, synthetic)."""
    rng = np.random.default_rng(seed)
    n = n_subjects * 2 * per_class
    y = np.tile(np.repeat([0, 1], per_class), n_subjects)
    t = np.arange(32) / 64.0
    X = rng.standard_normal((n, 4, 32)) * 0.3
    X[y == 1, 0] += np.sin(2 * np.pi * 10 * t) * 2
    X[y == 0, 2] += np.sin(2 * np.pi * 10 * t) * 2
    return eeg.EEGEpochs(X=X * 1e-5, y=y, subject=np.repeat(np.arange(1, n_subjects + 1), 2 * per_class),
                         ch_names=["a", "b", "c", "d"], sfreq=64.0, classes=["rest", "move"])


def test_metrics_are_accuracy_balanced_accuracy_and_kappa():
    y = np.array([0] * 8 + [1] * 2)
    pred = np.zeros(10, int)  # always the majority class
    s = _score(pred, y, 2)
    assert s["acc"] == pytest.approx(0.8) and s["bal_acc"] == pytest.approx(0.5) and s["kappa"] == pytest.approx(0.0)
    assert _score(y, y, 2) == {"acc": 1.0, "bal_acc": 1.0, "kappa": 1.0}


def test_task_learns_a_separable_problem_and_logs_the_metrics():
    torch.manual_seed(0)
    dm = EEGDataModule(epochs=separable(), setting="co", val_fraction=0.0, batch_size=8)
    task = EEGTask("dbconformer", TINY, n_chans=4, n_outputs=2, n_times=32, sfreq=64.0, lr=3e-3)
    trainer = L.Trainer(max_epochs=25, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, limit_val_batches=0)
    trainer.fit(task, dm)
    result = trainer.test(task, datamodule=dm, verbose=False)[0]
    assert {"test/acc", "test/bal_acc", "test/kappa", "test/loss"} <= set(result)
    assert result["test/acc"] >= 0.9 and result["test/kappa"] > 0.7
    probs = task.predict_step({"x": dm.split_tensors("test")[0]}, 0)
    assert torch.allclose(probs.sum(-1), torch.ones(len(probs)))


def test_task_rejects_standard_args_in_model_options_and_bad_batches():
    with pytest.raises(ValueError, match="must not set"):
        EEGTask("eegnet", {"n_chans": 3}, n_chans=4, n_outputs=2, n_times=32, sfreq=64.0)
    task = EEGTask("eegnet", {"kernel_length": 8}, n_chans=4, n_outputs=2, n_times=32, sfreq=64.0)
    with pytest.raises(ValueError, match="a batch must be a dict"):
        task.training_step(torch.zeros(2, 4, 32), 0)


def test_runner_reports_per_subject_and_overall_under_loso():
    report = run_evaluation("eegnet", {"F1": 4, "D": 2, "kernel_length": 8, "dropout": 0.0}, epochs=separable(),
                            setting="loso", seeds=(0, 1), max_epochs=2, batch_size=8)
    assert {r["subject"] for r in report.rows} == {1, 2} and len(report.rows) == 4
    table = format_report(report)
    assert "| 1 |" in table and "| 2 |" in table and "**overall**" in table
    mean, std = report.overall()["acc"]
    per_seed = [np.mean([r["acc"] for r in report.rows if r["seed"] == s]) for s in (0, 1)]
    assert mean == pytest.approx(np.mean(per_seed)) and std == pytest.approx(np.std(per_seed))
    assert report.n_parameters > 0 and report.seconds_per_epoch > 0


def test_segment_recombination_builds_new_trials_from_same_class_segments():
    from spanmix.apps.eeg.augment import segment_recombine

    x = torch.arange(6 * 2 * 16, dtype=torch.float32).reshape(6, 2, 16)  # every sample value unique
    y = torch.tensor([0, 1, 0, 1, 0, 1])
    ax, ay = segment_recombine(x, y, n_segments=4, generator=torch.Generator().manual_seed(0))
    assert ax.shape == (12, 2, 16) and torch.equal(ax[:6], x) and ay[6:].tolist() == [0, 0, 0, 1, 1, 1]
    sources = set()
    for trial, label in zip(ax[6:], ay[6:]):
        for j in range(4):
            seg = trial[:, 4 * j:4 * j + 4]
            match = [i for i in range(6) if torch.equal(x[i, :, 4 * j:4 * j + 4], seg)]
            assert len(match) == 1 and y[match[0]] == label  # segment j of one trial of the same class
            sources.add(match[0])
    assert len(sources) > 2  # drawn from several trials
    with pytest.raises(ValueError, match="n_segments must be an integer"):
        segment_recombine(x, y, n_segments=0)


def test_task_takes_the_eeg_conformer_recipe_options():
    task = EEGTask("eegnet", {"kernel_length": 8}, n_chans=4, n_outputs=2, n_times=32, sfreq=64.0, lr=2e-4,
                   betas=(0.5, 0.999), sr_segments=8)
    opt = task.configure_optimizers()
    assert opt.defaults["betas"] == (0.5, 0.999) and opt.defaults["lr"] == 2e-4
    loss = task.training_step({"x": torch.randn(6, 4, 32), "y": torch.tensor([0, 1] * 3)}, 0)
    assert loss.ndim == 0 and torch.isfinite(loss)
    with pytest.raises(ValueError, match="--model.betas"):
        EEGTask("eegnet", None, n_chans=4, n_outputs=2, n_times=32, sfreq=64.0, betas=(0.5, 1.5))
