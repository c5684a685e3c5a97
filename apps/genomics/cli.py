"""``spanmix genomics``: HyenaDNA pretraining, fine-tuning, generation, scoring and embeddings.

    spanmix genomics fit  --config apps/genomics/configs/pretrain_ecoli_tiny1k.yaml
    spanmix export --ckpt runs/genomics/pretrain_ecoli_tiny1k/checkpoints/last.ckpt --out runs/genomics/lm
    spanmix genomics fit  --config apps/genomics/configs/finetune_oct4_mafk.yaml --model.init_args.pretrained runs/genomics/lm
    spanmix genomics test --config apps/genomics/configs/finetune_oct4_mafk.yaml --ckpt_path best
    spanmix genomics generate --weights pretrained/genomics/hyenadna_tiny_ecoli --prompt ACGT --max-new-tokens 200 \\
        --temperature 0.8 --top-k 3 [--seed 0]
    spanmix genomics score --weights DIR (--fasta in.fa | --sequence ACGT...) [--variant 11:G ...]
    spanmix genomics embed --weights DIR (--fasta in.fa | --sequence ACGT...) --out emb.npz [--pooling mean]

``fit|validate|test|predict`` go through the harness (``spanmix.apps.harness.run_cli``); a config names its
task and data module by class path (``model: class_path: spanmix.apps.genomics.task.PretrainTask`` with
``data: class_path: spanmix.apps.genomics.data.PretrainDataModule``, or ``ClassifyTask`` with
``ClassificationDataModule``). ``generate`` loads an exported LM (or a ``PretrainTask`` checkpoint) and
prints each base as it is produced, using the recurrent form of the model (``generate.stream``). ``score``
prints each sequence's log-likelihood (tab-separated: name, length, log-likelihood in nats, bits per scored
base), or with ``--variant POS:ALT`` (1-based POS, as in VCF; one sequence) each SNV's log-likelihood ratio
(``spanmix.apps.genomics.score``). ``embed`` writes pooled final hidden states: ``.npz`` with ``names`` and
``embeddings`` (N, d_model), or ``.npy`` with the array alone. ``--weights`` of all three takes our exports,
a ``PretrainTask`` ``.ckpt`` or an official HyenaDNA checkpoint (``spanmix.apps.genomics.official``).
"""

from __future__ import annotations

import argparse
import math
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


def _inputs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", required=True,
                        help="export directory or .ckpt of a PretrainTask, or an official HyenaDNA checkpoint")
    parser.add_argument("--fasta", help="FASTA file of sequences (A/C/G/T/N)")
    parser.add_argument("--sequence", help="one DNA sequence")
    parser.add_argument("--batch-size", type=int, default=16)


def _read_inputs(ns: argparse.Namespace) -> tuple[list[str], list[str]]:
    from spanmix.apps.harness.errors import SpanmixError

    if (ns.fasta is None) == (ns.sequence is None):
        raise SpanmixError(f"give exactly one of --fasta or --sequence")
    if ns.sequence is not None:
        return ["sequence"], [ns.sequence]
    from spanmix.datasets.genomics import iter_fasta

    records = [(header.split()[0] if header else "", seq) for header, seq in iter_fasta(ns.fasta)]
    if not records:
        raise SpanmixError(f"{ns.fasta}: no FASTA records ('>name' lines) found")
    return [r[0] for r in records], [r[1] for r in records]


def _score(argv: Sequence[str]) -> int:
    prog = "spanmix genomics score"
    parser = argparse.ArgumentParser(prog=prog, description="Log-likelihood of DNA sequences, or of SNVs, "
                                     "under a pretrained HyenaDNA LM.")
    _inputs(parser)
    parser.add_argument("--variant", action="append", default=[],
                        help="POS:ALT, a single-nucleotide variant at 1-based POS (repeatable; one sequence)")
    ns = parser.parse_args(list(argv))
    from spanmix.apps.genomics.score import log_likelihood, variant_effect
    from spanmix.apps.genomics.task import load_pretrained_lm
    from spanmix.apps.harness.errors import SpanmixError

    names, seqs = _read_inputs(ns)
    variants = []
    for v in ns.variant:
        pos, _, alt = v.partition(":")
        if not pos.isdigit() or not alt:
            raise SpanmixError(f"--variant {v!r} is not POS:ALT (1-based position, one base), e.g. 11:G")
        variants.append((int(pos) - 1, alt))
    if variants and len(seqs) != 1:
        raise SpanmixError(f"--variant scores one sequence; the input holds {len(seqs)}")
    lm = load_pretrained_lm(ns.weights)
    if variants:
        effects = [variant_effect(lm, seqs[0], pos, alt) for pos, alt in variants]  # all checked before output
        print("pos\tref\talt\tllr\tallele_llr")
        for pos, e in zip((v[0] for v in variants), effects):
            allele = "NA" if e.allele_llr is None else f"{e.allele_llr:.6f}"
            print(f"{pos + 1}\t{e.ref}\t{e.alt}\t{e.llr:.6f}\t{allele}")
        return 0
    print("name\tlength\tlog_likelihood\tbits_per_nt")
    for name, seq, ll in zip(names, seqs, log_likelihood(lm, seqs, ns.batch_size)):
        total = float(ll.sum())
        print(f"{name}\t{len(seq)}\t{total:.6f}\t{-total / len(ll) / math.log(2):.6f}")
    return 0


def _embed(argv: Sequence[str]) -> int:
    prog = "spanmix genomics embed"
    parser = argparse.ArgumentParser(prog=prog, description="Pooled HyenaDNA embeddings of DNA sequences.")
    _inputs(parser)
    parser.add_argument("--out", required=True, help="output .npz (names + embeddings) or .npy (embeddings)")
    parser.add_argument("--pooling", choices=("mean", "last"), default="mean")
    ns = parser.parse_args(list(argv))
    import numpy as np
    from spanmix.apps.genomics.score import embed
    from spanmix.apps.genomics.task import load_pretrained_lm
    from spanmix.apps.harness.errors import SpanmixError

    if not ns.out.endswith((".npz", ".npy")):
        raise SpanmixError(f"--out must end in .npz or .npy, got {ns.out!r}")
    names, seqs = _read_inputs(ns)
    emb = embed(load_pretrained_lm(ns.weights), seqs, ns.pooling, ns.batch_size).numpy()
    if ns.out.endswith(".npz"):
        np.savez(ns.out, names=np.array(names), embeddings=emb)
    else:
        np.save(ns.out, emb)
    print(f"wrote {emb.shape[0]} x {emb.shape[1]} embeddings ({ns.pooling} pooling) to {ns.out}")
    return 0


COMMANDS = {"generate": _generate, "score": _score, "embed": _embed}


def main(args: Sequence[str] | None = None):
    """Run ``spanmix genomics <subcommand> ...``; ``args`` is the command line after ``genomics``."""
    args = list(sys.argv[1:] if args is None else args)
    if args and args[0] in COMMANDS:
        code = COMMANDS[args[0]](args[1:])
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
