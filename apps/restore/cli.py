"""``spanmix restore``: MaIR image restoration (super-resolution, denoising, deblurring, dehazing).

    spanmix restore fit     --config apps/restore/configs/mair_light_sr_x2_samples.yaml
    spanmix restore test    --config apps/restore/configs/mair_light_sr_x2_samples.yaml --ckpt_path best
    spanmix restore predict --config ... --ckpt_path best     # PNGs in runs/restore/<exp>/predictions/
    spanmix restore apply --weights pretrained/restore/mair_sr_x2 --input in.png --output out.png \\
        [--tile 128 --tile-overlap 16] [--self-ensemble] [--max-pixels N]
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main", "load_restorer"]


def load_restorer(path):
    """``(net, task_hparams)`` of an export directory of a ``RestoreTask``."""
    from spanmix.apps.harness.export import load_pretrained
    from spanmix.apps.restore.task import RestoreTask

    path = Path(path)
    if not (path / "config.json").is_file():
        raise ValueError(f"--weights {path}: not an export directory (expected model.safetensors + config.json)")
    module = load_pretrained(path)
    if not isinstance(module, RestoreTask):
        raise ValueError(f"--weights {path}: holds a {type(module).__name__}, not a restore model")
    return module.net.eval(), dict(module.hparams)


def _apply(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="spanmix restore apply",
                                     description="Restore one image with exported weights.")
    parser.add_argument("--weights", required=True, help="export directory, e.g. pretrained/restore/mair_sr_x2")
    parser.add_argument("--input", required=True, help="8-bit RGB or grey image (PNG, JPEG, ...)")
    parser.add_argument("--output", required=True, help="where to write the restored PNG")
    parser.add_argument("--tile", type=int, default=None, help="tile side in input pixels (default: whole image)")
    parser.add_argument("--tile-overlap", type=int, default=16, help="context pixels around each tile's kept core")
    parser.add_argument("--self-ensemble", action="store_true", help="average over the 8 flips/rotations (x8 time)")
    parser.add_argument("--max-pixels", type=int, default=1024 * 1024,
                        help="refuse larger inputs unless tiled (default 1 Mpx; with --tile: 64 Mpx)")
    ns = parser.parse_args(list(argv))
    from PIL import Image

    from spanmix.apps.restore.inference import restore
    from spanmix.datasets.restore import read_image, to_tensor, to_uint8

    # Errors (bad image, weights, tiling options) reach the `spanmix` dispatcher, which prints them on one line.
    net, hp = load_restorer(ns.weights)
    cap = ns.max_pixels if ns.tile is None or ns.max_pixels != 1024 * 1024 else 64 * 1024 * 1024
    img = read_image(ns.input, max_pixels=cap)
    scale = hp.get("scale", 1) if hp.get("task") == "sr" else 1
    started = time.perf_counter()
    out = restore(net, to_tensor(img), scale=scale, tile=ns.tile, overlap=ns.tile_overlap,
                  self_ensemble=ns.self_ensemble)
    seconds = time.perf_counter() - started
    Image.fromarray(to_uint8(out)).save(ns.output)
    h, w = img.shape[:2]
    print(f"{ns.input} ({w}x{h}) -> {ns.output} ({out.shape[2]}x{out.shape[1]}), {hp.get('task')} in {seconds:.2f} s"
          f"{' (x8 self-ensemble)' if ns.self_ensemble else ''}{f' (tiles of {ns.tile})' if ns.tile else ''}")
    return 0


def _png_writer():
    from lightning.pytorch.callbacks import BasePredictionWriter

    class PNGWriter(BasePredictionWriter):
        """Writes each predicted image to ``<run>/predictions/<name>.png``."""

        def __init__(self):
            super().__init__(write_interval="batch")

        def write_on_batch_end(self, trainer, pl_module, prediction, batch_indices, batch, batch_idx, dataloader_idx):
            from PIL import Image

            from spanmix.datasets.restore import to_uint8

            out_dir = Path(trainer.default_root_dir) / "predictions"
            out_dir.mkdir(parents=True, exist_ok=True)
            for name, img in zip(prediction["name"], prediction["output"]):
                Image.fromarray(to_uint8(img)).save(out_dir / f"{name}.png")

    return PNGWriter()


def main(args: Sequence[str] | None = None):
    """Run ``spanmix restore <subcommand> ...``; ``args`` is the command line after ``restore``."""
    args = list(sys.argv[1:] if args is None else args)
    if args and args[0] == "apply":
        code = _apply(args[1:])
        if code:
            raise SystemExit(code)
        return None
    from spanmix.apps.harness.cli import run_cli
    from spanmix.apps.restore.data import RestoreDataModule
    from spanmix.apps.restore.task import RestoreTask

    return run_cli(RestoreTask, RestoreDataModule, args=args, app="restore", callbacks=[_png_writer],
                   links=[("data.task", "model.task"), ("data.scale", "model.scale")])


if __name__ == "__main__":
    main(sys.argv[1:])
