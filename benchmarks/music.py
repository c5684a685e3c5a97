"""Music benchmarks: generation speed; adapters for a low-resource style; CM-HRNN vs the melody LM.

    python benchmarks/music.py speed                 # events/s with and without the step form
    python benchmarks/music.py --adapters            # base LM without O'Neill -> O'Neill: fine-tuning vs adapters
    python benchmarks/music.py --cmhrnn              # CM-HRNN vs the melody LM (and the unconditioned LM), chorales
    python benchmarks/music.py --adapters --cmhrnn --quick     # a smoke run of both tables (seconds)

Each part writes ``benchmarks/results/music_<part>.md`` with the command, budget, load average and date.

1. **speed**: a melody LM (D 96, ``local*3,full``; also ``mamba`` and ``hyena`` bodies) generates 16 bars of
   4/4 over one progression, once streaming through ``MelodyLM.step`` and once with a full forward over
   the prefix per event (``use_step=False``); both sample the same events (tests check it).
2. **adapters** (the question of Mehta et al., ACM MM 2025, on symbolic music): the base LM
   (``configs/melody_lm_essen_chorales.yaml``: Essen + chorales, no O'Neill) is adapted to O'Neill's Irish
   tunes (``configs/melody_lm_oneill_adapt.yaml``) by full fine-tuning, by linear / conv / transformer
   adapters of two bottleneck sizes after every block (base frozen), and trained from scratch on the style
   alone; the same steps, batch and learning rate for each, the last model scored (no selection).
3. **cmhrnn**: CM-HRNN (``configs/cm_hrnn_chorales.yaml``, 3 tiers) and the melody LM (conditioned and
   unconditioned) on the chorales, the same windows (144 events), steps and batch; every model is scored
   on the same events (all but the first 16 of each window, ``MusicTask(score_from=16)`` for the LM).

Scores: held-out NLL per event (nats; bar + duration + pitch heads) from ``MusicTask``'s test step; the
unigram/bigram ``MarkovBaseline`` fitted on the style's training pieces. Generated melodies: each held-out
piece is primed with its first 16 real events, then every model (and the Markov baselines) samples the
rest of the piece over the piece's own chords (temperature 1, no top-k; durations never cross a chord
change or bar line, a hold only continues a note; pitches are NOT restricted to the key, so the in-key
ratio means something), at most 112 events; the continuations are scored by ``style_report`` against the
held-out pieces (histogram distances) and by their mean tonal tension (``metrics.tonal_tension``: the
Herremans & Chew spiral-array tensile strain, cloud diameter and cloud momentum per bar, melody + chord
tones), with the real training pieces' events 16..128 as the reference row.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import logging
import math
import os
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"
CONFIGS = ROOT / "apps" / "music" / "configs"
LM_DIR = ROOT / "pretrained" / "music" / "melody_lm_folk_chorales"
PRIME, MAX_EVENTS = 16, 128
ADAPTER_SIZES = (8, 32)


def _load() -> str:
    return "load average " + ", ".join(f"{x:.1f}" for x in os.getloadavg())


def _header(title: str, argv: list[str], budget: str) -> str:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (f"# {title}\n\n`python benchmarks/music.py {' '.join(argv)}` on {now}; CPU, one thread "
            f"(OMP_NUM_THREADS=1), 2 cores shared with other jobs ({_load()} at the start).\n\n{budget}\n\n")


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


# ---------------------------------------------------------------------------------------------- training
def _config(name: str) -> dict:
    import yaml

    return yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())


def _task(cfg: dict, **overrides):
    from spanmix.apps.music.task import MusicTask

    args = {**cfg["model"]["init_args"], **overrides}
    return MusicTask(**args)


def _datamodule(cfg: dict, **overrides):
    from spanmix.apps.music.data import MusicDataModule

    return MusicDataModule(**{**cfg["data"]["init_args"], **overrides})


def _trainer(cfg: dict, steps: int):
    from lightning.pytorch import Trainer

    return Trainer(max_steps=steps, max_epochs=10_000, accelerator="cpu",
                   gradient_clip_val=cfg["trainer"].get("gradient_clip_val"), limit_val_batches=0,
                   num_sanity_val_steps=0, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                   enable_model_summary=False, deterministic=False)


def fit_and_test(task, dm, cfg: dict, steps: int, seed: int = 0) -> tuple[dict[str, float], float]:
    """Train ``task`` for ``steps`` optimiser steps (the task's optimiser: the harness rule), then its test
    metrics on ``dm``'s test split; returns ``(metrics, train seconds)``."""
    from lightning.pytorch import seed_everything

    seed_everything(seed, verbose=False)
    trainer = _trainer(cfg, steps)
    t0 = time.perf_counter()
    if steps > 0:
        trainer.fit(task, dm)
    seconds = time.perf_counter() - t0
    with contextlib.redirect_stdout(io.StringIO()):
        metrics = trainer.test(task, dm, verbose=False)[0]
    task.eval()
    return {k: float(v) for k, v in metrics.items()}, seconds


def trainable(module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


# ---------------------------------------------------------------------------------------------- sampling
class MarkovSampler:
    """Per-head next-event logits of a fitted ``MarkovBaseline`` (its symbol distribution given the previous
    event, marginalised to bar / duration / pitch), for ``continue_piece``."""

    def __init__(self, markov):
        import numpy as np

        from spanmix.apps.music.metrics import N_SYMBOLS

        self.m, self.n = markov, N_SYMBOLS
        uni = np.full(N_SYMBOLS, markov.alpha, float)
        for k, v in markov.uni.items():
            uni[k] += v
        self.p_uni = uni / uni.sum()

    def __call__(self, events, bar_pos, segment) -> dict:
        import numpy as np
        import torch

        if self.m.order == 0 or len(events) < 2:
            p = self.p_uni
        else:
            b, _, d, q = events[-2]
            ctx = self.m.bi.get((b * 16 + d) * 130 + q, {})
            counts = np.zeros(self.n)
            for k, v in ctx.items():
                counts[k] = v
            p = counts + self.m.alpha * self.n * self.p_uni
        p = (p / p.sum()).reshape(2, 16, 130)
        return {"bar": torch.tensor(np.log(p.sum((1, 2)))), "duration": torch.tensor(np.log(p.sum((0, 2)))),
                "pitch": torch.tensor(np.log(p.sum((0, 1))))}


class LMSampler:
    """Next-event logits of a ``MelodyLM`` by a full forward over the piece so far (chords of the whole piece)."""

    def __init__(self, lm, feats):
        import torch

        self.lm = lm.eval()
        self.ctx = [torch.from_numpy(feats[k])[None] for k in ("chords", "chord_pos", "chord_len")]

    def __call__(self, events, bar_pos, segment) -> dict:
        import torch

        with torch.no_grad():
            out = self.lm(torch.tensor([events]), torch.tensor([bar_pos]), torch.tensor([segment]), *self.ctx)
        return {h: v[0, -1] for h, v in out.items()}


class CMHRNNSampler:
    """Next-event logits of a ``CMHRNN``: its forward over the piece so far, padded to whole big frames.

    Padding events carry the chords the real piece has from the current time on (CM-HRNN's chord BiRNN
    reads the future chord track per event, whose event grid is unknown before the melody is sampled)."""

    def __init__(self, net, sheet):
        self.net, self.sheet = net.eval(), sheet
        self.onsets = sheet.onsets()

    def __call__(self, events, bar_pos, segment) -> dict:
        import torch

        from spanmix.apps.music.models.cm_hrnn import cm_hrnn_inputs

        net, T = self.net, len(events)
        unit = net.big_frame if net.tiers == 3 else net.frame
        padded = net.offset + -(-(T - net.offset) // unit) * unit
        t_now = sum(Fraction(int(e[2]) + 1, 4) for e in events[:-1])
        ahead = [int(c) for t, c in zip(self.onsets, self.sheet.events[:, 1]) if t > t_now]
        rows = [list(e) for e in events] + [[0, c, 0, 0] for c in (ahead + [0] * padded)[:padded - T]]
        ev = torch.tensor([rows])
        elapsed = (torch.tensor([list(bar_pos) + [1] * (padded - T)])[:, net.offset:] - 1) % 16
        with torch.no_grad():
            out = net(cm_hrnn_inputs(ev), elapsed)
        return {h: v[0, T - 1 - net.offset] for h, v in out.items()}


def continue_piece(next_logits, sheet, *, prime: int = PRIME, max_events: int = MAX_EVENTS, seed: int = 0):
    """Sample the rest of ``sheet`` after its first ``prime`` real events, over its own chords, with
    ``next_logits(events, bar_pos, segment)`` -> per-head logits of the last (placeholder) event. Returns the
    continuation alone as a ``LeadSheet`` (a hold opening it becomes the primer's sounding pitch)."""
    import numpy as np
    import torch

    from spanmix.apps.music.data import _position, chord_track
    from spanmix.apps.music.events import HOLD, N_DURATIONS, N_PITCHES, REST, STEP, LeadSheet, duration_of

    onsets = sheet.onsets()
    segs = chord_track([(t, duration_of(d), int(c)) for t, (_, c, d, _) in zip(onsets, sheet.events)],
                       sheet.bar_length, sheet.pickup, sheet.length)
    seg_on = np.array([float(s[0]) for s in segs])
    prime = min(prime, len(sheet) - 1)
    rows = sheet.events[:prime].tolist()
    bar_pos = [_position(t, sheet.bar_length, sheet.pickup) for t in onsets[:prime]]
    segment = [int(np.searchsorted(seg_on, float(t), side="right") - 1) for t in onsets[:prime]]
    gen = torch.Generator().manual_seed(seed)
    t, k = onsets[prime], segment[-1]
    while t < sheet.length and len(rows) < max_events:
        while segs[k][0] + segs[k][1] <= t:
            k += 1
        pos = _position(t, sheet.bar_length, sheet.pickup)
        logits = next_logits(rows + [[int(pos == 0), segs[k][2], 0, 0]], bar_pos + [pos], segment + [k])
        room = int((segs[k][0] + segs[k][1] - t) / STEP)
        allowed = torch.ones(N_PITCHES, dtype=torch.bool)
        allowed[HOLD] = rows[-1][3] != REST
        d = _draw(logits["duration"], torch.arange(N_DURATIONS) < room, gen)
        p = _draw(logits["pitch"], allowed, gen)
        rows.append([int(pos == 0), segs[k][2], d, p])
        bar_pos.append(pos)
        segment.append(k)
        t += (d + 1) * STEP
    cont = np.array(rows[prime:], dtype=np.int64).reshape(-1, 4)
    if len(cont) and cont[0, 3] == HOLD:
        cont[0, 3] = next(r[3] for r in reversed(rows[:prime]) if r[3] != HOLD)
    return LeadSheet(cont, sheet.meter, (sheet.pickup - onsets[prime]) % sheet.bar_length, sheet.key,
                     title=sheet.title)


def _draw(logits, allowed, gen) -> int:
    import torch

    z = logits.float().masked_fill(~allowed, float("-inf"))
    return int(torch.multinomial(torch.softmax(z, -1), 1, generator=gen))


def generated_style(make_sampler, pieces, reference, seeds=(0,), max_events: int = MAX_EVENTS) -> dict[str, float]:
    """``style_report`` of continuations of every piece (one per seed) against ``reference``."""
    pieces = [s for s in pieces if len(s) > PRIME + 1]  # CM-HRNN predicts from the 17th event on
    out = [continue_piece(make_sampler(s), s, seed=seed, max_events=max_events) for s in pieces for seed in seeds]
    return melody_report([s for s in out if len(s)], reference)


def melody_report(sheets, reference) -> dict[str, float]:
    """``style_report`` plus the per-piece mean tonal tension (tensile strain, cloud diameter, momentum)."""
    import numpy as np

    from spanmix.apps.music.metrics import style_report, tonal_tension

    out = style_report(sheets, reference)
    tension = [tonal_tension(s) for s in sheets]
    for k in ("tensile_strain", "cloud_diameter", "cloud_momentum"):
        out[k] = float(np.nanmean([t[k] for t in tension]))
    return out


def real_continuations(pieces, max_events: int = MAX_EVENTS):
    from spanmix.apps.music.events import HOLD, LeadSheet

    out = []
    for s in pieces:
        if len(s) <= PRIME:
            continue
        ev = s.events[PRIME:max_events].copy()
        if len(ev) and ev[0, 3] == HOLD:
            ev[0, 3] = next(int(p) for p in s.events[:PRIME, 3][::-1] if p != HOLD)
        if len(ev):
            out.append(LeadSheet(ev, s.meter, (s.pickup - s.onsets()[PRIME]) % s.bar_length, s.key, title=s.title))
    return out


# ---------------------------------------------------------------------------------------------- tables
STYLE_COLS = ("pitch_class_distance", "interval_distance", "duration_distance", "in_key", "chord_tones",
              "compression_ratio", "tensile_strain", "cloud_diameter", "cloud_momentum")
STYLE_HEAD = ("PC dist | interval dist | duration dist | in key | chord tones | compression | tensile strain "
              "| cloud diameter | cloud momentum")


def _style(r: dict | None) -> str:
    return " | ".join("—" if r is None else f"{r[c]:.3f}" for c in STYLE_COLS)


def _nll(m: dict | None) -> str:
    if m is None:
        return "— | — | —"
    return f"{m['test/nll']:.3f} | {m['test/pitch_nll']:.3f} | {m['test/duration_nll']:.3f}"


def adapters(argv: list[str], quick: bool = False, pretrain_steps: int | None = None, steps: int | None = None,
             seeds=(0, 1), lr: float | None = None, only: list[str] | None = None) -> str:
    import torch

    from spanmix.apps.harness.export import save_pretrained
    from spanmix.apps.music.metrics import MarkovBaseline
    from spanmix.apps.music.data import featurize

    base_cfg, cfg = _config("melody_lm_essen_chorales"), _config("melody_lm_oneill_adapt")
    if lr:
        cfg["model"]["init_args"]["lr"] = lr
    pretrain_steps = pretrain_steps or (3 if quick else base_cfg["trainer"]["max_steps"])
    steps = steps or (2 if quick else cfg["trainer"]["max_steps"])
    seeds = seeds[:1] if quick else seeds
    n_pieces, max_events = (2, 32) if quick else (None, MAX_EVENTS)
    started = time.time()
    header = _header("Music: adapters for a low-resource style (O'Neill's Irish tunes)", argv,
                     f"Budget: base pretrained {pretrain_steps} steps on Essen + chorales (no O'Neill); every adaptation "
                     f"{steps} steps x batch {cfg['data']['init_args']['batch_size']} windows of "
                     f"{cfg['data']['init_args']['seq_len']} events, lr {cfg['model']['init_args']['lr']}, AdamW "
                     f"(harness param groups), the last model scored; generated: {len(seeds)} continuation(s) per "
                     f"held-out piece{' (QUICK smoke run: numbers mean nothing)' if quick else ''}.")
    dm = _datamodule(cfg)
    dm.setup()
    train, test = dm.splits["train"], dm.splits["test"][:n_pieces]
    torch.set_num_threads(1)

    with tempfile.TemporaryDirectory() as tmp:
        base = _task(base_cfg)
        base_metrics, base_s = fit_and_test(base, _datamodule(base_cfg), base_cfg, pretrain_steps)
        save_pretrained(base, Path(tmp) / "base")
        print(f"base: {base_metrics.get('test/nll', float('nan')):.3f} nats/event on Essen + chorales test, "
              f"{base_s:.0f} s", flush=True)
        runs = [("pretrained base, not adapted", {"adapters": None}, 0),
                ("full fine-tuning", {"adapters": None}, steps)]
        runs += [(f"{kind} adapter, size {size}", {"adapters": {"kind": kind, "size": size}}, steps)
                 for kind in ("linear", "conv", "transformer") for size in ADAPTER_SIZES]
        runs += [("from scratch on O'Neill", {"adapters": None, "pretrained": None}, steps)]
        runs = [r for r in runs if not only or any(o in r[0] for o in only)]
        rows = []
        for label, over, n_steps in runs:
            over = {"pretrained": str(Path(tmp) / "base"), **over}
            task = _task(cfg, **over)
            if n_steps == 0:
                task.setup("fit")
            metrics, seconds = fit_and_test(task, _datamodule(cfg), cfg, n_steps)
            style = generated_style(lambda s: LMSampler(task.net, featurize(s)), test, test, seeds, max_events)
            rows.append(f"| {label} | {trainable(task.net) if n_steps else 0:,} | {_nll(metrics)} | {_style(style)} "
                        f"| {seconds:.0f} |")
            print(rows[-1], flush=True)
        for order, name in ((0, "unigram"), (1, "bigram")):
            markov = MarkovBaseline(order).fit(train)
            style = generated_style(lambda s: MarkovSampler(markov), test, test, seeds, max_events)
            rows.append(f"| {name} (Markov) on O'Neill train | — | {markov.nll(dm.splits['test']):.3f} | — | — "
                        f"| {_style(style)} | 0 |")
        rows.append(f"| real O'Neill train pieces (events {PRIME}..{MAX_EVENTS}) | — | — | — | — "
                    f"| {_style(melody_report(real_continuations(train), test))} | — |")
    return (header + f"Base: {base_metrics.get('test/nll', float('nan')):.3f} nats/event on the Essen + chorales test "
            f"pieces after {base_s:.0f} s. O'Neill: {len(train)} training pieces, {len(dm.splits['test'])} held-out "
            f"pieces (NLL), {len(test)} continued per seed (style). Adapters sit after each of the 4 blocks (D 96).\n\n"
            f"| model | trainable params | test NLL | pitch NLL | duration NLL | {STYLE_HEAD} | train s |\n"
            + "|---" * 15 + "|\n" + "\n".join(rows) + "\n\n"
            f"Distances: total variation to the held-out O'Neill pieces' histograms (0 = same). Markov NLL is per "
            f"event over whole pieces (the LMs score windows of {cfg['data']['init_args']['seq_len']} events). "
            f"Whole run {time.time() - started:.0f} s.\n")


def cmhrnn(argv: list[str], quick: bool = False, steps: int | None = None, seeds=(0,)) -> str:
    import torch

    from spanmix.apps.music.data import featurize
    from spanmix.apps.music.metrics import MarkovBaseline

    cm_cfg, lm_cfg = _config("cm_hrnn_chorales"), _config("melody_lm_chorales")
    seq_len, batch = cm_cfg["data"]["init_args"]["seq_len"], cm_cfg["data"]["init_args"]["batch_size"]
    steps = steps or (2 if quick else 200)
    n_pieces, max_events = (2, 32) if quick else (None, MAX_EVENTS + PRIME)
    started = time.time()
    header = _header("Music: CM-HRNN vs the melody LM on the chorales", argv,
                     f"Budget: {steps} steps x batch {batch} windows of {seq_len} events for every model, AdamW (harness "
                     "param groups) at each config's lr, the last model scored"
                     f"{' (QUICK smoke run: numbers mean nothing)' if quick else ''}.")
    dm = _datamodule(cm_cfg)
    dm.setup()
    train, test = dm.splits["train"], dm.splits["test"][:n_pieces]
    torch.set_num_threads(1)
    lm_opts = dict(lm_cfg["model"]["init_args"]["model_options"], max_len=256)
    runs = [("CM-HRNN 3-tier (+ time in bar)", cm_cfg,
             {"model_options": {**cm_cfg["model"]["init_args"]["model_options"], "remaining_time": True}}),
            ("melody LM local*3,full (chords)", lm_cfg, {"model_options": lm_opts, "score_from": 16}),
            ("melody LM, unconditioned", lm_cfg,
             {"model_options": {**lm_opts, "conditioning": False}, "score_from": 16})]
    rows = []
    for label, cfg, over in runs:
        task = _task(cfg, **over)
        metrics, seconds = fit_and_test(task, _datamodule(cm_cfg), cfg, steps)
        if task.hparams.model == "cm_hrnn":
            make = lambda s: CMHRNNSampler(task.net, s)  # noqa: E731
        else:
            make = lambda s: LMSampler(task.net, featurize(s))  # noqa: E731
        style = generated_style(make, test, test, seeds, max_events)
        rows.append(f"| {label} | {sum(p.numel() for p in task.net.parameters()):,} | {_nll(metrics)} "
                    f"| {metrics['test/bar_nll']:.4f} | {_style(style)} | {seconds:.0f} |")
        print(rows[-1], flush=True)
    for order, name in ((0, "unigram"), (1, "bigram")):
        markov = MarkovBaseline(order).fit(train)
        style = generated_style(lambda s: MarkovSampler(markov), test, test, seeds, max_events)
        rows.append(f"| {name} (Markov) | — | {markov.nll(dm.splits['test']):.3f} | — | — | — | {_style(style)} | 0 |")
    rows.append(f"| real chorale train pieces (events {PRIME}..{MAX_EVENTS}) | — | — | — | — | — "
                f"| {_style(melody_report(real_continuations(train), test))} | — |")
    return (header + f"Chorales: {len(train)} training pieces, {len(dm.splits['test'])} held-out pieces.\n\n"
            f"How the NLLs are made comparable: both models predict the same three heads (bar flag, duration, pitch; "
            f"independent given the past and the chords) and the NLL per event is the sum of the three "
            f"cross-entropies, on the same windows of {seq_len} events and the same scored events (all but the first "
            "16 of each window, where CM-HRNN's big frame needs context). CM-HRNN trains on its weighted loss "
            "(0.4/0.3/0.3) but is scored on the unweighted sum. CM-HRNN reads the one-hot of the time elapsed in "
            "the bar (the official `ad_rm` variant) because the LM reads each event's position in the bar; without "
            "it CM-HRNN's bar head must infer the position from the durations. Both see the chords ahead (CM-HRNN "
            "through its chord BiRNN over the next-event chords, the LM through its chord encoder).\n\n"
            f"| model | params | test NLL | pitch NLL | duration NLL | bar NLL | {STYLE_HEAD} | train s |\n"
            + "|---" * 16 + "|\n" + "\n".join(rows) + "\n\n"
            "Distances: total variation to the held-out chorales' histograms. Markov NLL is per event over whole "
            f"pieces (all events, not only those after the 16th). Whole run {time.time() - started:.0f} s.\n")


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("part", nargs="*", help="speed | adapters | cmhrnn (or the flags below)")
    p.add_argument("--speed", action="store_true")
    p.add_argument("--adapters", action="store_true")
    p.add_argument("--cmhrnn", action="store_true")
    p.add_argument("--quick", action="store_true", help="a few steps and pieces: a smoke run of the tables")
    p.add_argument("--steps", type=int, default=None, help="training steps per model (default: the configs')")
    p.add_argument("--pretrain-steps", type=int, default=None)
    p.add_argument("--adapt-lr", type=float, default=None,
                   help="adapters: another learning rate for every adaptation (table music_adapters_lr<LR>.md)")
    p.add_argument("--only", nargs="+", default=None, help="adapters: only the rows whose label holds one of these")
    p.add_argument("--bars", type=int, default=16)
    p.add_argument("--out", type=Path, default=RESULTS)
    ns = p.parse_args(argv)
    parts = [x for x in ("speed", "adapters", "cmhrnn") if x in ns.part or getattr(ns, x)]
    if not parts or set(ns.part) - set(parts):
        p.error("name a part: speed, --adapters or --cmhrnn")
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    ns.out.mkdir(parents=True, exist_ok=True)
    for part in parts:
        if part == "speed":
            text = speed(ns.bars)
        elif part == "adapters":
            text = adapters(argv, ns.quick, ns.pretrain_steps, ns.steps, lr=ns.adapt_lr, only=ns.only)
        else:
            text = cmhrnn(argv, ns.quick, ns.steps)
        name = f"music_{part}" + (f"_lr{ns.adapt_lr:g}" if part == "adapters" and ns.adapt_lr else "")
        (ns.out / f"{name}.md").write_text(text)
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
