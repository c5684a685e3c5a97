"""Video benchmarks (LV-MAE part): probe accuracy and masked-segment loss with random vs importance masking and
with each encoder-body mixer at the same budget, on the COMPOSITED long videos (hist encoder); pretraining
throughput (segments/s) and memory at 256 segment tokens; embedding-extraction speed per minute of video.

    python benchmarks/video_lvmae.py                  # ~10 min on one CPU thread
    python benchmarks/video_lvmae.py --only-speed     # throughput, memory, extraction speed only
    python benchmarks/video.py --lvmae                # the same, from the video benchmark script

Writes ``benchmarks/results/video_lvmae.md``. The probe test set has 6 videos: one video is 0.167 of accuracy.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
CONFIGS = ROOT / "apps/video/lvmae/configs"
OUT = ROOT / "benchmarks/results/video_lvmae.md"
#: variant -> pretraining overrides (same epochs, data, width; depth 2 except where the schedule needs more)
VARIANTS = {
    "full, importance": [],
    "full, random": ["--model.model_options.masking", "random"],
    "local,full (window 8)": ["--model.model_options.schedule", "local,full",
                              "--model.model_options.mixer_options", '{"local": {"window": 8}}'],
    "mamba (bidirectional)": ["--model.model_options.schedule", "mamba"],
    "hyena": ["--model.model_options.schedule", "hyena"],
}


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "spanmix.apps.cli", "video", "lvmae", *args]


def _model_overrides(extra: list[str]) -> list[str]:
    return [a for i, a in enumerate(extra) if a.startswith("--model.model_options.") and "masking" not in a
            or (i and extra[i - 1].startswith("--model.model_options.") and "masking" not in extra[i - 1])]


def _metric(root: Path, key: str) -> float:
    values = []
    for path in sorted(root.glob("csv/version_*/metrics.csv")):
        with open(path, newline="") as f:
            values += [float(r[key]) for r in csv.DictReader(f) if r.get(key)]
    return values[-1] if values else float("nan")


def run_variant(name: str, extra: list[str], workdir: Path) -> dict:
    slug = "".join(c if c.isalnum() else "_" for c in name).strip("_")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    quiet = ["--trainer.enable_progress_bar", "false"]
    t = time.time()
    subprocess.run(_cli("fit", "--config", str(CONFIGS / "lvmae_composite_tiny.yaml"), *extra, "--experiment", slug,
                        *quiet), cwd=workdir, env=env, check=True, capture_output=True)
    fit_s = time.time() - t
    subprocess.run(_cli("test", "--config", str(CONFIGS / "lvmae_composite_tiny.yaml"), *extra, "--experiment", slug,
                        "--ckpt_path", "best", *quiet), cwd=workdir, env=env, check=True, capture_output=True)
    ckpt = workdir / "runs/video_lvmae" / slug / "checkpoints/last.ckpt"
    probe = slug + "_probe"
    subprocess.run(_cli("probe", "--config", str(CONFIGS / "probe_composite_tiny.yaml"), *_model_overrides(extra),
                        "--model.pretrained", str(ckpt), "--experiment", probe, *quiet),
                   cwd=workdir, env=env, check=True, capture_output=True)
    pre, pro = workdir / "runs/video_lvmae" / slug, workdir / "runs/video_lvmae_probe" / probe
    return {"variant": name, "test_loss": _metric(pre, "test/loss"), "val_loss": _metric(pre, "val/loss"),
            "probe_val_acc": _metric(pro, "val/acc"), "probe_test_acc": _metric(pro, "test/acc"), "fit_s": fit_s}


def _cases() -> list[tuple[str, dict, int]]:
    tiny = dict(input_dim=96, dim=64, depth=2, heads=4, decoder_dim=32, decoder_depth=1, decoder_heads=4,
                mixer_options={"local": {"window": 8}})
    cases = [(f"tiny, {s}", {**tiny, "schedule": s}, 8) for s in ("full", "local,full", "mamba", "hyena")]
    cases.append(("paper size (429M), full", {"input_dim": 1024, "depth": 32, "heads": 16, "decoder_dim": 512,
                                               "decoder_depth": 8, "decoder_heads": 16}, 1))
    return cases


def one_case(i: int) -> dict:
    """Measured in a fresh process (``--one i``) so that peak memory is this case's alone."""
    import torch

    from _measure import measure
    from spanmix.apps.video.models.lvmae import LVMAE

    torch.set_num_threads(1)
    name, opts, batch = _cases()[i]
    torch.manual_seed(0)
    model = LVMAE(**opts)
    x = torch.nn.functional.normalize(torch.randn(batch, 256, model.input_dim), dim=-1)

    def step():
        model.zero_grad(set_to_none=True)
        model(x)["loss"].backward()

    m = measure(step, repeats=3, budget_s=60)
    return {"model": name, "batch": batch, "seconds": m["seconds"], "segments_per_s": batch * 256 / m["seconds"],
            "peak_mib": m["peak_mib"], "params": sum(p.numel() for p in model.parameters())}


def throughput() -> list[dict]:
    from _measure import in_subprocess

    return [in_subprocess(__file__, str(i)) for i in range(len(_cases()))]


def extraction_speed() -> dict:
    from spanmix.apps.video.lvmae.cache import EmbeddingCache
    from spanmix.apps.video.lvmae.encoders import build_encoder
    from spanmix.apps.video.lvmae.segments import iter_segments
    from spanmix.datasets.long_video import composite_videos

    videos = composite_videos("test")
    minutes = sum(v.extra["duration"] for v in videos) / 60
    t = time.perf_counter()
    for v in videos:
        for _ in iter_segments(v.video, 5.0, 8):
            pass
    decode = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        for v in videos:
            EmbeddingCache(d).extract(v.video, build_encoder("hist"))
        total = time.perf_counter() - t
    return {"minutes": minutes, "decode_s_per_min": decode / minutes, "total_s_per_min": total / minutes}


def write(variants: list[dict], speed: list[dict], extract: dict) -> None:
    lines = ["# Video benchmarks: LV-MAE", "",
             "`python benchmarks/video_lvmae.py` on this machine's CPU (one thread; 2 cores shared with other jobs). "
             "Data: the **COMPOSITED** long videos (real clips cut and concatenated; 24/6/6 videos), the fixed `hist` "
             "encoder (colour/gradient histograms, 96-d). Pretraining: `lvmae_composite_tiny.yaml` (40 epochs); probe: "
             "attentive, `probe_composite_tiny.yaml` (30 epochs). One seed. The probe test set has 6 videos "
             "(one video = 0.167), so differences under ~0.33 are noise.", ""]
    if variants:
        lines += ["## Masking and encoder-body mixer, same budget", "",
                  "| variant | val masked MSE | test masked MSE | probe val acc | probe test acc | fit s |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {r['variant']} | {r['val_loss']:.5f} | {r['test_loss']:.5f} | {r['probe_val_acc']:.3f} | "
                  f"{r['probe_test_acc']:.3f} | {r['fit_s']:.0f} |" for r in variants]
        lines += ["", "The masked MSE of random and importance masking are not comparable with each other (they "
                  "mask different segments); compare the probes. `fit s` is wall time on the shared machine (other jobs ran alongside), not a speed measurement.", ""]
    lines += ["## Pretraining step (forward + backward, no optimiser) at 256 segment tokens", "",
              "| model | parameters | batch | s / step | segments / s | peak extra MiB (own process) |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['params']:,} | {r['batch']} | {r['seconds']:.3f} | {r['segments_per_s']:.0f} | "
              f"{r['peak_mib']:.0f} |" for r in speed]
    lines += ["", "## Embedding extraction (the 6 test videos, 96x72 at 10 fps, hist encoder, 8 frames per segment)", "",
              f"- {extract['minutes']:.1f} min of video: decoding + segmenting {extract['decode_s_per_min']:.2f} s per "
              f"minute of video; with the encoder and the cache writes {extract['total_s_per_min']:.2f} s per minute.",
              "- Full-resolution video decodes far slower than these 96x72 clips; the encoder cost of a network "
              "encoder is not included.", ""]
    OUT.write_text("\n".join(lines))
    print(OUT)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only-speed", action="store_true")
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    ns = parser.parse_args(argv)
    if ns.one is not None:
        print(json.dumps(one_case(ns.one)))
        return 0
    variants = []
    if not ns.only_speed:
        with tempfile.TemporaryDirectory() as d:
            for name, extra in VARIANTS.items():
                variants.append(run_variant(name, extra, Path(d)))
                print(json.dumps(variants[-1]), flush=True)
    write(variants, throughput(), extraction_speed())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
