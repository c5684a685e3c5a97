"""The points app's shipped weights (``pretrained/points/``, the hub's Points tab and ``spanmix points
classify``): entries for the weights builder.

    spanmix weights build points --all

Each entry is one of our configs trained on the shipped KiCad set (10 classes, 240 train / 40 val / 80 test
models, split by model); its record carries the classes and part names, the points per cloud the model was
trained with, and its test scores: OA / mAcc with and without voting (classification), instance / class
mIoU and point accuracy (part segmentation; the Points tab colours clouds by the predicted parts when such an
export is shipped).
"""
from __future__ import annotations

from typing import Any

from spanmix.apps.harness.weights import Built, Entry, WeightsTable

__all__ = ["POINTS", "WEIGHTS"]

CONFIGS = "apps/points/configs"


def _datamodule(config: dict[str, Any]):
    from spanmix.apps.points.data import PointDataModule

    return PointDataModule(**config["data"])


def _describe(b: Built) -> dict[str, Any]:
    data, hp = b.config["data"], b.task.hparams
    return {
        "label": b.entry.label,
        "model": b.config["model"]["model"],
        "points_task": hp.task,
        "dataset": data.get("dataset", "kicad"),
        "n_points": data.get("n_points", 1024),
        "classes": list(hp.classes or []),
        "part_names": list(hp.part_names or []),
        "parameters": sum(p.numel() for p in b.task.net.parameters()),
        "test_models": len(b.datamodule.splits["test"]["label"]),
        "test_metrics": {k.split("/", 1)[1]: round(float(v), 4) for k, v in b.test.items() if k != "test/loss"},
        "config_file": b.entry.config,
        "command": b.command,
        "regenerate": b.regenerate,
        "train_seconds": b.train_seconds,
        "trained_on": "cpu",
    }


def _metrics(records: dict[str, dict[str, Any]], out_dir) -> str:
    rows = []
    for name in sorted(records):
        d = records[name]
        t = d["test_metrics"]
        size = (out_dir / name / "model.safetensors").stat().st_size
        cell = lambda k: f"{100 * t[k]:.1f}" if k in t else "–"
        rows.append(f"| `{name}` | {d['label']} | {d['parameters']:,} | {d['test_models']} | {cell('oa')} | "
                    f"{cell('macc')} | {cell('oa_vote')} | {cell('macc_vote')} | {cell('inst_miou')} | "
                    f"{cell('cls_miou')} | {cell('point_acc')} | {size / 1024:.0f} KiB | "
                    f"{d['train_seconds']:.0f} | `{d['command']}` |")
    return ("# Shipped points weights\n\n"
            "Small GPSFormer weights trained by our configs for the Points tab of the demo hub and `spanmix points "
            "classify`, on the shipped KiCad set (`datasets/samples/points_kicad.npz`: real CAD models of 10 "
            "component classes, split by model, with real per-point body / pins / marking labels from the VRML "
            "materials). Test scores on the 80 test models, computed by loading the export with `load_pretrained` "
            "and Lightning's test loop; `vote`: softmax averaged over the cloud and 4 copies scaled by "
            "U(0.85, 1.15) per axis; part segmentation: instance and class mIoU in the ShapeNetPart convention and "
            "point accuracy. Trained on 2 shared CPU cores, hence the short budgets: these serve the demo, they "
            "are not results about GPSFormer. Regenerate with `spanmix weights build points --all`.\n\n"
            "| weights | what | parameters | test models | OA (%) | mAcc (%) | OA vote (%) | mAcc vote (%) | "
            "inst. mIoU (%) | cls. mIoU (%) | point acc. (%) | size | train s | command |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n")


POINTS = WeightsTable(
    app="points",
    entries=(
        Entry("gpsformer_kicad", f"{CONFIGS}/gpsformer_kicad.yaml",
              label="GPSFormer (tiny) · KiCad component shapes, 10 classes"),
        Entry("gpsformer_partseg_kicad", f"{CONFIGS}/gpsformer_partseg_kicad.yaml",
              label="GPSFormer part segmentation (tiny) · KiCad body / pins / marking"),
    ),
    datamodule=_datamodule,
    describe=_describe,
    metrics_md=_metrics,
)

WEIGHTS = {"points": POINTS}
