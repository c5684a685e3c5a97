"""``spanmix video asd``: train/evaluate LoCoNet, and score speakers in your own clip.

    spanmix video asd fit  --config apps/video/asd/configs/loconet_composite_tiny.yaml
    spanmix video asd test --config apps/video/asd/configs/loconet_composite_tiny.yaml --ckpt_path best
    spanmix video asd predict --weights pretrained/video/loconet_composite_tiny --video clip.mp4 --output DIR

``predict`` with ``--weights`` runs the whole pipeline (``pipeline.run``) and writes ``DIR/scores.csv`` (AVA
result layout) and ``DIR/annotated.mp4``; without ``--weights`` it is LightningCLI's predict.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _predict(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="spanmix video asd predict",
                                     description="Active speaker detection on a clip with sound.")
    parser.add_argument("--weights", required=True, help="an export directory (e.g. pretrained/video/<entry>)")
    parser.add_argument("--video", required=True, help="a video file with an audio track")
    parser.add_argument("--output", required=True, help="folder for scores.csv and annotated.mp4")
    parser.add_argument("--max-seconds", type=float, default=600.0, help="refuse longer clips (default 600)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    ns = parser.parse_args(list(argv))
    from spanmix.apps.video.asd.pipeline import run, write_outputs

    # Bad clips and weights raise our errors; the dispatcher prints them on one line (exit 2, --debug: traceback).
    result = run(ns.video, ns.weights, max_seconds=ns.max_seconds, progress=not ns.no_progress)
    csv_path, video_path = write_outputs(result, ns.output)
    print(f"{len(result.tracks)} face tracks; wrote {csv_path} and {video_path}")
    return 0


def main(args: Sequence[str] | None = None):
    args = list(sys.argv[1:] if args is None else args)
    if args and args[0] == "predict" and any(a == "--weights" or a.startswith("--weights=") for a in args):
        code = _predict(args[1:])
        if code:
            raise SystemExit(code)
        return None
    from lightning.pytorch import LightningDataModule
    from spanmix.apps.harness.checkpoint import SpanmixModule
    from spanmix.apps.harness.cli import run_cli

    # Runs go to runs/video_asd/<experiment>.
    return run_cli(SpanmixModule, LightningDataModule, args=args, app="video_asd", monitor="val/map", mode="max",
                   subclass_mode_model=True, subclass_mode_data=True,
                   parser_kwargs={"prog": "spanmix video asd",
                                  "description": "spanmix video asd: LoCoNet active speaker detection"})
