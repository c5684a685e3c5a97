"""The restore app's shipped weights (``pretrained/restore/``, the hub's Restore tab) and the SR baselines,
as entries for the harness's weights builder.

    spanmix weights build restore --all          # every entry (CPU-sized configs on the shipped images)
    spanmix weights build restore mair_sr_x2     # one entry

Shipped: ``mair_sr_x2``, ``mair_denoise_s25``, ``mair_unet_deblur``, ``mair_unet_dehaze`` (CPU-sized MaIR /
MaIRUNet). Compared, not shipped: ``mair_raster_sr_x2`` (the same MaIR read in raster order) and
``cnn_sr_x2`` (a plain CNN of the same budget). Every score is on the two shipped test images with
**synthetic degradation of real images**.
"""
from __future__ import annotations

from typing import Any

from spanmix.apps.harness.weights import Built, Entry, WeightsTable, markdown_table

__all__ = ["RESTORE", "WEIGHTS"]

CONFIGS = "apps/restore/configs"


def _datamodule(config: dict[str, Any]):
    from spanmix.apps.restore.data import RestoreDataModule

    return RestoreDataModule(**config.get("data", {}))


def _describe(b: Built) -> dict[str, Any]:
    data = b.config.get("data", {})
    params = sum(p.numel() for p in b.task.net.parameters())
    return {"task": data.get("task", "sr"), "scale": data.get("scale", 2) if data.get("task", "sr") == "sr" else 1,
            "sigma": data.get("sigma", 25.0), "label": b.entry.label, "parameters": params, "command": b.command,
            "train_seconds": b.train_seconds, "test": b.test,
            "data": "shipped scikit-image test images (chelsea, motorcycle), synthetic degradation of real images"}


def _metrics(records: dict[str, dict[str, Any]], out_dir) -> str:
    rows = [(f"`{n}`", r["label"], r["task"], f"{r['parameters']:,}", f"{r['test']['test/psnr']:.2f}",
             f"{r['test']['test/ssim']:.4f}", f"{r['train_seconds']:.0f}", f"`{r['command']}`") for n, r in records.items()]
    return ("# Shipped restore weights\n\n"
            "Trained on this machine's CPU (2 cores shared with other jobs) by `spanmix weights build restore --all`, "
            "each on the 7 shipped training images for a few minutes. Scores: the two shipped test images (chelsea, "
            "motorcycle; 256x256), **synthetic degradation of real images** (seeded), PSNR/SSIM on Y with "
            "crop_border = scale for SR and on RGB otherwise. These are tiny models trained for minutes, not the "
            "paper's models: compare them with the baselines in `benchmarks/results/restore.md`, not with the paper.\n\n"
            + markdown_table(("entry", "model", "task", "parameters", "test PSNR (dB)", "test SSIM", "train s", "command"),
                             rows))


RESTORE = WeightsTable(
    app="restore",
    entries=(
        Entry("mair_sr_x2", f"{CONFIGS}/mair_sr_x2_samples.yaml", label="MaIR (NSS), x2 SR"),
        Entry("mair_denoise_s25", f"{CONFIGS}/mair_denoise_s25_samples.yaml", label="MaIR (NSS), denoising sigma 25"),
        Entry("mair_unet_deblur", f"{CONFIGS}/mair_unet_deblur_samples.yaml", label="MaIRUNet, motion deblurring"),
        Entry("mair_unet_dehaze", f"{CONFIGS}/mair_unet_dehaze_samples.yaml", label="MaIRUNet, dehazing"),
        Entry("mair_raster_sr_x2", f"{CONFIGS}/mair_raster_sr_x2_samples.yaml", label="MaIR (raster scan), x2 SR",
              ship=False),
        Entry("cnn_sr_x2", f"{CONFIGS}/cnn_sr_x2_samples.yaml", label="plain CNN, x2 SR", ship=False),
    ),
    datamodule=_datamodule,
    describe=_describe,
    metrics_md=_metrics,
    results_json=True,
)

WEIGHTS = {"restore": RESTORE}
