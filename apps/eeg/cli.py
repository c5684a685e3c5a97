"""``spanmix eeg``: train and evaluate EEG decoders with a YAML config (LightningCLI via the harness).

    spanmix eeg fit  --config apps/eeg/configs/dbconformer_simulated_mi.yaml
    spanmix eeg test --config apps/eeg/configs/dbconformer_simulated_mi.yaml --ckpt_path best
    spanmix eeg fit  --config apps/eeg/configs/eegnet_mne_sample.yaml --data.setting cv --data.fold 2
    spanmix eeg evaluate --config apps/eeg/configs/dbconformer_bnci2014001.yaml --seeds 0 1 2   # per subject
    python -m spanmix.apps.eeg.cli fit --config ... --model.model_options.mixer local

The data module's shape (``n_chans``, ``n_outputs``, ``n_times``, ``sfreq``) and its class and channel
names are copied into the task when the classes are instantiated; set the data on ``data`` only. Runs go
to ``runs/eeg/<config stem>``. ``evaluate`` runs the papers' per-subject protocol (CO / CV / LOSO / session
transfer over seeds, every split trained from scratch, the last epoch scored) from the same config and
writes per-subject and overall results (``apps/eeg/evaluate.py``); ``benchmarks/eeg.py`` runs it for the
three models.
"""
from __future__ import annotations

import sys
from collections.abc import Sequence

from spanmix.apps.eeg.data import EEGDataModule
from spanmix.apps.eeg.task import EEGTask
from spanmix.apps.harness.cli import run_cli

__all__ = ["LINKS", "main"]

LINKS = tuple((f"data.{k}", f"model.{k}", "instantiate")
              for k in ("n_chans", "n_outputs", "n_times", "sfreq", "classes", "ch_names"))


def main(args: Sequence[str] | None = None):
    """Run ``spanmix eeg <subcommand> ...``; ``args`` is the command line after ``eeg``."""
    args = list(sys.argv[1:] if args is None else args)
    if args and args[0] == "evaluate":
        from spanmix.apps.eeg.evaluate import main as evaluate

        return evaluate(args[1:])
    return run_cli(EEGTask, EEGDataModule, args=args, app="eeg", links=LINKS)


if __name__ == "__main__":
    main(sys.argv[1:])
