"""Music benchmarks: streaming generation speed of the melody LMs (step form vs full forward).

    python benchmarks/music.py speed                 # events/s with and without the step form

Each part writes ``benchmarks/results/music_<part>.md`` with the load average beside the timings.

1. **speed**: a melody LM (D 96, ``local*3,full``; also ``mamba`` and ``hyena`` bodies) generates 16 bars of
   4/4 over one progression, once streaming through ``MelodyLM.step`` and once with a full forward over
   the prefix per event (``use_step=False``); both sample the same events (tests check it).

Not yet implemented (issue #19): the adapter table (type x size on O'Neill's tunes: trainable parameters,
NLL, histogram distances, compression) and CM-HRNN vs the backbone LMs at the same budget; the models,
``MusicTask`` and ``apps/music/configs/cm_hrnn_chorales.yaml`` are ready for them.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"
LM_DIR = ROOT / "pretrained" / "music" / "melody_lm_folk_chorales"


def _load() -> str:
    return "load average " + ", ".join(f"{x:.1f}" for x in os.getloadavg())


def speed(bars: int = 16, repeats: int = 2) -> str:
    import torch

    from spanmix.apps.music.generate import generate, prepare_progression
    from spanmix.apps.music.models import MelodyLM

    torch.manual_seed(0)
    prog = prepare_progression("C G Am F | Dm G C C", bars)[0]
    rows = []
    for schedule, depth in (("local*3,full", None), ("mamba", 4), ("hyena", 4)):
        lm = MelodyLM(96, schedule, depth=depth, max_len=1024).eval()
        for use_step in (True, False):
            best, n = float("inf"), 0
            for _ in range(repeats):
                t0 = time.perf_counter()
                sheet = generate(lm, prog, seed=0, use_step=use_step)
                best, n = min(best, time.perf_counter() - t0), len(sheet)
            rows.append(f"| `{schedule}`{'' if depth is None else f' ×{depth}'} | {'step form' if use_step else 'full forward per event'} "
                        f"| {n} | {best:.2f} | {n / best:.1f} |")
    return ("# Music: generation speed\n\n"
            f"Untrained melody LMs (D 96) generating {bars} bars of 4/4 over `C G Am F | Dm G C C`, batch 1, CPU, "
            f"best of {repeats}; {_load()} (2 cores shared with other jobs: absolute times are pessimistic).\n\n"
            "| body | path | events | seconds | events/s |\n|---|---|---|---|---|\n" + "\n".join(rows) + "\n")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("part", choices=("speed",))
    p.add_argument("--bars", type=int, default=16)
    ns = p.parse_args(argv)
    text = speed(ns.bars)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"music_{ns.part}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
