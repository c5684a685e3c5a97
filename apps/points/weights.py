"""The points app's shipped weights (``pretrained/points/``, the hub's Points tab and ``spanmix points
classify``): entries for the weights builder.

    spanmix weights build points --all

Each entry is one of our configs trained on a shipped set: the KiCad set (10 classes, 240 train / 40 val / 80
test models, split by model) or the frog anatomy set (15 tissues; one specimen); its record carries the
classes and part names, the points per cloud the model was trained with, and the test scores (OA / mAcc with
and without voting; instance / class mIoU and point accuracy of KiCad part segmentation, whose export makes
the Points tab colour clouds by predicted parts; mIoU and per-tissue Dice; Chamfer L1/L2 and F-score@1%).
"""
from __future__ import annotations

from typing import Any

from spanmix.apps.harness.weights import Built, Entry, WeightsTable, markdown_table

__all__ = ["POINTS", "WEIGHTS"]

CONFIGS = "apps/points/configs"
MEDICAL_SETS = ("frog", "human")


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


def _medical_rows(records: dict[str, dict[str, Any]], out_dir) -> list[str]:
    rows = []
    for name in sorted(records):
        d = records[name]
        if d.get("dataset") not in MEDICAL_SETS:
            continue
        t = d["test_metrics"]
        size = (out_dir / name / "model.safetensors").stat().st_size
        if d["points_task"] == "cls":
            score = f"OA {100 * t['oa']:.1f} %, mAcc {100 * t['macc']:.1f} %"
        elif d["points_task"] == "seg":
            score = f"mIoU {100 * t['miou']:.1f} %, point acc. {100 * t['point_acc']:.1f} %"
        else:
            score = f"CD-L1 {t['cd_l1']:.4f}, CD-L2 {t['cd_l2']:.4f}, F@1% {100 * t['fscore']:.1f} %"
        rows.append((f"`{name}`", d["label"], f"{d['parameters']:,}", d["test_models"], score, f"{size / 1024:.0f} KiB",
                     f"{d['train_seconds']:.0f}", f"`{d['command']}`"))
    return rows


def _metrics(records: dict[str, dict[str, Any]], out_dir) -> str:
    medical = _medical_rows(records, out_dir)
    records = {k: v for k, v in records.items() if v.get("dataset") not in MEDICAL_SETS}
    rows = []
    for name in sorted(records):
        d = records[name]
        t = d["test_metrics"]
        size = (out_dir / name / "model.safetensors").stat().st_size
        cell = lambda k: f"{100 * t[k]:.1f}" if k in t else "–"
        rows.append((f"`{name}`", d["label"], f"{d['parameters']:,}", d["test_models"], cell("oa"), cell("macc"),
                     cell("oa_vote"), cell("macc_vote"), cell("inst_miou"), cell("cls_miou"), cell("point_acc"),
                     f"{size / 1024:.0f} KiB", f"{d['train_seconds']:.0f}", f"`{d['command']}`"))
    return ("# Shipped points weights\n\n"
            "Small GPSFormer weights trained by our configs for the Points tab of the demo hub and `spanmix points "
            "classify`, on the shipped KiCad set (`datasets/samples/points_kicad.npz`: real CAD models of 10 "
            "component classes, split by model, with real per-point body / pins / marking labels from the VRML "
            "materials). Test scores on the 80 test models, computed by loading the export with `load_pretrained` "
            "and Lightning's test loop; `vote`: softmax averaged over the cloud and 4 copies scaled by "
            "U(0.85, 1.15) per axis; part segmentation: instance and class mIoU in the ShapeNetPart convention and "
            "point accuracy. Trained on 2 shared CPU cores, hence the short budgets: these serve the demo, they "
            "are not results about GPSFormer. Regenerate with `spanmix weights build points --all`.\n\n"
            + markdown_table(("weights", "what", "parameters", "test models", "OA (%)", "mAcc (%)", "OA vote (%)",
                              "mAcc vote (%)", "inst. mIoU (%)", "cls. mIoU (%)", "point acc. (%)", "size", "train s",
                              "command"), rows)
            + ("" if not medical else
               "\n## Medical (frog anatomy, point SSM)\n\nTiny point SSM weights (`apps/points/models/point_ssm.py`) "
               "trained by our configs on the shipped frog set (`datasets/samples/points_frog.npz`: surface clouds of "
               "15 tissues of ONE real frog from the pyvista wheel; train and test are different views of the same "
               "organs, so these scores do not measure generalisation across subjects). Test split: 90 partial-organ "
               "clouds (classification, completion; chance 6.7 %), 6 whole-body crops (segmentation; mIoU = macro "
               "Jaccard over the test points of all crops; baseline, the majority tissue everywhere: mIoU 2.7 %, "
               "point acc. 35.2 %). Completion: input with the 20 % nearest a seeded point removed; baseline, the "
               "partial input returned unchanged: CD-L1 0.0463, CD-L2 0.0091, F@1% 50.6 % (256 points); the shipped "
               "model returns that input followed by 64 predicted points (`keep_input`). The classifiers carry "
               "`range_guard` (no non-finite logits on any val/test cloud). "
               "`point_ssm_cls_human`: the shipped human set (`datasets/samples/points_human.npz`: crops of 6 "
               "head structures of the FreeSurfer fsaverage template, ONE average anatomy; 36 test crops centred "
               "where no training crop is, on surface the training crops cover; chance 16.7 %).\n\n"
               + markdown_table(("weights", "what", "parameters", "test clouds", "test scores", "size", "train s",
                                 "command"), medical)))


POINTS = WeightsTable(
    app="points",
    entries=(
        Entry("gpsformer_kicad", f"{CONFIGS}/gpsformer_kicad.yaml",
              label="GPSFormer (tiny) · KiCad component shapes, 10 classes"),
        Entry("gpsformer_partseg_kicad", f"{CONFIGS}/gpsformer_partseg_kicad.yaml",
              label="GPSFormer part segmentation (tiny) · KiCad body / pins / marking"),
        Entry("point_ssm_cls_frog", f"{CONFIGS}/point_ssm_cls_frog.yaml",
              label="Point SSM (tiny) · frog anatomy classification, 15 tissues"),
        Entry("point_ssm_seg_frog", f"{CONFIGS}/point_ssm_seg_frog.yaml",
              label="Point SSM (tiny) · frog tissue segmentation, 15 tissues"),
        Entry("point_ssm_completion_frog", f"{CONFIGS}/point_ssm_completion_frog.yaml",
              label="Point SSM (tiny) · frog organ completion (20 % removed)"),
        Entry("point_ssm_cls_human", f"{CONFIGS}/point_ssm_cls_human.yaml",
              label="Point SSM (tiny) · human head structures (fsaverage), 6 classes"),
    ),
    datamodule=_datamodule,
    describe=_describe,
    metrics_md=_metrics,
)

WEIGHTS = {"points": POINTS}
