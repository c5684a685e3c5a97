"""``spanmix music``: train/evaluate melody models, and generate a melody over a chord progression.

    spanmix music fit  --config apps/music/configs/melody_lm_folk.yaml
    spanmix music test --config apps/music/configs/melody_lm_folk.yaml --ckpt_path best
    spanmix export --ckpt runs/music/melody_lm_folk/checkpoints/last.ckpt --out runs/music/lm
    spanmix music generate --weights pretrained/music/melody_lm_folk --chords "C G Am F | Dm G C C" --bars 8 \\
        --output melody.mid [--meter 3/4] [--seed 0] [--temperature 0.9] [--top-k 20] [--top-p 0.95]

``generate`` writes ``.mid`` (melody + a block-chord track), ``.musicxml``/``.xml`` (score with chord
symbols), ``.abc`` or ``.wav`` (FluidSynth with a General MIDI soundfont, or a plain additive synth when
FluidSynth is missing) by the output's suffix, streaming events through the LM's step form.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _generate(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="spanmix music generate",
                                description="Generate a melody over a chord progression with a melody LM.")
    p.add_argument("--weights", required=True, help="export directory (or .ckpt) of a melody-LM task")
    p.add_argument("--chords", required=True, help='progression, bars split by "|": "C G Am F | Dm G C C"')
    p.add_argument("--bars", type=int, default=8, help="bars to generate (the progression repeats to fill them)")
    p.add_argument("--output", required=True, help="melody.mid | .musicxml | .xml | .abc | .wav")
    p.add_argument("--meter", default="4/4")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-k", type=int, default=None)
    p.add_argument("--top-p", type=float, default=None)
    p.add_argument("--no-key", action="store_true", help="allow pitches outside the key")
    p.add_argument("--low", type=int, default=55, help="lowest MIDI pitch (default 55 = G3)")
    p.add_argument("--high", type=int, default=84, help="highest MIDI pitch (default 84 = C6)")
    ns = p.parse_args(list(argv))
    from spanmix.apps.music.generate import generate_file

    # Bad weights, chords or outputs raise our errors; the dispatcher prints them on one line (exit 2).
    out, sheet = generate_file(ns.weights, ns.chords, ns.bars, ns.output, meter=ns.meter, seed=ns.seed,
                               temperature=ns.temperature, top_k=ns.top_k, top_p=ns.top_p,
                               in_key=not ns.no_key, pitch_range=(ns.low, ns.high), progress=True)
    print(f"wrote {out}: {len(sheet.notes())} notes and rests, {ns.bars} bars in {sheet.key}")
    return 0


def main(args: Sequence[str] | None = None):
    """Run ``spanmix music <subcommand> ...``; ``args`` is the command line after ``music``."""
    args = list(sys.argv[1:] if args is None else args)
    if args and args[0] == "generate":
        code = _generate(args[1:])
        if code:
            raise SystemExit(code)
        return None
    from lightning.pytorch import LightningDataModule
    from spanmix.apps.harness.checkpoint import SpanmixModule
    from spanmix.apps.harness.cli import run_cli

    return run_cli(SpanmixModule, LightningDataModule, args=args, app="music", monitor="val/nll",
                   subclass_mode_model=True, subclass_mode_data=True)


if __name__ == "__main__":
    main(sys.argv[1:])
