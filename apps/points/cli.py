"""``spanmix points``: train / score point models (LightningCLI via the harness) and classify a file.

    spanmix points fit  --config apps/points/configs/gpsformer_kicad.yaml
    spanmix points test --config apps/points/configs/gpsformer_kicad.yaml --ckpt_path best
    spanmix points classify --weights pretrained/points/gpsformer_kicad --input part.stl [--json] [--parts OUT.ply]
    spanmix points fewshot --config apps/points/configs/gpsformer_kicad.yaml --way 5 --shot 10 --folds 10

The data module's shape (``num_classes``, ``num_parts``, ``num_categories``, ``in_channels``), its
class and part names and the task (``cls``/``partseg``) are copied into the task; set them on ``data``.
"""
from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["LINKS", "main"]

_FROM_DATA = ("num_classes", "num_parts", "num_categories", "in_channels", "classes", "part_names", "parts_of_category")
LINKS = tuple((f"data.{k}", f"model.{k}", "instantiate") for k in _FROM_DATA) + (("data.task", "model.task"),)


def main(args: Sequence[str] | None = None):
    """Run ``spanmix points <subcommand> ...``; ``args`` is the command line after ``points``."""
    args = list(sys.argv[1:] if args is None else args)
    if args and args[0] == "classify":
        from spanmix.apps.points.classify import main as classify_main

        classify_main(args[1:])
        return None
    if args and args[0] == "fewshot":
        from spanmix.apps.points.fewshot_cli import main as fewshot_main

        return fewshot_main(args[1:])
    from spanmix.apps.harness.cli import run_cli
    from spanmix.apps.points.data import PointDataModule
    from spanmix.apps.points.task import PointsTask

    return run_cli(PointsTask, PointDataModule, args=args, app="points", links=LINKS)


if __name__ == "__main__":
    main(sys.argv[1:])
