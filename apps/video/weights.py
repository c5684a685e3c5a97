"""The video app's shipped weights (``pretrained/video/``, the hub's Video tab), as entries for the builder.

    spanmix weights build video --all        # LoCoNet (tiny) on the COMPOSITED set; ~1 h on 2 shared CPU cores

``loconet_composite_tiny`` is trained by ``spanmix video asd fit --config
apps/video/asd/configs/loconet_composite_tiny.yaml`` and scored on the composited test split (AP x 100 of
the AV head and of the audio-only / visual-only heads).
"""
from __future__ import annotations

from typing import Any

from spanmix.apps.harness.weights import Built, Entry, WeightsTable

__all__ = ["VIDEO", "WEIGHTS"]


def _datamodule(config: dict[str, Any]):
    from spanmix.apps.video.asd.data import ASDDataModule

    data = config["data"]
    if data.get("class_path", "").rpartition(".")[2] != "ASDDataModule":
        raise ValueError(f"data.class_path must be spanmix.apps.video.asd.data.ASDDataModule, got {data!r}")
    return ASDDataModule(**data.get("init_args", {}))


def _describe(b: Built) -> dict[str, Any]:
    return {"task": "active speaker detection", "data": "COMPOSITED scenes (LFW faces + asterisk speech), test split",
            "command": b.command, "train_seconds": b.train_seconds, "test": b.test,
            "parameters": sum(p.numel() for p in b.task.parameters())}


def _metrics(records: dict[str, dict[str, Any]], out_dir) -> str:
    rows = [f"| `{n}` | {r['test'].get('test/map', float('nan')):.1f} | {r['test'].get('test/map_audio', float('nan')):.1f}"
            f" | {r['test'].get('test/map_visual', float('nan')):.1f} | {r['parameters']:,} | {r['train_seconds']:.0f}"
            f" | `{r['command']}` |" for n, r in records.items()]
    return ("# Shipped video weights\n\n"
            "Trained on this machine's CPU (2 cores shared with ~20 other jobs) by the command in the table "
            "(`spanmix weights build video --all` trains the same config again), "
            "on the **COMPOSITED** active-speaker set (real LFW faces and real recorded speech, mouths drawn from the "
            "speech envelope; `spanmix.datasets.asd_composite`). Test split: faces and utterances unseen in training. "
            "AP x 100 over the target's frames; the audio-only and visual-only columns are the model's own auxiliary "
            "heads. These are not AVA-ActiveSpeaker numbers.\n\n"
            "| entry | test mAP (AV) | audio-only head | visual-only head | parameters | train s | command |\n"
            "|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n")


VIDEO = WeightsTable(
    app="video",
    command=("video", "asd"),
    entries=(Entry("loconet_composite_tiny", "apps/video/asd/configs/loconet_composite_tiny.yaml",
                   label="LoCoNet (tiny), composited scenes"),),
    datamodule=_datamodule,
    describe=_describe,
    metrics_md=_metrics,
)

WEIGHTS = {"video": VIDEO}
