"""``spanmix video lvmae``: embed a long video, pretrain LV-MAE, probe it.

    spanmix video lvmae embed --input long.mp4 --output DIR [--encoder hist] [--segment-seconds 5]
    spanmix video lvmae fit   --config apps/video/lvmae/configs/lvmae_composite_tiny.yaml
    spanmix video lvmae probe --config apps/video/lvmae/configs/probe_composite_tiny.yaml

``embed`` writes ``DIR/embeddings.safetensors``: ``embeddings`` (segments, D), each row L2-normalised, and
``times`` (segments, 2) start/end seconds; the key's parts (video SHA-256, encoder, segmenting) as metadata.
It goes through the embedding cache (``--cache``, default ``$SPANMIX_CACHE/video/lvmae``), so a killed run
continues where it stopped. ``--encoder`` is ``hist`` (fixed colour/gradient histograms, the offline
default; see ``encoders``) or JSON such as ``{"name": "timm:resnet18", "weights": "resnet18.safetensors"}``.

``fit|validate|test|predict`` are the harness's LightningCLI over ``LVMAETask`` (``predict``: each video's [CLS]
representation); ``probe`` trains the probe of
``ProbeTask`` (``fit``) and then scores the best checkpoint on the test split (``test``), in one command;
``probe fit|test ...`` runs only that half.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _embed(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="spanmix video lvmae embed",
                                description="One L2-normalised embedding per segment of a long video.")
    p.add_argument("--input", required=True, help="a video file FFmpeg reads (.mp4, .mkv, .avi, .webm...)")
    p.add_argument("--output", required=True, help="folder for embeddings.safetensors")
    p.add_argument("--encoder", default="hist", help="'hist' (default) or JSON {\"name\": ..., \"weights\": ...}")
    p.add_argument("--segment-seconds", type=float, default=5.0, help="segment length in seconds (default 5)")
    p.add_argument("--frames", type=int, default=8, help="frames sampled per segment (default 8)")
    p.add_argument("--min-last", type=float, default=1.0, help="keep a last partial segment this long or longer")
    p.add_argument("--cache", default=None, help="embedding cache folder (default $SPANMIX_CACHE/video/lvmae)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    ns = p.parse_args(list(argv))
    import os

    from spanmix.apps.video.lvmae.cache import EmbeddingCache, write_embeddings
    from spanmix.apps.video.lvmae.encoders import build_encoder

    emb = EmbeddingCache(ns.cache).extract(ns.input, build_encoder(ns.encoder), ns.segment_seconds, ns.frames,
                                           min_last=ns.min_last, progress=not ns.no_progress)
    out = write_embeddings(os.path.join(ns.output, "embeddings.safetensors"), emb)
    print(f"{emb.embeddings.shape[0]} segments x {emb.embeddings.shape[1]} dims "
          f"({emb.times[-1, 1].item():.1f} s) -> {out}")
    return 0


def _run(model_class, args, app_suffix=""):
    from spanmix.apps.harness.cli import run_cli
    from spanmix.apps.video.lvmae.data import LVMAEDataModule

    links = [("data.batch_size", "model.batch_size")] if not app_suffix else \
        [("data.num_classes", "model.num_classes", "instantiate")]
    monitor, mode = ("val/acc", "max") if app_suffix else ("val/loss", "min")
    return run_cli(model_class, LVMAEDataModule, args=args, app=f"video_lvmae{app_suffix}", links=links,
                   monitor=monitor, mode=mode,
                   parser_kwargs={"prog": f"spanmix video lvmae{' probe' if app_suffix else ''}",
                                  "description": "spanmix video lvmae: LV-MAE long-video representations"})


def main(args: Sequence[str] | None = None):
    args = list(sys.argv[1:] if args is None else args)
    if args and args[0] == "embed":
        _embed(args[1:])
        return None
    if args and args[0] == "probe":
        from spanmix.apps.video.lvmae.task import ProbeTask

        rest = args[1:]
        if rest and rest[0] in ("fit", "validate", "test", "predict"):
            return _run(ProbeTask, rest, "_probe")
        if any(a in ("-h", "--help") for a in rest):
            return _run(ProbeTask, ["fit", *rest], "_probe")
        _run(ProbeTask, ["fit", *rest], "_probe")
        return _run(ProbeTask, ["test", *rest, "--ckpt_path", "best"], "_probe")
    from spanmix.apps.video.lvmae.task import LVMAETask

    return _run(LVMAETask, args)
