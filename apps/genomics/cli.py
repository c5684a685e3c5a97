"""``spanmix genomics``: HyenaDNA pretraining, fine-tuning and generation.

    spanmix genomics fit  --config apps/genomics/configs/pretrain_ecoli_tiny1k.yaml
    spanmix export --ckpt runs/genomics/pretrain_ecoli_tiny1k/checkpoints/last.ckpt --out runs/genomics/lm
    spanmix genomics fit  --config apps/genomics/configs/finetune_oct4_mafk.yaml --model.init_args.pretrained runs/genomics/lm
    spanmix genomics test --config apps/genomics/configs/finetune_oct4_mafk.yaml --ckpt_path best
    spanmix genomics generate --weights pretrained/genomics/hyenadna_tiny_ecoli --prompt ACGT --max-new-tokens 200 \\
        --temperature 0.8 --top-k 3 [--seed 0]

``fit|validate|test|predict`` go through the harness (``spanmix.apps.harness.run_cli``); a config names its
task and data module by class path (``model: class_path: spanmix.apps.genomics.task.PretrainTask`` with
``data: class_path: spanmix.apps.genomics.data.PretrainDataModule``, or ``ClassifyTask`` with
``ClassificationDataModule``). ``generate`` loads an exported LM (or a ``PretrainTask`` checkpoint) and
prints each base as it is produced, using the recurrent form of the model (``generate.stream``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _generate(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="spanmix genomics generate",
        description="Stream a DNA continuation from a pretrained HyenaDNA LM.",
    )
    parser.add_argument("--weights", required=True, help="export directory (or .ckpt) of a PretrainTask")
    parser.add_argument("--prompt", required=True, help="DNA prompt (A/C/G/T/N, any case)")
    parser.add_argument("--max-new-tokens", type=int, default=100)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--top-k", type=int, default=None)
    parser.add_argument("--seed", type=int, default=None)
    ns = parser.parse_args(list(argv))
    from spanmix.apps.genomics.generate import stream
    from spanmix.apps.genomics.task import load_pretrained_lm

    # Errors (bad prompt, weights) reach the `spanmix` dispatcher, which prints them on one line.
    lm = load_pretrained_lm(ns.weights)
    tokens = stream(lm, ns.prompt, ns.max_new_tokens, ns.temperature, ns.top_k, ns.seed)
    try:
        sys.stdout.write(ns.prompt.upper())
        for base, _ in tokens:
            sys.stdout.write(base)
            sys.stdout.flush()
    finally:
        sys.stdout.write("\n")
    return 0


def main(args: Sequence[str] | None = None):
    """Run ``spanmix genomics <subcommand> ...``; ``args`` is the command line after ``genomics``."""
    args = list(sys.argv[1:] if args is None else args)
    if args and args[0] == "generate":
        code = _generate(args[1:])
        if code:
            raise SystemExit(code)
        return None
    from lightning.pytorch import LightningDataModule
    from spanmix.apps.harness.checkpoint import SpanmixModule
    from spanmix.apps.harness.cli import run_cli

    return run_cli(
        SpanmixModule,
        LightningDataModule,
        args=args,
        app="genomics",
        subclass_mode_model=True,
        subclass_mode_data=True,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
