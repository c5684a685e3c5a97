"""The EEG app's shipped DBConformer weights (``pretrained/eeg/``, the hub's EEG tab): entries for the builder.

    spanmix weights build eeg --all

Each entry is one of our configs trained unchanged (seed 0) on the chronological 80/20 split of every
subject (20 % of the training part validates); its record carries what the tab needs to read a user's
recording the way the model was trained (channels and positions, rate, window, classes, alignment) and the
test accuracy, balanced accuracy and kappa.
"""
from __future__ import annotations

from typing import Any

from spanmix.apps.harness.weights import Built, Entry, WeightsTable, markdown_table

__all__ = ["EEG", "WEIGHTS"]

CONFIGS = "apps/eeg/configs"


def _datamodule(config: dict[str, Any]):
    from spanmix.apps.eeg.data import EEGDataModule

    return EEGDataModule(**config["data"])


def _describe(b: Built) -> dict[str, Any]:
    dm, data = b.datamodule, b.config["data"]
    ep = dm.epochs
    return {
        "label": b.entry.label,
        "model": b.config["model"]["model"],
        "dataset": data["dataset"],
        "simulated": bool(ep.meta.get("simulated")),
        "ch_names": list(ep.ch_names),
        "ch_pos": [[float(v) for v in p] for p in ep.ch_pos] if ep.ch_pos is not None else None,
        "sfreq": ep.sfreq,
        "tmin": ep.tmin,
        "tmax": ep.tmin + ep.n_times / ep.sfreq,
        "classes": list(ep.classes),
        "align": bool(data.get("align", True)),
        "alignment": data.get("alignment", "online"),
        "split": "chronological 80/20 per subject and class (CO); 20 % of the training part validates",
        "test_epochs": len(dm.index["test"]),
        "test_metrics": {k.split("/", 1)[1]: v for k, v in b.test.items()
                         if k.split("/", 1)[1] in ("acc", "bal_acc", "kappa")},
        "config_file": b.entry.config,
        "command": b.command,
        "regenerate": b.regenerate,
        "train_seconds": b.train_seconds,
        "trained_on": "cpu",
    }


def _metrics(records: dict[str, dict[str, Any]], out_dir) -> str:
    rows = []
    for name in sorted(records):
        demo = records[name]
        t = demo["test_metrics"]
        size = (out_dir / name / "model.safetensors").stat().st_size
        rows.append((f"`{name}`", demo["label"], demo["test_epochs"], f"{100 * t['acc']:.1f}",
                     f"{100 * t['bal_acc']:.1f}", f"{t['kappa']:.3f}", f"{size / 1024:.0f} KiB", f"`{demo['command']}`"))
    return ("# Shipped EEG weights\n\n"
            "Small DBConformer weights trained by our configs (seed 0) for the EEG tab of the demo hub, on the shipped "
            "real MNE sample EEG (auditory vs visual; one subject, 28 epochs: its test split holds only 5 epochs, so "
            "read its score as a smoke test) and on the shipped SIMULATED motor-imagery set (4 subjects). Test scores "
            "are on the chronological 20 % of each subject and class, computed by loading the export with "
            "`load_pretrained` and Lightning's test loop. Regenerate with `spanmix weights build eeg --all`.\n\n"
            + markdown_table(("weights", "what", "test epochs", "accuracy (%)", "balanced accuracy (%)", "kappa", "size",
                              "command"), rows))


EEG = WeightsTable(
    app="eeg",
    entries=(
        Entry("dbconformer_mne_sample", f"{CONFIGS}/dbconformer_mne_sample.yaml",
              label="DBConformer · MNE sample EEG (real): auditory vs visual"),
        Entry("dbconformer_simulated_mi", f"{CONFIGS}/dbconformer_simulated_mi.yaml",
              label="DBConformer · motor imagery (SIMULATED): left vs right hand"),
    ),
    datamodule=_datamodule,
    describe=_describe,
    metrics_md=_metrics,
)

WEIGHTS = {"eeg": EEG}
